#!/usr/bin/env python3
"""w5: a large Cloesce project, measured with the default pipeline.

Unlike w1-w4 (tool-neutral DAGs of shell steps, see gen.py), w5 is a real
Cloesce project: MODELS model files (default 300), one model each, with every
kind of relation the model language has:

- a nullable foreign key to the previous model, with its one-to-one
  navigation (`parent`) and, on the parent, the one-to-many back (`children`);
- a required foreign key to a "hub" model every tenth model (`hub`), so
  the schema has NOT NULL foreign keys too;
- a many-to-many with the model seven places ahead (junction `Ji_j`);
- a data source that includes all three, two levels deep;
- static and instance methods with injected env and model parameters.

Cases (medians of REPS runs; each run is a fresh process):

    cold     rm -rf .cloesce .generated; cloesce run
    noop     cloesce run with nothing changed
    edit     one model file gains a column; cloesce run (every rule reruns:
             the IR changes, so d1, workers and client follow)
    revert   the edit undone; cloesce run (outputs come back from the store)
    tsc      tsc --noEmit over the same model files (the baseline the
             target compares cold against)

Usage: w5.py [--models N] [--reps R] [--work DIR] [--keep]
Needs: a cloesce binary ($CLOESCE_BIN, default target/release/cloesce) and
TypeScript with workers-types in target/e2e-tools (scripts/test-e2e.sh
--tools-only installs them).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def model_source(i, n):
    """The text of model i's file (M0000 … M{n-1})."""
    name = "M%04d" % i
    imports = {"D1", "PrimaryKey", "ForeignKey", "OneToOne", "OneToMany",
               "ManyToMany", "DataSource", "GET", "POST", "Inject",
               "IncludeTree", "modelsFromSql"}
    lines = []
    refs = set()
    lines.append("@D1")
    lines.append("export class %s {" % name)
    lines.append("  @PrimaryKey")
    lines.append("  id: number;")
    lines.append("")
    lines.append("  label: string;")
    lines.append("  rank: number;")
    lines.append("  note: string | null;")
    lines.append("  active: boolean;")
    include = []

    def one_to_one(target, nav, key_type):
        refs.add(target)
        lines.extend(["", "  @ForeignKey(%s)" % target, "  %sId: %s;" % (nav, key_type),
                      "", '  @OneToOne("%sId")' % nav, "  %s: %s | undefined;" % (nav, target)])

    if i > 0:
        one_to_one("M%04d" % (i - 1), "parent", "number | null")
        include.append("parent: {}")
    if i % 10 > 1:
        one_to_one("M%04d" % (i - i % 10), "hub", "number")
    if i + 1 < n:
        child = "M%04d" % (i + 1)
        refs.add(child)
        lines.append("")
        lines.append('  @OneToMany("parentId")')
        lines.append("  children: %s[];" % child)
        include.append("children: { peers: {} }")
    for j, other in (((i + 7) % n, "peers"), ((i - 7) % n, "backPeers")):
        if j == i:
            continue
        lo, hi = sorted((i, j))
        refs.add("M%04d" % j)
        lines.append("")
        lines.append('  @ManyToMany("J%04d_%04d")' % (lo, hi))
        lines.append("  %s: M%04d[];" % (other, j))
    lines.append("")
    lines.append("  @DataSource")
    lines.append("  static readonly everything: IncludeTree<%s> = { %s };"
                 % (name, ", ".join(include + ["peers: {}"])))
    lines.append("")
    lines.append("  @POST")
    lines.append("  static async add(item: %s, @Inject env: Env): Promise<%s> {" % (name, name))
    lines.append('    const row = await env.db.prepare(`INSERT INTO "%s" ("label", "rank", "note", "active") VALUES (?, ?, ?, ?) RETURNING *`)' % name)
    lines.append("      .bind(item.label, item.rank, item.note, item.active ? 1 : 0).first();")
    lines.append("    return modelsFromSql(%s, [row as Record<string, unknown>], null)[0];" % name)
    lines.append("  }")
    lines.append("")
    lines.append("  @GET")
    lines.append("  describe(prefix: string): string {")
    lines.append("    return `${prefix} ${this.label} #${this.rank}`;")
    lines.append("  }")
    lines.append("}")
    header = ['import { %s } from "cloesce";' % ", ".join(sorted(imports)),
              'import { Env } from "./env.cloesce";']
    for r in sorted(refs):
        if r != name:
            header.append('import { %s } from "./%s.cloesce";' % (r, r.lower()))
    return "\n".join(header + [""] + lines) + "\n"


