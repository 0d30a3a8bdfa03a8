#!/usr/bin/env python3
"""Workload generator for the peer-orchestrator benchmark.

Copied from the team's peer benchmark (shared/bench/gen.py) and extended with
w4 (10,000 rules) and a size knob for w2 (`W2_RULES`, used by smoke.sh).

Writes, for one workload, a tool-neutral package directory:

    <dest>/step.sh      the single step command every rule runs
    <dest>/spec.json    the DAG: rules with inputs, deps, outputs, argv
    <dest>/<inputs>     the leaf input files (deterministic content)

Every tool driver renders its own config (build.ninja, Makefile,
turbo.json, project.json, package.json#wireit, Taskfile.yml, and later
cloesce.kdl) from spec.json, so all tools get the same files, the same
commands and the same DAG.

Usage: gen.py WORKLOAD DEST RUNLOG
  WORKLOAD  w1 | w2 | w3 | w4
  DEST      package directory to create (must not exist)
  RUNLOG    absolute path that step.sh appends one line per executed
            step to (kept outside the workspace so no tool hashes it)
"""
import hashlib
import json
import os
import random
import sys

STEP_SH = r"""#!/bin/sh
# step.sh NAME OUT... -- IN...
# Deterministic step: each OUT gets sha256("NAME OUT\n" + concat(IN...)).
# Appends NAME to the run log so the harness can count executed steps.
name=$1; shift
outs=
while [ "$1" != "--" ]; do outs="$outs $1"; shift; done
shift
echo "$name" >> @RUNLOG@
for o in $outs; do
  mkdir -p "${o%/*}"
  { echo "$name $o"; cat "$@"; } | sha256sum > "$o"
done
"""


def rule(name, inputs, deps, outputs, all_rules):
    """inputs: leaf source files; deps: rule names; reads = inputs + dep outputs."""
    dep_outs = [o for d in deps for o in all_rules[d]["outputs"]]
    reads = list(inputs) + dep_outs
    r = {
        "name": name,
        "inputs": list(inputs),      # leaf source files only
        "deps": list(deps),          # rule names
        "dep_outputs": dep_outs,     # files produced by deps that this rule reads
        "outputs": list(outputs),
        "argv": ["sh", "step.sh", name] + list(outputs) + ["--"] + reads,
    }
    all_rules[name] = r
    return r


def blob(rng, n):
    # printable deterministic content
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 \n"
    return bytes(rng.choice(alphabet) for _ in range(n))


def gen_w1(rng):
    files = {}
    models = ["User", "Post", "Comment", "Tag", "Session", "Account", "Invoice", "Product"]
    for m in models:
        body = "@D1\nexport class %s {\n  @PrimaryKey id: number;\n" % m
        for k in range(12):
            body += "  field%d: string;\n" % k
        body += "  @GET async get(): Promise<%s> { return this; }\n}\n" % m
        files["models/%s.ts" % m] = body.encode()
    rules = {}
    order = []
    order.append(rule("extract", sorted(files), [], [".generated/cidl.json"], rules))
    order.append(rule("validate", [], ["extract"], [".generated/cidl.valid"], rules))
    # generators read cidl.json (via extract) and are gated on validate
    order.append(rule("gen-d1", [], ["extract", "validate"],
                      [".generated/d1.sql", ".generated/wrangler.toml"], rules))
    order.append(rule("gen-workers", [], ["extract", "validate"], [".generated/workers.ts"], rules))
    order.append(rule("gen-client", [], ["extract", "validate"], [".generated/client.ts"], rules))
    # incremental probe: one model file; all 5 steps depend on it
    return files, order, "models/Post.ts"


def gen_w2(rng):
    files = {}
    rules = {}
    order = []
    n = int(os.environ.get("W2_RULES", "1000"))
    for i in range(n):
        src = "src/i%04d.txt" % i
        files[src] = blob(rng, 4096)
        order.append(rule("h%04d" % i, [src], [], ["out/o%04d.txt" % i], rules))
    return files, order, "src/i%04d.txt" % (n // 2)


def gen_w3(rng):
    files = {}
    rules = {}
    order = []
    layers, width, per_rule = 20, 100, 5
    for l in range(layers):
        for i in range(width):
            name = "r%02d_%03d" % (l, i)
            ins = []
            for k in range(per_rule):
                p = "src/l%02d/r%03d_%d.txt" % (l, i, k)
                files[p] = blob(rng, 512)
                ins.append(p)
            deps = []
            if l > 0:
                deps = ["r%02d_%03d" % (l - 1, j)
                        for j in sorted(rng.sample(range(width), rng.choice([2, 3])))]
            order.append(rule(name, ins, deps, ["out/l%02d/r%03d.txt" % (l, i)], rules))
    # probe: an input of a layer-17 rule -> small but non-trivial closure
    return files, order, "src/l17/r042_0.txt"


def gen_w4(rng):
    """10,000 independent-ish rules: 100 groups of 100. Each rule hashes its
    own 256 B file; the 99 members of a group also read their group head's
    output (one shallow edge), so the graph is wide but not edge-free."""
    files = {}
    rules = {}
    order = []
    groups, width = 100, 100
    for g in range(groups):
        for i in range(width):
            k = g * width + i
            src = "src/d%02d/i%05d.txt" % (g, k)
            files[src] = blob(rng, 256)
            deps = [] if i == 0 else ["w%05d" % (g * width)]
            order.append(rule("w%05d" % k, [src], deps, ["out/d%02d/o%05d.txt" % (g, k)], rules))
    # probe: a group member's own input -> minimal rebuild = 1 rule
    return files, order, "src/d50/i05042.txt"


def closure(order, probe):
    hit = set()
    for r in order:  # order is topological
        if probe in r["inputs"] or any(d in hit for d in r["deps"]):
            hit.add(r["name"])
    return sorted(hit)


def main():
    wl, dest, runlog = sys.argv[1], sys.argv[2], sys.argv[3]
    rng = random.Random({"w1": 1, "w2": 2, "w3": 3, "w4": 4}[wl])
    files, order, probe = {"w1": gen_w1, "w2": gen_w2, "w3": gen_w3, "w4": gen_w4}[wl](rng)
    os.makedirs(dest)
    for p, data in files.items():
        full = os.path.join(dest, p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    with open(os.path.join(dest, "step.sh"), "w") as f:
        f.write(STEP_SH.replace("@RUNLOG@", runlog))
    spec = {
        "workload": wl,
        "rules": order,                      # topological order
        "probe_input": probe,                # leaf input used for incr/revert/touch
        "probe_closure": closure(order, probe),
        "output_dirs": sorted({o.split("/")[0] for r in order for o in r["outputs"]}),
    }
    with open(os.path.join(dest, "spec.json"), "w") as f:
        json.dump(spec, f, indent=1)
    print("%s: %d rules, %d input files, probe %s closes over %d rules"
          % (wl, len(order), len(files), probe, len(spec["probe_closure"])))


def expected_outputs(pkgdir, spec):
    """Recompute what every output must contain, from the current inputs."""
    exp = {}

    def read(p):
        if p in exp:
            return exp[p]
        with open(os.path.join(pkgdir, p), "rb") as f:
            return f.read()

    for r in spec["rules"]:
        reads = r["argv"][r["argv"].index("--") + 1:]
        data = b"".join(read(p) for p in reads)
        for o in r["outputs"]:
            h = hashlib.sha256(("%s %s\n" % (r["name"], o)).encode() + data).hexdigest()
            exp[o] = (h + "  -\n").encode()
    return exp


if __name__ == "__main__":
    main()
