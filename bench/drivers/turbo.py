import json
import os
import subprocess
from . import PEERS, JOBS, rm, cmd_str, link_node_modules

NAME = "turbo"
# One `npm run` (a node start) per step: a cold w4 (10,000 steps) would take
# most of an hour on 2 cores, so the harness skips workloads above this size.
MAX_RULES = 2000
DECLARED = ("npm workspace root (package.json with packageManager + workspaces) + one "
            "package `pkg`; one package.json script per rule; one turbo.json task per "
            "rule with inputs (own leaf files only; dep outputs are covered by the dependsOn hash), outputs, same-package dependsOn; "
            "turbo executes each script through `npm run`")

BIN = os.path.join(PEERS, "node_modules/@turbo/linux-64/bin/turbo")


def available():
    return (os.path.exists(BIN), "npm: turbo")


def version():
    return subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip()


def render(spec, ws, pkg):
    npm_v = subprocess.run(["npm", "--version"], capture_output=True, text=True).stdout.strip()
    root = {"name": "bench-root", "private": True, "packageManager": "npm@" + npm_v,
            "workspaces": ["pkg"]}
    with open(os.path.join(ws, "package.json"), "w") as f:
        json.dump(root, f, indent=1)
    scripts = {r["name"]: cmd_str(r) for r in spec["rules"]}
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "pkg", "version": "0.0.0", "private": True, "scripts": scripts}, f, indent=1)
    tasks = {}
    for r in spec["rules"]:
        tasks[r["name"]] = {
            "dependsOn": r["deps"],
            # Only the rule's own leaf files: turbo hashes declared files before
            # dependencies run/restore, so listing dep outputs here makes the hash
            # stale (verified: reverts miss, next no-op reruns). The dependency's
            # task hash (dependsOn) already covers what it produced.
            # An empty list means "every file in the package" (outputs and logs
            # included), so a rule with no leaf files of its own gets package.json,
            # which turbo hashes for every task anyway.
            "inputs": r["inputs"] or ["package.json"],
            "outputs": r["outputs"],
            "outputLogs": "errors-only",
        }
    with open(os.path.join(ws, "turbo.json"), "w") as f:
        json.dump({"$schema": "https://turborepo.com/schema.json", "ui": "stream",
                   "tasks": tasks}, f, indent=1)
    link_node_modules(ws)
    # a lockfile so turbo can read the (empty) dependency graph
    lock = {"name": "bench-root", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": "bench-root", "workspaces": ["pkg"]},
                         "pkg": {"name": "pkg", "version": "0.0.0"},
                         "node_modules/pkg": {"resolved": "pkg", "link": True}}}
    with open(os.path.join(ws, "package-lock.json"), "w") as f:
        json.dump(lock, f, indent=1)


def clean_state(ws, pkg):
    rm(os.path.join(ws, ".turbo"), os.path.join(pkg, ".turbo"))


def build_cmd(spec, ws, pkg):
    names = [r["name"] for r in spec["rules"]]
    argv = [BIN, "run"] + names + ["--concurrency=" + JOBS, "--output-logs=errors-only",
                                   "--ui=stream"]
    return (argv, ws, {"TURBO_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1",
                       "TURBO_NO_UPDATE_NOTIFIER": "1"})
