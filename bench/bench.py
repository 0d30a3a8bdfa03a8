#!/usr/bin/env python3
"""Harness: runs every case of every workload for the chosen tool drivers.

Copied from the team's peer benchmark (shared/bench/bench.py); added here:
w4, the cloesce and cloesce-npm drivers, the ideal step count per case
(`ideal`, `minimal`), drivers' MAX_RULES, and --check (exit 1 on a wrong
output or a non-minimal rebuild; used by smoke.sh).

Usage: bench.py [--tools ninja,make,...] [--workloads w1,w2,w3,w4] [--reps 5]
                [--cold-reps 3] [--case-budget 90] [--work /tmp/bench-work]
                [--check] [--paired-cold REPS]

Cases (per tool x workload):
  cold    outputs + tool state/caches deleted, full build
  noop    nothing changed, rebuild
  incr    one leaf input's content changed (new content each rep), rebuild
  revert  input changed + built (untimed), then content restored, rebuild (timed)
  touch   one leaf input's mtime bumped, content identical, rebuild
Each timed build is a whole process: wall seconds, user+sys CPU seconds and
peak RSS of the largest single process in the tree (wait4 rusage), plus the
number of steps that really executed (step.sh appends to a run log) and a
check that every output holds the bytes it must hold.

Minimality: the ideal step count of a case is what a content-based,
caching tool must run: cold = every rule, incr = the probe's closure, and
noop / revert / touch = 0 (plus 0 on the follow-up build). mtime tools cannot
reach 0 on touch and revert; the tables show it rather than hide it.
"""
import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

ALL_TOOLS = ["ninja", "make", "turbo", "nx", "wireit", "task", "cloesce", "cloesce-npm"]
CASES = ["cold", "noop", "incr", "revert", "touch"]


def load_driver(name):
    return importlib.import_module("drivers." + name.replace("-", "_"))


def ideal_steps(case, spec):
    if case == "cold":
        return len(spec["rules"])
    if case == "incr":
        return len(spec["probe_closure"])
    return 0


def ensure_src(work, wl):
    src = os.path.join(work, "_src", wl)
    if not os.path.exists(os.path.join(src, "spec.json")):
        shutil.rmtree(src, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), wl, src, "@RUNLOG@"],
                       check=True)
    return src


def timed(argv, cwd, env, log):
    # /usr/bin/time (GNU time) reports the peak RSS of the largest process in
    # the tree (%M, from wait4); measuring it from a forked python would count
    # the python image itself.
    tfile = log + ".time"
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        p = subprocess.Popen(["/usr/bin/time", "-o", tfile, "-f", "%M %U %S"] + argv,
                             cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    last = open(tfile).read().strip().splitlines()[-1].split()
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": int(last[0]) / 1024.0,
            "rc": p.returncode}


class Bench:
    def __init__(self, drv, wl, work):
        self.drv, self.wl = drv, wl
        self.ws = os.path.join(work, drv.NAME, wl)
        self.pkg = os.path.join(self.ws, "pkg")
        self.runlog = os.path.join(work, drv.NAME, wl + ".runlog")
        self.buildlog = os.path.join(work, drv.NAME, wl + ".buildlog")
        src = ensure_src(work, wl)
        shutil.rmtree(self.ws, ignore_errors=True)
        os.makedirs(self.ws)
        shutil.copytree(src, self.pkg)
        stp = os.path.join(self.pkg, "step.sh")
        with open(stp) as f:
            body = f.read().replace("@RUNLOG@", self.runlog)
        with open(stp, "w") as f:
            f.write(body)
        self.spec = json.load(open(os.path.join(self.pkg, "spec.json")))
        drv.render(self.spec, self.ws, self.pkg)
        self.argv, self.cwd, extra = drv.build_cmd(self.spec, self.ws, self.pkg)
        self.env = dict(os.environ, **extra)
        self.probe = os.path.join(self.pkg, self.spec["probe_input"])
        self.orig = open(self.probe, "rb").read()
        self.rev = 0
        open(self.runlog, "w").close()

    def steps_so_far(self):
        with open(self.runlog) as f:
            return sum(1 for _ in f)

    def build(self, label):
        before = self.steps_so_far()
        r = timed(self.argv, self.cwd, self.env, self.buildlog)
        r["steps"] = self.steps_so_far() - before
        r["correct"] = self.verify()
        if r["rc"] != 0 or not r["correct"]:
            sys.stderr.write("!! %s %s %s: rc=%s correct=%s (log %s)\n" % (
                self.drv.NAME, self.wl, label, r["rc"], r["correct"], self.buildlog))
            sys.stderr.write(open(self.buildlog, errors="replace").read()[-2000:] + "\n")
        return r

    def verify(self):
        exp = gen.expected_outputs(self.pkg, self.spec)
        for p, data in exp.items():
            try:
                with open(os.path.join(self.pkg, p), "rb") as f:
                    if f.read() != data:
                        return False
            except FileNotFoundError:
                return False
        return True

    def write_probe(self, data):
        with open(self.probe, "wb") as f:
            f.write(data)

    def changed(self):
        self.rev += 1
        return self.orig + ("\n# rev %d %f\n" % (self.rev, time.time())).encode()

    def wipe(self):
        for d in self.spec["output_dirs"]:
            shutil.rmtree(os.path.join(self.pkg, d), ignore_errors=True)
        self.drv.clean_state(self.ws, self.pkg)

    # ---- cases: prepare (untimed) then one timed build ----
    def case_cold(self):
        self.wipe()
        return self.build("cold")

    def case_noop(self):
        return self.build("noop")

    def case_incr(self):
        self.write_probe(self.changed())
        r = self.build("incr")
        r["followup_steps"] = self.build("incr-followup")["steps"]  # must be 0
        return r

    def case_revert(self):
        self.write_probe(self.changed())
        self.build("revert-prep")
        time.sleep(0.01)
        self.write_probe(self.orig)
        r = self.build("revert")
        r["followup_steps"] = self.build("revert-followup")["steps"]  # must be 0
        return r

    def case_touch(self):
        t = time.time() + 1
        os.utime(self.probe, (t, t))
        return self.build("touch")

    def settle(self):
        """Back to the original input content and an up-to-date build."""
        if open(self.probe, "rb").read() != self.orig:
            self.write_probe(self.orig)
        self.build("settle")


