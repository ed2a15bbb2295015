"""APR's formatters (apr_psprintf, apr_snprintf, ap_log_error, ...) do not
know the C99 length modifier "ll": apr_psprintf(p, "%llu", n) prints a
literal "%lu" (or worse, reads the wrong argument).  64-bit values go
through APR_INT64_T_FMT / APR_UINT64_T_FMT.  This reads every C file of
the tree and fails on "%ll" in a format handed to an APR formatter, or to
one of our own variadic functions that hands its format on to one."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SKIP_DIRS = {".git", "build", "build-sanitize", "build-fuzz", "corpus",
             "corpus-run", "__pycache__"}

# APR's and httpd's functions that format with apr_vformatter.
APR_FORMATTERS = r"apr_\w*printf|apr_vformatter|ap_rprintf|ap_log_\w*error"
# What makes one of our functions a wrapper: it passes its va_list on.
APR_VFORMATTERS = re.compile(r"\b(apr_pvsprintf|apr_vsnprintf|apr_vformatter)"
                             r"\s*\(")
VARIADIC_DEF = re.compile(r"\b(\w+)\s*\([^;{}()]*\.\.\.\s*\)\s*"
                          r"(?:__attribute__\s*\(\(.*?\)\)\s*)?\{", re.S)
# String literals, and the macros pasted between them (APR_INT64_T_FMT),
# which end a conversion rather than vanish.
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\b[A-Z][A-Z0-9_]*\b')
LONG_LONG = re.compile(r"%[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?ll")


def strip_comments(text):
    """Comments out, strings kept, line numbers unchanged."""
    def blank(m):
        s = m.group(0)
        return s if s.startswith(('"', "'")) else re.sub(r"[^\n]", " ", s)
    return re.sub(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|'
                  r"/\*.*?\*/|//[^\n]*", blank, text, flags=re.S)


def call_args(text, start):
    """The text between the parenthesis at start and its match."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c in "\"'":
            m = re.compile(r'%s(?:[^%s\\\n]|\\.)*%s' % (c, c, c)).match(text, i)
            i = m.end() if m else i + 1
            continue
        depth += c == "("
        depth -= c == ")"
        i += 1
        if depth == 0:
            return text[start + 1:i - 1]
    return text[start + 1:]


def body_after(text, brace):
    """The block that starts at the brace."""
    return "{" + call_args(text.replace("{", "(").replace("}", ")"), brace) + "}"


def wrappers(sources):
    """Our variadic functions that format with an APR formatter."""
    names = set()
    for text in sources.values():
        for m in VARIADIC_DEF.finditer(text):
            if APR_VFORMATTERS.search(body_after(text, m.end() - 1)):
                names.add(m.group(1))
    return names


def long_long_formats(text, formatters):
    """(line, call text) of every call to formatters with %ll in a string."""
    calls = re.compile(r"\b(%s)\s*\(" % formatters)
    found = []
    for m in calls.finditer(text):
        args = call_args(text, m.end() - 1)
        literal = "".join(m.group(1) if m.group(1) is not None else "\x01"
                          for m in LITERAL.finditer(args)).replace("%%", "")
        if LONG_LONG.search(literal):
            found.append((text.count("\n", 0, m.start()) + 1,
                          m.group(0) + args.strip()[:60]))
    return found


def c_sources():
    out = {}
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            if name.endswith((".c", ".h")):
                path = os.path.join(top, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    out[os.path.relpath(path, ROOT)] = strip_comments(f.read())
    return out


def check(sources):
    names = sorted(wrappers(sources))
    formatters = "|".join([APR_FORMATTERS] + names)
    return [f"{path}:{line}: {call}"
            for path, text in sorted(sources.items())
            for line, call in long_long_formats(text, formatters)]


def test_no_long_long_in_apr_formats():
    sources = c_sources()
    assert len(sources) > 50, "the tree's C files were not found"
    bad = check(sources)
    assert not bad, "%ll in an APR format (use APR_INT64_T_FMT):\n" + \
        "\n".join(bad)


def test_the_check_finds_a_planted_one():
    """The check itself: direct calls, wrappers, and what must pass."""
    planted = {
        "a.c": 'x = apr_psprintf(p, "%s: %llu B",\n    s, n);\n',
        "b.c": ('static const char *say(apr_pool_t *p, const char *fmt, ...)\n'
                '{\n    va_list ap;\n    return apr_pvsprintf(p, fmt, ap);\n}\n'
                'void f(void) { say(p, "id %" "lld", id); }\n'),
        "c.c": ('ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "VM00001: "\n'
                '             "%-6lld", x);\n'),
        "ok.c": ('printf("%lld", x);  /* apr_psprintf(p, "%lld") */\n'
                 'apr_psprintf(p, "%" APR_INT64_T_FMT " 100%%ll", x);\n'
                 'snprintf(b, n, "%llu", x);\n'),
    }
    found = check({k: strip_comments(v) for k, v in planted.items()})
    assert [f.split(":")[0] + ":" + f.split(":")[1] for f in found] == \
        ["a.c:1", "b.c:6", "c.c:1"], found
