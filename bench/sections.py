"""The marked sections of bench/RESULTS.md each bench script writes."""
import os
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def write_section(table, begin, end, heading, script):
    """Replace (or add) the section between begin and end."""
    text = open(RESULTS).read() if os.path.exists(RESULTS) else ""
    block = (f"{begin}\n## {heading}\n\n"
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"`{script}`.\n\n{table}{end}")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(RESULTS, "w") as f:
        f.write(text)