def summarize(case, runs, spec):
    walls = [r["wall"] for r in runs]
    c = {
        "n": len(runs),
        "median": statistics.median(walls), "min": min(walls), "max": max(walls),
        "cpu_median": statistics.median(r["cpu"] for r in runs),
        "rss_mb_median": statistics.median(r["rss_mb"] for r in runs),
        "rss_mb_max": max(r["rss_mb"] for r in runs),
        "steps": [r["steps"] for r in runs],
        "followup_steps": [r.get("followup_steps", 0) for r in runs],
        "all_correct": all(r["correct"] and r["rc"] == 0 for r in runs),
        "ideal": ideal_steps(case, spec),
    }
    c["minimal"] = (all(s == c["ideal"] for s in c["steps"])
                    and all(s == 0 for s in c["followup_steps"]))
    return c


def report_case(tool, wl, case, c):
    print("%-7s %-3s %-6s n=%d median %.3fs [%.3f-%.3f] cpu %.2fs rss %.0fMB steps %s ok=%s"
          % (tool, wl, case, c["n"], c["median"], c["min"], c["max"], c["cpu_median"],
             c["rss_mb_max"], sorted(set(c["steps"])), c["all_correct"]) + ("" if c["minimal"] else " (ideal %d)" % c["ideal"])
          + (" followup %s" % sorted(set(c["followup_steps"])) if case in ("incr", "revert") else ""), flush=True)


