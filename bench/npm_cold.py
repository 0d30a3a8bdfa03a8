#!/usr/bin/env python3
"""Cold w2 builds of the npm package against the native binary, interleaved.

Each rep runs, one after the other on the same machine state: the native
binary, then each npm variant, every one from a cold state (.cloesce/ and
out/ removed). Per run: wall time, CPU of the whole process tree (wait4:
cloesce, the spawner and every rule) and, for npm, Node's own CPU
(process.cpuUsage() at exit, via a `node -r` preload). Medians and per-rep
wall ratios against native are printed. Used for docs/performance.md,
"npm: start-up and the cold build".

  python3 bench/bench.py --work /tmp/bench-npm --tools cloesce,cloesce-npm \
      --workloads w2 --paired-cold 1      # lays out the two w2 copies
  CLOESCE_BIN=target/release/cloesce python3 bench/npm_cold.py /tmp/bench-npm 5 \
      [main=/path/to/other/package ...]

Variants: `npm` (this repo's package, spawner on by default), `npm, spawner
off` (CLOESCE_SPAWNER=node), and one per NAME=PACKAGE_DIR argument.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "..", "npm-wrapper", "package")
PRELOAD = ("process.on('exit', () => { const u = process.cpuUsage(); "
           "require('fs').writeFileSync(process.env.CPU_SELF_FILE, String((u.user + u.system) / 1e6)); });\n")


def main():
    work, reps = sys.argv[1], int(sys.argv[2])
    others = [a.split("=", 1) for a in sys.argv[3:]]
    tmp = tempfile.mkdtemp(prefix="npm-cold-")
    preload = os.path.join(tmp, "cpu.js")
    with open(preload, "w") as f:
        f.write(PRELOAD)
    self_file = os.path.join(tmp, "self")
    npm_ws = os.path.join(work, "cloesce-npm", "w2", "pkg")
    native_ws = os.path.join(work, "cloesce", "w2", "pkg")
    run = ["run", "--jobs", os.environ.get("BENCH_JOBS", "2"), "-q"]
    node = lambda pkg: ["node", "-r", preload, os.path.join(pkg, "bin", "cloesce.js")] + run
    variants = {"native": ([os.environ["CLOESCE_BIN"]] + run, native_ws, {})}
    for name, pkg in others:
        variants["npm " + name] = (node(pkg), npm_ws, {})
    variants["npm, spawner off"] = (node(PKG), npm_ws, {"CLOESCE_SPAWNER": "node"})
    variants["npm"] = (node(PKG), npm_ws, {})
    res = {k: {"wall": [], "cpu": [], "self": []} for k in variants}
    for rep in range(reps):
        for name, (argv, cwd, env) in variants.items():
            for sub in (".cloesce", "out"):
                shutil.rmtree(os.path.join(cwd, sub), ignore_errors=True)
            if os.path.exists(self_file):
                os.unlink(self_file)
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, cwd=cwd, env={**os.environ, "CPU_SELF_FILE": self_file, **env},
                                 stdout=subprocess.DEVNULL)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            if status != 0 or len(os.listdir(os.path.join(cwd, "out"))) == 0:
                sys.exit("%s: exit status %d or no output" % (name, status))
            r = res[name]
            r["wall"].append(wall)
            r["cpu"].append(ru.ru_utime + ru.ru_stime)
            if os.path.exists(self_file):
                r["self"].append(float(open(self_file).read()))
            print("rep %d %-18s %.2fs wall %.2fs cpu" % (rep, name, wall, r["cpu"][-1]), flush=True)
    nat = res["native"]
    for name, r in res.items():
        ratios = [w / n for w, n in zip(r["wall"], nat["wall"])]
        print("%-18s wall %.2fs (%.2fx; reps %s)  cpu %.2fs (%.2fx)  node's own cpu %s" % (
            name, statistics.median(r["wall"]), statistics.median(r["wall"]) / statistics.median(nat["wall"]),
            " ".join("%.2f" % x for x in ratios), statistics.median(r["cpu"]),
            statistics.median(r["cpu"]) / statistics.median(nat["cpu"]),
            "%.2fs" % statistics.median(r["self"]) if r["self"] else "-"))
    with open(os.path.join(work, "npm-cold-%d.json" % time.time()), "w") as f:
        json.dump(res, f, indent=1)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
