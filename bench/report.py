"""The one table `make bench` prints and writes to bench/RESULTS.md: each
figure beside its target.  It reports; a missed target is not a failure."""
import time

import callgrind
import sections
import httpphase
import phpside
import refresh


def _ms(us):
    return f"{us / 1000:.2f} ms"


def _rate(r):
    return (f"{r['rps']:,.0f} req/s, p50 {_ms(r['p50_us'])}, "
            f"p99 {_ms(r['p99_us'])}")


def _verdict(ok):
    return "met" if ok else "**missed**"


def target_row(figure, value, target, ok):
    return [figure, value, target, "" if ok is None else _verdict(ok)]


def http_rows(http):
    rows = []
    for n, res in http.items():
        if isinstance(res, str):
            rows.append([f"HTTP at {n:,} hosts", res, "", ""])
            continue
        for key, r in res.items():
            lo, hi = r["ratio_range"]
            ratio = ("" if key == "a" else
                     f"{r['ratio']:.3f} of (a) (rounds {lo:.2f}-{hi:.2f}); ")
            rows.append([f"{httpphase.LABELS[key]}, {n:,} hosts",
                         ratio + _rate(r), "", ""])
    return rows


def http_targets(http):
    res = http.get(100000)
    if not isinstance(res, dict) or "b" not in res:
        why = res if isinstance(res, str) else "not measured: no mod_vmoodle"
        return [target_row("mod_vmoodle / ceiling, 100,000 hosts", why, ">= 0.98", None),
                target_row("mod_vmoodle / RewriteMap dbm:, 100,000 hosts", why, ">= 1.5x", None)]
    vs_ceiling = res["b"]["ratio"]
    vs_dbm = res["b"]["ratio"] / res["c"]["ratio"]
    return [target_row("mod_vmoodle / ceiling, 100,000 hosts",
                       f"{vs_ceiling:.3f}", ">= 0.98", vs_ceiling >= 0.98),
            target_row("mod_vmoodle / RewriteMap dbm:, 100,000 hosts",
                       f"{vs_dbm:.2f}x", ">= 1.5x", vs_dbm >= 1.5)]


def php_rows(php):
    if isinstance(php, str):
        return [["PHP page through php-fpm", php, "", ""]]
    rows = []
    for key, r in php.items():
        ratio = "" if key == "e" else f"{r['ratio']:.2f}x (e); "
        rows.append([f"{phpside.LABELS[key]}, {phpside.PHP_HOSTS:,} hosts",
                     ratio + _rate(r), "", ""])
    return rows


def core_rows(core):
    if isinstance(core, str):
        return [["core figures", core, "", ""]]
    rows = []
    for c in core:
        compile_s = c["build_s"] + c["image_s"] + c["write_s"]
        big = c["instances"] == 1000000
        rows.append(target_row(
            f"snapshot compile, {c['instances']:,} instances",
            f"{compile_s:.2f} s (validate {c['build_s']:.2f} + image "
            f"{c['image_s']:.2f} + write {c['write_s']:.2f}), file "
            f"{c['file_bytes'] / 2**20:.1f} MiB",
            "< 5 s" if big else "", compile_s < 5 if big else None))
        if c["lookups"]:
            ns = c["lookup_ns"]
            target = c["instances"] == 1000000
            rows.append(target_row(
                f"lookup, {c['instances']:,} instances (random keys)",
                f"{ns:.0f} ns", "< 150 ns" if target else "",
                ns < 150 if target else None))
    return rows


def memory_rows(mem):
    if isinstance(mem, str):
        return [target_row("memory added per child, 100,000 instances", mem,
                           "< 64 KiB", None)]
    rows = []
    for k in (2, 4):
        w, wo = mem[k]["with"], mem[k]["without"]
        rows.append([f"child memory with/without module, {k} children",
                     f"Pss {w['Pss']:,.0f}/{wo['Pss']:,.0f} KiB, "
                     f"Rss {w['Rss']:,.0f}/{wo['Rss']:,.0f} KiB, "
                     f"private {w['Private']:,.0f}/{wo['Private']:,.0f} KiB",
                     "", ""])
    rows.append(["memory the module adds to the whole server (all processes' "
                 "Pss, 2 children)",
                 f"{mem['server_kib'] / 1024:,.0f} MiB; parent Rss "
                 f"{mem[2]['with']['parent_rss'] / 1024:,.0f} MiB with, "
                 f"{mem[2]['without']['parent_rss'] / 1024:,.0f} MiB without", "", ""])
    added = mem["per_child_kib"]
    rows.append(target_row("memory added per extra child, 100,000 instances "
                           "(total Pss slope, 2 -> 4 children)",
                           f"{added:,.0f} KiB", "< 64 KiB", added < 64))
    return rows


def _times(res):
    return (f"median {res['median_s']:.2f} s, max {res['max_s']:.2f} s "
            f"({res['trials']} trials)")


