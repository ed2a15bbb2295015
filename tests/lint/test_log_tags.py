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


def test_the_tools_tag_in_their_ranges():
    dirs = by_dir(c_sources())
    calls = {"vcron": (r"\bvc_log(?:_fd)?\((?:[^,()]+,\s*)?(\d+)\s*,", 200, 299),
             "vmoodlectl": (r"\bvmc_(?:error|fail)\((\d+)\s*,", 300, 999)}
    for name, (pattern, base, top) in calls.items():
        numbers = [int(n) for text in dirs[name].values()
                   for n in re.findall(pattern, text)]
        assert numbers, f"no tagged lines found in {name}/"
        bad = [n for n in numbers if not base <= n <= top]
        assert not bad, f"{name}: tags outside VM{base:05d}-: {bad}"


def test_readme_names_the_ranges():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme[readme.index("## Log tags"):]
    for words in ("VM00001", "vcron VM00200", "vmoodlectl VM00300"):
        assert words in section, words