def generate(dest, n):
    os.makedirs(os.path.join(dest, "src"))
    files = {
        "package.json": json.dumps({"name": "w5", "private": True, "type": "module"}, indent=2) + "\n",
        "wrangler.toml": 'name = "w5"\ncompatibility_date = "2025-10-02"\n\n[[d1_databases]]\n'
                         'binding = "db"\ndatabase_name = "w5"\ndatabase_id = "local-w5"\n',
        "tsconfig.json": json.dumps({
            "compilerOptions": {
                "target": "ES2022", "module": "ES2022", "moduleResolution": "bundler",
                "lib": ["ES2022"], "strict": True, "strictPropertyInitialization": False,
                "experimentalDecorators": True, "noEmit": True, "skipLibCheck": True,
                "types": ["@cloudflare/workers-types"],
            },
            "include": ["src/**/*.ts"],
        }, indent=2) + "\n",
        "src/env.cloesce.ts": 'import { WranglerEnv } from "cloesce";\n\n@WranglerEnv\n'
                              "export class Env {\n  db: D1Database;\n}\n",
    }
    for i in range(n):
        files["src/m%04d.cloesce.ts" % i] = model_source(i, n)
    for path, text in files.items():
        with open(os.path.join(dest, path), "w") as f:
            f.write(text)
    modules = os.path.join(dest, "node_modules")
    os.makedirs(os.path.join(modules, "@cloudflare"))
    tools = os.path.join(ROOT, "target", "e2e-tools", "node_modules")
    os.symlink(os.path.join(ROOT, "npm-wrapper", "package"), os.path.join(modules, "cloesce"))
    os.symlink(os.path.join(tools, "typescript"), os.path.join(modules, "typescript"))
    os.symlink(os.path.join(tools, "@cloudflare", "workers-types"),
               os.path.join(modules, "@cloudflare", "workers-types"))


def timed(argv, cwd):
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("w5: `%s` failed (exit %d):\n%s" % (" ".join(argv), proc.returncode,
                                                     proc.stdout.decode(errors="replace")[-4000:]))
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=300)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--work", default="/tmp/cloesce-w5")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    cloesce = os.path.abspath(os.environ.get("CLOESCE_BIN", os.path.join(ROOT, "target", "release", "cloesce")))
    tsc = os.path.join(ROOT, "target", "e2e-tools", "node_modules", ".bin", "tsc")
    for tool in (cloesce, tsc):
        if not os.path.exists(tool):
            sys.exit("w5: %s is missing (build the release binary; scripts/test-e2e.sh --tools-only)" % tool)
    shutil.rmtree(args.work, ignore_errors=True)
    generate(args.work, args.models)
    proj = args.work
    run = [cloesce, "run", "-q"]
    probe = os.path.join(proj, "src", "m%04d.cloesce.ts" % (args.models // 2))
    original = open(probe).read()
    edited = original.replace("  label: string;\n", "  label: string;\n  extra: string | null;\n", 1)

    samples = {"cold": [], "noop": [], "edit": [], "revert": [], "tsc": []}
    for _ in range(args.reps):
        shutil.rmtree(os.path.join(proj, ".cloesce"), ignore_errors=True)
        shutil.rmtree(os.path.join(proj, ".generated"), ignore_errors=True)
        samples["cold"].append(timed(run, proj))
        samples["noop"].append(timed(run, proj))
        for case, text in (("edit", edited), ("revert", original)):
            with open(probe, "w") as f:
                f.write(text)
            samples[case].append(timed(run, proj))
        samples["tsc"].append(timed([tsc, "--noEmit", "-p", "tsconfig.json"], proj))

    med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    size = sum(os.path.getsize(os.path.join(proj, "src", f)) for f in os.listdir(os.path.join(proj, "src")))
    print("w5: %d model files, %d KB of source, %d reps (medians, ms)" % (args.models + 1, size // 1024, args.reps))
    for k in ("cold", "noop", "edit", "revert", "tsc"):
        print("  %-5s %8.1f   (min %.1f, max %.1f)" % (k, med[k], min(samples[k]) * 1000, max(samples[k]) * 1000))
    print("  cold / tsc  = %.2f   (target <= 0.20)" % (med["cold"] / med["tsc"]))
    print("  edit / noop = %.2f   (target <= 5)" % (med["edit"] / med["noop"]))
    if not args.keep:
        shutil.rmtree(proj, ignore_errors=True)


if __name__ == "__main__":
    main()
