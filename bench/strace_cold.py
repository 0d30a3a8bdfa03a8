#!/usr/bin/env python3
"""One cold build of a workload by a cloesce binary under `strace -f`: the
system-call summary, and the files it made, by kind (store and state files
written through a temporary file, pack files, the rules' outputs, folders).

    python3 bench/strace_cold.py BINARY [--workload w3] [--work /tmp/bench-strace]

Prints the counts and leaves the summary and the trace in /tmp/strace-<tag>.*
(tag: the binary's file name). Counts do not depend on the machine's load.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from drivers import cloesce as drv  # noqa: E402


def kind_of(name):
    if re.search(r"(^|/)[0-9]+\.[0-9]+$", name):
        return "store/state file (temporary file renamed into place)"
    if name.endswith(".pack"):
        return "pack (opened to append; the first open creates it)"
    if "/out/" in name or name.startswith("out/"):
        return "rule output (by the rule)"
    return "other: " + re.sub(r"[0-9]+", "N", name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--workload", default="w3")
    ap.add_argument("--work", default="/tmp/bench-strace")
    args = ap.parse_args()
    drv.BIN = os.path.abspath(args.binary)
    b = bench.Bench(drv, args.workload, args.work)
    argv, cwd, _ = drv.build_cmd(b.spec, b.ws, b.pkg)
    out = "/tmp/strace-%s" % os.path.basename(args.binary)
    b.wipe()
    subprocess.run(["strace", "-f", "-c", "-o", out + ".summary"] + argv, cwd=cwd, check=True)
    b.wipe()
    subprocess.run(["strace", "-f", "-e", "trace=openat,openat2,creat", "-o", out + ".trace"]
                   + argv, cwd=cwd, check=True)
    made = collections.Counter()
    for line in open(out + ".trace"):
        if "O_CREAT" in line and "= -1" not in line:
            m = re.search(r'"([^"]*)"', line)
            made[kind_of(m.group(1) if m else "?")] += 1
    for kind, n in sorted(made.items()):
        print("%6d  %s" % (n, kind))
    for line in open(out + ".summary"):
        if re.search(r"\b(rename|renameat|renameat2|mkdir|mkdirat|total)\s*$", line):
            print(line.rstrip())


if __name__ == "__main__":
    main()
