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


# Each program's log calls must be found (a sanity check of what follows).
LOG_CALLS = {"vcron": ("vc_log", "vc_log_fd"),
             "vmoodlectl": ("vmc_error", "vmc_fail")}
# A function with an "int tag" parameter: the log calls, and any that hands
# the tag on to them (vmc_lifecycle_run(..., 765) logs 765 on failure).
TAG_PARAM = re.compile(r"\b(\w+)\s*\(([^()]*\bint\s+tag\b[^()]*)\)")
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


def tag_functions(sources):
    """name -> the index of its tag argument, for every function of sources
    declared with an "int tag" parameter."""
    found = {}
    for text in sources.values():
        for m in TAG_PARAM.finditer(text):
            params = [p.strip() for p in m.group(2).split(",")]
            found[m.group(1)] = next(
                i for i, p in enumerate(params)
                if re.fullmatch(r"(const\s+)?int\s+tag", p))
    return found


def tags(calls, text):
    """(tag, line) of every call in text to one of calls (name -> index of
    the tag); a tag chosen by a condition (a ? 202 : 200) counts each of
    its numbers, a tag passed as a variable none."""
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


def sources_tags(sources):
    """(tag, "path:line") of every tagged call in one program's sources."""
    calls = tag_functions(sources)
    return [(n, f"{path}:{line}") for path, text in sources.items()
            for n, line in tags(calls, text)]


def tool_tags(name):
    return sources_tags(by_dir(c_sources())[name])


def repeated_tags(found, allowed=()):
    """'VMnnnnn: where, where' of each tag written at more than one place."""
    sites = collections.defaultdict(list)
    for n, where in found:
        sites[n].append(where)
    return [f"VM{n:05d}: {', '.join(w)}" for n, w in sorted(sites.items())
            if len(w) > 1 and n not in allowed]


def test_the_log_calls_take_a_tag():
    for name, calls in LOG_CALLS.items():
        found = tag_functions(by_dir(c_sources())[name])
        assert set(calls) <= set(found), f"{name}: {sorted(found)}"


def test_the_tools_tag_in_their_ranges():
    for name in LOG_CALLS:
        base, top = RANGES[name]
        numbers = [n for n, _ in tool_tags(name)]
        assert numbers, f"no tagged lines found in {name}/"
        bad = [n for n in numbers if not base <= n <= top]
        assert not bad, f"{name}: tags outside VM{base:05d}-: {bad}"


def test_each_tag_has_one_call_site():
    """A line's tag finds the one place that wrote it, across the three
    programs (their ranges do not overlap)."""
    repeated = []
    for name in LOG_CALLS:
        repeated += repeated_tags(tool_tags(name), SAME_MESSAGE.get(name, {}))
    assert not repeated, "tags written at several places:\n" + "\n".join(repeated)


def test_the_lint_sees_a_tag_handed_on():
    """The check itself: a tag passed to a function that logs it later
    counts like a log call's; the variable in that function's own log call
    does not."""
    planted = {
        "a.h": "int run_steps(const char *head, int n, int tag);\n",
        "a.c": ("void log_it(int tag, const char *fmt, ...);\n"
                "int run_steps(const char *head, int n, int tag)\n"
                "{\n    log_it(tag, \"%s failed\", head);\n    return 1;\n}\n"
                "void f(void) { run_steps(\"move\", 3, 765); }\n"),
        "b.c": ("void g(int bad) {\n    log_it(bad ? 765 : 766, \"x\");\n"
                "    run_steps(\"copy\", 2, 767);\n}\n"),
    }
    found = sources_tags(planted)
    assert sorted(found) == [(765, "a.c:7"), (765, "b.c:2"), (766, "b.c:2"),
                             (767, "b.c:3")]
    assert repeated_tags(found) == ["VM00765: a.c:7, b.c:2"]


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