def refresh_rows(poll, notify):
    """Polling at 1,000 (beside) and 100,000 (target); NOTIFY at 1,000
    (target) and 100,000 (beside)."""
    rows = []
    small = poll.get("small") if isinstance(poll, dict) else None
    if small:
        rows.append(["change served, polling, VMoodleRefresh 1, "
                     f"{refresh.SMALL:,} instances", _times(small), "", ""])
    notify_label = (f"PostgreSQL NOTIFY, VMoodleRefresh {refresh.NOTIFY_REFRESH}, "
                    f"{refresh.NOTIFY_HOSTS:,} instances")
    for label, res, limit in ((f"polling, VMoodleRefresh 1, {refresh.HOSTS:,} "
                               "instances", poll, 2.0),
                              (notify_label, notify, 0.3)):
        figure = f"change served, {label}"
        if isinstance(res, str):
            rows.append(target_row(figure, res, f"< {limit} s", None))
        else:
            rows.append(target_row(figure, _times(res), f"< {limit} s",
                                   res["max_s"] < limit))
    large = notify.get("large") if isinstance(notify, dict) else None
    if large:
        rows.append([f"change served, PostgreSQL NOTIFY, {refresh.HOSTS:,} "
                     "instances", _times(large), "", ""])
    return rows


def callgrind_rows(cg):
    figure = ("instructions per request added by routing (callgrind, "
              "Apache -X, 100,000 hosts)")
    if isinstance(cg, str) or "b" not in cg:
        why = cg if isinstance(cg, str) else "not measured: no mod_vmoodle"
        return [target_row(figure, why, "< 2,000", None)]
    a = cg["a"]["per_request"]
    text = "; ".join(f"{callgrind.LABELS[k]} {v['per_request']:,.0f}"
                     + ("" if k == "a" else f" (+{v['per_request'] - a:,.0f})")
                     for k, v in cg.items())
    added = cg["b"]["per_request"] - a
    rows = [["instructions per request (callgrind, Apache -X, 100,000 "
             f"hosts, {cg['b']['requests']:,} requests each)", text, "", ""],
            target_row(figure, f"{added:,.0f}", "< 2,000", added < 2000)]
    return rows + kind_rows(cg["b"].get("kinds", {}), a) + counting_rows(cg)


def kind_rows(kinds, a):
    """Issue 21: each kind of request's routing cost, against serving the
    file with no routing at all (an alias answers a 301 instead)."""
    rows = []
    for key, label in callgrind.KINDS.items():
        if key not in kinds:
            continue
        added = kinds[key]["per_request"] - a
        rows.append(target_row(
            f"instructions per request added by routing: {label} "
            f"({callgrind.PATH_HOSTS:,} hosts with a path site and an alias)",
            f"{kinds[key]['per_request']:,.0f} ({added:+,.0f})", "< 2,000",
            added < 2000))
    return rows


def counting_rows(cg):
    """The per-site counters' share: mod_vmoodle with and without them."""
    figure = ("instructions per request added by the per-site counters "
              "(callgrind, VMoodleMetrics On - Off)")
    if "m" not in cg:
        return [target_row(figure, "not measured", "< 150", None)]
    added = cg["b"]["per_request"] - cg["m"]["per_request"]
    return [target_row(figure, f"{added:,.0f}", "< 150", added < 150)]


CG_BEGIN, CG_END = "<!-- bench:callgrind:begin -->", "<!-- bench:callgrind:end -->"


def callgrind_table(cg):
    """Routing's cost per kind of request and the counters', each beside
    its target: its own section of RESULTS.md, which `make bench` and
    `make bench-callgrind` (this part alone) both write."""
    lines = ["| figure | measured | target | |", "|---|---|---|---|"]
    rows = callgrind_rows(cg if cg else "not measured")
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def write_callgrind_section(table):
    sections.write_section(table, CG_BEGIN, CG_END,
                           "Instructions per request (issues 14, 21, 22)",
                           "bench/callgrind.py")


def cron_rows(cron):
    figure = "generations made by 1,000 cron runs (vcron, JSON table)"
    if isinstance(cron, str):
        return [target_row(figure, cron, "0", None)]
    return [target_row(figure, f"{cron['generations']} ({cron['seen']:,} runs "
                       f"counted on the status page, {cron['instances']:,} "
                       f"instances, {cron['seconds']:.0f} s)", "0",
                       cron["generations"] == 0 and cron["seen"] >= cron["runs"])]


def render(results):
    m = results["machine"]
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M %Z')} on {m['nproc']} x {m['cpu']}, "
        f"{m['memory']}, Linux {m['kernel']}; Apache {m['apache']} (event MPM), "
        f"PHP {m['php']} (php-fpm), PostgreSQL {m['postgresql']}, wrk {m['wrk']}.",
        "",
        "| figure | measured | target | |",
        "|---|---|---|---|",
    ]
    rows = (http_rows(results["http"]) + http_targets(results["http"])
            + php_rows(results["php"]) + core_rows(results["core"])
            + memory_rows(results["memory"])
            + refresh_rows(results["refresh_poll"], results["refresh_notify"])
            + cron_rows(results.get("cron", "not measured")))
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"
