'use strict';
// The release tarball as a user gets it (issue #16): what it holds, that it
// is ready to publish, and the whole chain in a new folder with no registry
// access for cloesce: install the tarball offline, `npx cloesce init`,
// `doctor`, `run`, `graph`. Every docs path a user is shown exists in the
// installed package, and docs/npm.md's size table matches the built package.
//
// CLOESCE_TARBALL is the tarball scripts/build-npm.sh built (scripts/test-npm.sh
// sets it).

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const zlib = require('node:zlib');

const { REPO, tempDir } = require('../testlib/helpers.js');

const TARBALL = process.env.CLOESCE_TARBALL;
const skip = TARBALL && fs.existsSync(TARBALL) ? false : 'no CLOESCE_TARBALL: run scripts/test-npm.sh';

/** Runs a command to completion; returns { code, stdout, stderr }. */
function sh(cmd, args, cwd, env = {}) {
  const r = childProcess.spawnSync(cmd, args, {
    cwd,
    env: { ...process.env, NO_COLOR: '1', CI: 'true', npm_config_update_notifier: 'false', ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r, what) {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const MODEL = `import { D1, PrimaryKey, WranglerEnv, GET, Inject } from "cloesce";

@WranglerEnv
export class Env {
  db: D1Database;
}

@D1
export class Dog {
  @PrimaryKey
  id: number;

  name: string;

  @GET
  static async count(@Inject env: Env): Promise<number> {
    const row = await env.db.prepare("SELECT COUNT(*) AS n FROM Dog").first();
    return (row as { n: number }).n;
  }
}
`;

test('the tarball holds the LICENSE, the docs and publish-ready metadata', { skip }, () => {
  const list = ok(sh('tar', ['-tzf', TARBALL], REPO), 'tar -tzf').stdout.split('\n');
  for (const file of ['package/LICENSE', 'package/README.md', 'package/docs/guide.md', 'package/wasm/cloesce_wasm_bg.wasm', 'package/bin/cloesce.js']) {
    assert.ok(list.includes(file), `${file} is not in the tarball`);
  }
  const pkg = JSON.parse(ok(sh('tar', ['-xzOf', TARBALL, 'package/package.json'], REPO), 'tar -x').stdout);
  assert.equal(pkg.license, 'Apache-2.0');
  assert.match(pkg.repository.url, /^git\+https:\/\//);
  assert.match(pkg.homepage, /^https:\/\//);
  assert.match(pkg.bugs.url, /^https:\/\//);
  assert.equal(pkg.engines.node, '>=18');
  const license = ok(sh('tar', ['-xzOf', TARBALL, 'package/LICENSE'], REPO), 'tar -x').stdout;
  assert.match(license, /Apache License\s+Version 2\.0/);
  // `npm publish --dry-run` warns about nothing but the missing login.
  const dry = ok(sh('npm', ['publish', '--dry-run', TARBALL], REPO), 'npm publish --dry-run');
  const warnings = dry.stderr.split('\n').filter((l) => /\bwarn|\berr/i.test(l) && !/requires you to be logged in/.test(l));
  assert.deepEqual(warnings, [], dry.stderr);
});

test('a new folder: install the tarball offline, then init, doctor, run, graph', { skip }, () => {
  const dir = tempDir();
  ok(sh('npm', ['init', '-y'], dir), 'npm init -y');
  ok(sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '-D', TARBALL], dir), 'npm install --offline');
  // No model yet: run fails and says what to do, as this user types it.
  const empty = sh('npx', ['--offline', 'cloesce', 'run'], dir);
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(empty.stderr, /cloesce found no model files: nothing matches \*\*\/\*\.cloesce\.ts/);
  // The help names a guide that exists in the installed package.
  assert.match(empty.stderr.replace(/\s+/g, ' '), /node_modules\/cloesce\/docs\/guide\.md has a complete one/);
  assert.ok(fs.existsSync(path.join(dir, 'node_modules', 'cloesce', 'docs', 'guide.md')));
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', 'dog.cloesce.ts'), MODEL);

  const init = ok(sh('npx', ['--offline', 'cloesce', 'init'], dir), 'npx cloesce init');
  assert.match(init.stdout, /^wrote cloesce\.kdl\nwrote tsconfig\.json /);
  assert.match(init.stdout, /\nNext:\n {2}npx cloesce doctor {4}check the project/);
  assert.match(fs.readFileSync(path.join(dir, 'tsconfig.json'), 'utf8'), /"experimentalDecorators": true/);

  const doctor = ok(sh('npx', ['--offline', 'cloesce', 'doctor'], dir), 'npx cloesce doctor');
  assert.match(doctor.stdout, /\nok {3}tsconfig +tsconfig\.json lets wrangler compile decorators\n/);
  assert.match(doctor.stdout, /cloesce doctor: no problems/);

  const run = ok(sh('npx', ['--offline', 'cloesce', 'run'], dir), 'npx cloesce run');
  assert.match(run.stdout, /cloesce: 6 ran in /);
  assert.doesNotMatch(run.stdout, /warning: there is no tsconfig/);
  for (const out of ['cidl.json', 'workers.ts', 'client.ts', 'wrangler.toml']) {
    assert.ok(fs.existsSync(path.join(dir, '.generated', out)), `.generated/${out} was not written`);
  }

  const graph = ok(sh('npx', ['--offline', 'cloesce', 'graph'], dir), 'npx cloesce graph');
  for (const rule of ['extract', 'validate', 'd1', 'wrangler', 'workers', 'client']) {
    assert.match(graph.stdout, new RegExp(`\\b${rule}\\b`));
  }

  // Every docs path shown to this user exists for them.
  const again = sh('npx', ['--offline', 'cloesce', 'init'], dir);
  assert.equal(again.code, 2);
  const shown = [
    ok(sh('npx', ['--offline', 'cloesce', '--help'], dir), '--help').stdout,
    ok(sh('npx', ['--offline', 'cloesce', 'run', '--help'], dir), 'run --help').stdout,
    fs.readFileSync(path.join(dir, 'cloesce.kdl'), 'utf8'),
    again.stderr,
    empty.stderr,
  ].join('\n');
  const cited = [...shown.matchAll(/node_modules\/cloesce\/docs\/[\w.-]+\.md/g)].map((m) => m[0]);
  assert.ok(cited.length >= 5, `expected docs paths in:\n${shown}`);
  for (const doc of cited) assert.ok(fs.existsSync(path.join(dir, doc)), `${doc} is cited but missing`);
  assert.doesNotMatch(shown, /[^/]docs\/[\w-]+\.md/, 'a docs path a package user cannot open');
  assert.doesNotMatch(shown, /natively only/i);
});

test("docs/npm.md's size table matches the built package (within 5%)", { skip }, () => {
  const dir = tempDir();
  ok(sh('tar', ['-xzf', TARBALL, '-C', dir], REPO), 'tar -x');
  const wasm = fs.readFileSync(path.join(dir, 'package', 'wasm', 'cloesce_wasm_bg.wasm'));
  const actual = {
    wasm: wasm.length,
    gzipped: zlib.gzipSync(wasm, { level: 9 }).length,
    tarball: fs.statSync(TARBALL).size,
  };
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'npm.md'), 'utf8');
  const mb = (s) => Math.round(parseFloat(s) * 1e6);
  const row = /\| `cloesce_wasm_bg\.wasm` after `wasm-opt -Oz` \| ([\d.]+) MB \(([\d.]+) MB gzipped\) \|/.exec(doc);
  const tar = new RegExp(`\\| \`${path.basename(TARBALL).replace(/\./g, '\\.')}\` \\| ([\\d.]+) MB \\|`).exec(doc);
  assert.ok(row && tar, `docs/npm.md has no size rows for the .wasm and ${path.basename(TARBALL)}`);
  const documented = { wasm: mb(row[1]), gzipped: mb(row[2]), tarball: mb(tar[1]) };
  for (const key of Object.keys(actual)) {
    const off = Math.abs(documented[key] - actual[key]) / actual[key];
    assert.ok(off <= 0.05, `docs/npm.md says ${key} is ${documented[key]} bytes, the package has ${actual[key]} (update the table with the sizes scripts/build-npm.sh prints)`);
  }
});
