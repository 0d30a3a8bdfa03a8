import json
import os
from . import PEERS, JOBS, rm, cmd_str, link_node_modules

NAME = "wireit"
# One `npm run` (a node start) per step: a cold w4 (10,000 steps) would take
# most of an hour on 2 cores, so the harness skips workloads above this size.
MAX_RULES = 2000
DECLARED = ("one package.json script `wireit` + one wireit entry per rule: command, files "
            "(leaf files + dep outputs), output, dependencies; an `all` entry depending "
            "on every rule; run as `npm run all`")


def available():
    return (os.path.exists(os.path.join(PEERS, "node_modules/wireit")), "npm: wireit")


def version():
    return json.load(open(os.path.join(PEERS, "node_modules/wireit/package.json")))["version"]


def render(spec, ws, pkg):
    scripts = {"all": "wireit"}
    wireit = {"all": {"dependencies": [r["name"] for r in spec["rules"]]}}
    for r in spec["rules"]:
        scripts[r["name"]] = "wireit"
        wireit[r["name"]] = {
            "command": cmd_str(r),
            "files": r["inputs"] + r["dep_outputs"],
            "output": r["outputs"],
            "dependencies": r["deps"],
        }
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "pkg", "private": True, "scripts": scripts, "wireit": wireit}, f, indent=1)
    link_node_modules(ws)


def clean_state(ws, pkg):
    rm(os.path.join(pkg, ".wireit"))


def build_cmd(spec, ws, pkg):
    return (["npm", "run", "--silent", "all"], pkg,
            {"WIREIT_PARALLEL": JOBS, "WIREIT_CACHE": "local", "WIREIT_LOGGER": "simple"})
