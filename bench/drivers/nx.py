import json
import os
import subprocess
from . import PEERS, JOBS, rm, cmd_str, link_node_modules

NAME = "nx"
# One `npm run` (a node start) per step: a cold w4 (10,000 steps) would take
# most of an hour on 2 cores, so the harness skips workloads above this size.
MAX_RULES = 2000
DECLARED = ("nx.json + one project.json with one nx:run-commands target per rule: "
            "inputs (leaf files + {dependentTasksOutputFiles}), outputs, cache:true, "
            "same-project dependsOn; an `all` nx:noop target depending on every rule; "
            "daemon off")

BIN = os.path.join(PEERS, "node_modules/.bin/nx")


def available():
    return (os.path.exists(BIN), "npm: nx")


def version():
    return json.load(open(os.path.join(PEERS, "node_modules/nx/package.json")))["version"]


def render(spec, ws, pkg):
    with open(os.path.join(ws, "package.json"), "w") as f:
        json.dump({"name": "bench-root", "private": True}, f, indent=1)
    with open(os.path.join(ws, "nx.json"), "w") as f:
        json.dump({"$schema": "./node_modules/nx/schemas/nx-schema.json",
                   "useDaemonProcess": False, "neverConnectToCloud": True,
                   "tui": {"enabled": False}, "parallel": int(JOBS)}, f, indent=1)
    targets = {}
    for r in spec["rules"]:
        inputs = ["{projectRoot}/" + p for p in r["inputs"]]
        if r["deps"]:
            inputs.append({"dependentTasksOutputFiles": "**/*"})
        targets[r["name"]] = {
            "executor": "nx:run-commands",
            "options": {"command": cmd_str(r), "cwd": "pkg"},
            "inputs": inputs,
            "outputs": ["{projectRoot}/" + o for o in r["outputs"]],
            "dependsOn": r["deps"],
            "cache": True,
        }
    targets["all"] = {"executor": "nx:noop", "dependsOn": [r["name"] for r in spec["rules"]]}
    with open(os.path.join(pkg, "project.json"), "w") as f:
        json.dump({"name": "pkg", "root": "pkg", "targets": targets}, f, indent=1)
    link_node_modules(ws)


def clean_state(ws, pkg):
    rm(os.path.join(ws, ".nx"))


def build_cmd(spec, ws, pkg):
    return ([BIN, "run", "pkg:all", "--parallel=" + JOBS, "--outputStyle=static"], ws,
            {"NX_DAEMON": "false", "NX_NO_CLOUD": "true", "NX_TUI": "false",
             "NX_SKIP_NX_CACHE": "false", "NX_VERBOSE_LOGGING": "false"})
