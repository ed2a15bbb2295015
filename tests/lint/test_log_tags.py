"""Log tags, as the README's "Log tags" section says: every line starts
with one VMnnnnn tag, put there by the program that writes the line
(module VM00001-VM00199, vcron VM00200-VM00299, vmoodlectl VM00300-VM00999); the core's
reasons carry none, so a line never reads "VM00010: ...: VM00102: ..."."""
import collections
import os
import re

from test_apr_formats import ROOT, c_sources

TAG = re.compile(r"VM\d{5}")


def by_dir(sources):
    out = collections.defaultdict(dict)
    for path, text in sources.items():
        top = path.split(os.sep)[0]
        out["module" if top.startswith("mod_vmoodle") else top][path] = text
    return out


def test_the_core_returns_untagged_reasons():
    core = by_dir(c_sources())["core"]
    assert core, "core/ not found"
    tagged = [f"{path}: {m.group(0)}" for path, text in core.items()
              for m in TAG.finditer(text)]
    assert not tagged, "tags in the core:\n" + "\n".join(tagged)


def test_the_module_tags_with_vmlogno_once_per_call():
    module = by_dir(c_sources())["module"]
    numbers = [int(n) for text in module.values()
               for n in re.findall(r"VMLOGNO\((\d{5})\)", text)]
    literal = [path for path, text in module.items() if TAG.search(text)]
    assert numbers and not literal, f"literal tags in {literal}"
    assert all(1 <= n <= 199 for n in numbers), numbers
    repeated = [n for n, k in collections.Counter(numbers).items() if k > 1]
    assert not repeated, f"tags used twice: {repeated}"


# Where each program's tag is: the argument (0-based) of its log calls.
TOOL_CALLS = {"vcron": {"vc_log": 0, "vc_log_fd": 1},
              "vmoodlectl": {"vmc_error": 0, "vmc_fail": 0}}
RANGES = {"module": (1, 199), "vcron": (200, 299), "vmoodlectl": (300, 999)}
# Tags deliberately written at several call sites: the same message (the
# same words, the reason appended), as the README's "Log tags" says.
SAME_MESSAGE = {
    "vcron": {200: "a usage or configuration error, and its reason",
              203: "a local file (state, folders) failed, and its reason",
              209: "a cron's figures not recorded, and why"},
    "vmoodlectl": {431: "an unknown option, and where the options are"},
}


def call_args(text, start):
    """The arguments of the call whose '(' is at start, split at depth 0."""
    args, depth, cur = [], 0, ""
    for ch in text[start + 1:]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return args + [cur]
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(cur)
            cur = ""
            continue
        cur += ch
    return args


def tags(name, text):
    """(tag, line) of every log call in one of the tools' files; a tag
    chosen by a condition (a ? 202 : 200) counts each of its numbers."""
    calls = TOOL_CALLS[name]
    pattern = re.compile(r"\b(" + "|".join(calls) + r")\s*\(")
    out = []
    for m in pattern.finditer(text):
        if re.match(r"\s*(void|int)\b", text[m.end():]) or \
                text[:m.start()].rstrip().endswith(("void", "int")):
            continue                  # the definition, not a call
        args = call_args(text, m.end() - 1)
        tag = args[calls[m.group(1)]] if len(args) > calls[m.group(1)] else ""
        line = text.count("\n", 0, m.start()) + 1
        out += [(int(n), line) for n in re.findall(r"\b\d+\b", tag)]
    return out


def tool_tags(name):
    return [(n, f"{path}:{line}") for path, text in by_dir(c_sources())[name].items()
            for n, line in tags(name, text)]


def test_the_tools_tag_in_their_ranges():
    for name in TOOL_CALLS:
        base, top = RANGES[name]
        numbers = [n for n, _ in tool_tags(name)]
        assert numbers, f"no tagged lines found in {name}/"
        bad = [n for n in numbers if not base <= n <= top]
        assert not bad, f"{name}: tags outside VM{base:05d}-: {bad}"


def test_each_tag_has_one_call_site():
    """A line's tag finds the one place that wrote it, across the three
    programs (their ranges do not overlap)."""
    repeated = []
    for name in TOOL_CALLS:
        sites = collections.defaultdict(list)
        for n, where in tool_tags(name):
            sites[n].append(where)
        repeated += [f"VM{n:05d}: {', '.join(w)}" for n, w in sorted(sites.items())
                     if len(w) > 1 and n not in SAME_MESSAGE.get(name, {})]
    assert not repeated, "tags written at several places:\n" + "\n".join(repeated)


def test_the_same_message_allowlist_is_still_needed():
    for name, allowed in SAME_MESSAGE.items():
        counts = collections.Counter(n for n, _ in tool_tags(name))
        stale = [n for n in allowed if counts[n] < 2]
        assert not stale, f"{name}: allowed reuse no longer used: {stale}"


def test_readme_names_the_ranges():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme[readme.index("## Log tags"):]
    for words in ("VM00001", "vcron VM00200", "vmoodlectl VM00300"):
        assert words in section, words
