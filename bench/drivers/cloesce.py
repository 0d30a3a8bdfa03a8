"""Driver for the native cloesce binary: renders each workload as cloesce.kdl.

Binary: $CLOESCE_BIN, else this repo's target/release/cloesce (build it with
`cargo build --release -p cloesce`). Without it the harness prints SKIP.
State and store live in <pkg>/.cloesce/.
"""
import os
import subprocess
from . import JOBS, rm, reads

NAME = "cloesce"
DECLARED = ("cloesce.kdl: one `rule` node per step with inputs (leaf files + dep outputs), "
            "outputs, deps, run argv")
CONTENT_BASED = True  # digests + action cache: touch and revert run nothing

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(os.environ.get("CLOESCE_BIN") or os.path.join(REPO, "target", "release", "cloesce"))


def available():
    return (os.path.exists(BIN), "no %s: cargo build --release -p cloesce, or set CLOESCE_BIN" % BIN)


def version():
    return subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip()


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(spec, ws, pkg):
    lines = ["// generated from spec.json (%s)" % spec["workload"], "cloesce version=1"]
    for r in spec["rules"]:
        lines.append("rule %s {" % q(r["name"]))
        lines.append("    inputs " + " ".join(q(p) for p in reads(r)))
        lines.append("    outputs " + " ".join(q(p) for p in r["outputs"]))
        if r["deps"]:
            lines.append("    deps " + " ".join(q(d) for d in r["deps"]))
        lines.append("    run " + " ".join(q(a) for a in r["argv"]))
        lines.append("}")
    with open(os.path.join(pkg, "cloesce.kdl"), "w") as f:
        f.write("\n".join(lines) + "\n")


def clean_state(ws, pkg):
    rm(os.path.join(pkg, ".cloesce"))


def build_cmd(spec, ws, pkg):
    return ([BIN, "run", "--jobs", JOBS, "-q"], pkg, {})