def save_result(args, res):
    out = os.path.join(args.work, "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "%s-%s.json" % (res["tool"], res["workload"])), "w") as f:
        json.dump(res, f, indent=1)


def new_result(tool, wl, drv, b):
    return {"tool": tool, "workload": wl, "version": drv.version(), "declared": drv.DECLARED,
            "rules": len(b.spec["rules"]), "probe": b.spec["probe_input"],
            "minimal": len(b.spec["probe_closure"]), "cases": {}}


def run(tool, wl, args):
    drv = load_driver(tool)
    b = Bench(drv, wl, args.work)
    res = new_result(tool, wl, drv, b)
    for case in CASES:
        reps = args.cold_reps if case == "cold" else args.reps
        runs, spent = [], 0.0
        if case in ("noop", "incr", "revert", "touch"):
            b.settle()
            b.build("warmup")  # one uncounted warm-up (page cache, node compile cache)
        for i in range(reps):
            t0 = time.perf_counter()
            r = getattr(b, "case_" + case)()
            spent += time.perf_counter() - t0
            runs.append(r)
            if spent > args.case_budget and len(runs) >= 1:
                break
        res["cases"][case] = summarize(case, runs, b.spec)
        report_case(tool, wl, case, res["cases"][case])
    save_result(args, res)
    return res


def run_interleaved(tools, wl, args):
    """Every case of `wl` with the tools taking turns rep by rep (each in its
    own work folder), so a busier moment of the host falls on all of them
    alike. The case budget applies per tool, as in `run`."""
    benches = [(tool, load_driver(tool)) for tool in tools]
    benches = [(tool, drv, Bench(drv, wl, args.work)) for tool, drv in benches]
    results = {tool: new_result(tool, wl, drv, b) for tool, drv, b in benches}
    for case in CASES:
        reps = args.cold_reps if case == "cold" else args.reps
        runs = {tool: [] for tool, _, _ in benches}
        spent = {tool: 0.0 for tool, _, _ in benches}
        if case in ("noop", "incr", "revert", "touch"):
            for _, _, b in benches:
                b.settle()
                b.build("warmup")
        for i in range(reps):
            for tool, _, b in benches:
                if runs[tool] and spent[tool] > args.case_budget:
                    continue
                t0 = time.perf_counter()
                runs[tool].append(getattr(b, "case_" + case)())
                spent[tool] += time.perf_counter() - t0
        for tool, _, b in benches:
            results[tool]["cases"][case] = summarize(case, runs[tool], b.spec)
            report_case(tool, wl, case, results[tool]["cases"][case])
    for res in results.values():
        save_result(args, res)
    return list(results.values())


def paired_cold(tools, wl, reps, work):
    """Cold builds of `tools` on `wl`, alternating tool by tool in every rep,
    so that a busier moment of a shared host, or a file system still busy
    with what the previous wipe deleted, falls on every tool alike."""
    benches = []
    for tool in tools:
        drv = load_driver(tool)
        ok, why = drv.available()
        if not ok:
            print("SKIP %s: not available (%s)" % (tool, why))
            continue
        benches.append(Bench(drv, wl, work))
    walls = {b.drv.NAME: [] for b in benches}
    cpus = {b.drv.NAME: [] for b in benches}
    for rep in range(reps):
        for b in benches:
            r = b.case_cold()
            if r["rc"] != 0 or not r["correct"] or r["steps"] != len(b.spec["rules"]):
                sys.exit("%s %s paired cold rep %d: wrong (rc %s, steps %d)"
                         % (b.drv.NAME, wl, rep, r["rc"], r["steps"]))
            walls[b.drv.NAME].append(r["wall"])
            cpus[b.drv.NAME].append(r["cpu"])
            print("%-7s %-3s paired cold rep %d: %.3fs wall, %.2fs cpu"
                  % (b.drv.NAME, wl, rep, r["wall"], r["cpu"]), flush=True)
    base = benches[0].drv.NAME
    for name in walls:
        w, c = statistics.median(walls[name]), statistics.median(cpus[name])
        print("%-7s %-3s paired cold median %.3fs wall (%.2fx %s), %.2fs cpu (%.2fx)"
              % (name, wl, w, w / statistics.median(walls[base]), base, c,
                 c / statistics.median(cpus[base])), flush=True)
    out = os.path.join(work, "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "paired-cold-%s.json" % wl), "w") as f:
        json.dump({"workload": wl, "wall": walls, "cpu": cpus}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", default=",".join(ALL_TOOLS))
    ap.add_argument("--workloads", default="w1,w2,w3,w4")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cold-reps", type=int, default=3)
    ap.add_argument("--case-budget", type=float, default=90.0,
                    help="stop adding reps to a case once it has used this many seconds")
    ap.add_argument("--work", default="/tmp/bench-work")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every tool ran and every case was correct and minimal")
    ap.add_argument("--interleave", action="store_true",
                    help="run each case with the tools taking turns rep by rep, instead of "
                         "one tool's cases after another's")
    ap.add_argument("--paired-cold", type=int, default=0, metavar="REPS",
                    help="instead of the cases: REPS cold builds per tool, alternating tools "
                         "in every rep (ratios against the first tool)")
    args = ap.parse_args()
    if args.paired_cold:
        for wl in args.workloads.split(","):
            paired_cold(args.tools.split(","), wl, args.paired_cold, args.work)
        return
    bad = []
    for wl in args.workloads.split(","):
        tools = []
        for tool in args.tools.split(","):
            drv = load_driver(tool)
            ok, why = drv.available()
            if not ok:
                print("SKIP %s: not available (%s)" % (tool, why))
                bad.append("%s unavailable" % tool)  # only fatal with --check
                continue
            n = len(json.load(open(os.path.join(ensure_src(args.work, wl), "spec.json")))["rules"])
            if n > getattr(drv, "MAX_RULES", n):
                print("SKIP %s %s: %d rules > the driver's MAX_RULES %d" % (tool, wl, n, drv.MAX_RULES))
                continue
            tools.append(tool)
        if args.interleave:
            results = run_interleaved(tools, wl, args)
        else:
            results = [run(tool, wl, args) for tool in tools]
        for res in results:
            bad += ["%s %s %s" % (res["tool"], wl, case) for case, c in res["cases"].items()
                    if not (c["all_correct"] and c["minimal"])]
    if args.check and bad:
        print("FAILED (wrong or not minimal): " + "; ".join(bad))
        sys.exit(1)


if __name__ == "__main__":
    main()
