#!/usr/bin/env python3
"""Prints the results table(s) from <work>/results/*.json.

Copied from the team's peer benchmark (shared/bench/report.py); added here:
cloesce-npm, peak RSS per case, and the ideal step count in the steps table
(a `*` marks a case that ran more than a content-based cache must), and
CPU seconds per case.

Usage: report.py [--work /tmp/bench-work] [--baseline ninja] [--md]
"""
import argparse
import glob
import json
import os

CASES = ["cold", "noop", "incr", "revert", "touch"]
ORDER = ["ninja", "make", "turbo", "nx", "wireit", "task", "cloesce", "cloesce-npm"]


def fmt_t(s):
    return "%.0fms" % (s * 1000) if s < 1 else "%.2fs" % s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/bench-work")
    ap.add_argument("--baseline", default="ninja")
    ap.add_argument("--md", action="store_true")
    a = ap.parse_args()
    res = {}
    for p in glob.glob(os.path.join(a.work, "results", "*.json")):
        r = json.load(open(p))
        res.setdefault(r["workload"], {})[r["tool"]] = r
    sep = " | " if a.md else "  "

    def row(cells, widths):
        if a.md:
            return "| " + " | ".join(cells) + " |"
        return sep.join(c.ljust(w) for c, w in zip(cells, widths))

    for wl in sorted(res):
        tools = sorted(res[wl], key=lambda t: ORDER.index(t) if t in ORDER else 99)
        base = res[wl].get(a.baseline)
        any_r = res[wl][tools[0]]
        print(("\n### " if a.md else "\n== ") + "%s (%d rules; probe %s, minimal incremental = %d steps)"
              % (wl, any_r["rules"], any_r["probe"], any_r["minimal"]))
        print("\nWall time, median (ratio of medians vs %s); peak RSS = largest process, max over reps\n"
              % a.baseline)
        hdr = ["tool"] + CASES + ["peak RSS"]
        widths = [11] + [16] * 5 + [10]
        print(row(hdr, widths))
        if a.md:
            print("|" + "---|" * len(hdr))
        for t in tools:
            cells = [t]
            for c in CASES:
                x = res[wl][t]["cases"][c]
                cell = fmt_t(x["median"])
                if base and t != a.baseline:
                    cell += " (x%.1f)" % (x["median"] / base["cases"][c]["median"])
                if not x["all_correct"]:
                    cell += " WRONG"
                cells.append(cell)
            cells.append("%.0f MB" % max(res[wl][t]["cases"][c]["rss_mb_max"] for c in CASES))
            print(row(cells, widths))
        print("\nWall time, min-max [reps]\n")
        hdr = ["tool"] + CASES
        widths = [11] + [22] * 5
        print(row(hdr, widths))
        if a.md:
            print("|" + "---|" * len(hdr))
        for t in tools:
            cells = [t]
            for c in CASES:
                x = res[wl][t]["cases"][c]
                cells.append("%s-%s [%d]" % (fmt_t(x["min"]), fmt_t(x["max"]), x["n"]))
            print(row(cells, widths))
        print("\nCPU seconds (user+sys of the whole process tree), median; steadier than wall "
              "time on a shared host\n")
        hdr = ["tool"] + CASES
        widths = [11] + [8] * 5
        print(row(hdr, widths))
        if a.md:
            print("|" + "---|" * len(hdr))
        for t in tools:
            print(row([t] + ["%.3f" % res[wl][t]["cases"][c]["cpu_median"] for c in CASES], widths))
        print("\nPeak RSS (MB, largest process, max over reps)\n")
        hdr = ["tool"] + CASES
        widths = [11] + [8] * 5
        print(row(hdr, widths))
        if a.md:
            print("|" + "---|" * len(hdr))
        for t in tools:
            print(row([t] + ["%.1f" % res[wl][t]["cases"][c]["rss_mb_max"] for c in CASES], widths))
        ideal = {c: any_r["cases"][c].get("ideal", "?") for c in CASES}
        print("\nSteps that actually executed (per rep; 'then' = steps on the next plain rebuild, "
              "must be 0; ideal: %s; * = more than ideal)\n"
              % ", ".join("%s %s" % (c, ideal[c]) for c in CASES))
        hdr = ["tool", "cold", "noop", "incr", "revert", "touch"]
        widths = [11, 8, 8, 22, 22, 8]
        print(row(hdr, widths))
        if a.md:
            print("|" + "---|" * len(hdr))
        for t in tools:
            cs = res[wl][t]["cases"]

            def st(c):
                s = ",".join(str(v) for v in sorted(set(cs[c]["steps"])))
                if c in ("incr", "revert"):
                    s += " then " + ",".join(str(v) for v in sorted(set(cs[c]["followup_steps"])))
                return s + ("" if cs[c].get("minimal", True) else " *")
            print(row([t] + [st(c) for c in CASES], widths))
    print("\nVersions: " + ", ".join(sorted({"%s %s" % (r["tool"], r["version"])
                                             for w in res.values() for r in w.values()})))


if __name__ == "__main__":
    main()
