'use strict';
// Shared helpers for the npm package's tests (not a test file itself).
//
// Where things are:
// - CLOESCE_NPM_PROJECT: a temp project where scripts/test-npm.sh installed
//   the packed tarball; the package is its node_modules/cloesce.
// - otherwise the package is npm-wrapper/package itself (after
//   scripts/build-npm.sh has put the engine in its wasm/ folder).
// - examples/: fixture projects for copyFixture(name).
// - CLOESCE_NATIVE_BIN, else target/debug/cloesce(.exe): the native binary,
//   for native-vs-npm comparisons (skipped when missing).

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const PROJECT = process.env.CLOESCE_NPM_PROJECT || null;
const PACKAGE_DIR = PROJECT
  ? path.join(PROJECT, 'node_modules', 'cloesce')
  : path.join(REPO, 'npm-wrapper', 'package');
const BIN = path.join(PACKAGE_DIR, 'bin', 'cloesce.js');
const EXAMPLES = path.join(REPO, 'examples');

/** True when the package has its engine (built by scripts/build-npm.sh). */
function hasWasm() {
  return fs.existsSync(path.join(PACKAGE_DIR, 'wasm', 'cloesce_wasm_bg.wasm'));
}

/** The reason to skip engine tests, or false. */
const needsWasm = hasWasm() ? false : 'no engine: run scripts/build-npm.sh first';

function nativeBin() {
  if (process.env.CLOESCE_NATIVE_BIN) return process.env.CLOESCE_NATIVE_BIN;
  const exe = path.join(REPO, 'target', 'debug', process.platform === 'win32' ? 'cloesce.exe' : 'cloesce');
  return fs.existsSync(exe) ? exe : null;
}

/** Loads the package's engine and platform in this process. */
function loadPackage() {
  const { loadEngine } = require(path.join(PACKAGE_DIR, 'lib', 'engine.js'));
  const { createPlatform } = require(path.join(PACKAGE_DIR, 'lib', 'platform.js'));
  return { engine: loadEngine(), createPlatform };
}

/**
 * Runs a command to completion without blocking the event loop.
 * Resolves to `{ code, signal, stdout, stderr, ms }` (text with `\n`).
 */
function run(file, args, { cwd, env, input } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = childProcess.spawn(file, args, {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      }),
    );
    child.stdin.on('error', () => {}); // a child that exits without reading
    child.stdin.end(input ?? '');
  });
}

/** Runs the npm package's `cloesce` (node bin/cloesce.js) with `args`. */
function runNpm(args, opts = {}) {
  return run(process.execPath, [BIN, ...args], opts);
}

/** Runs the native `cloesce` with `args`. */
function runNative(args, opts = {}) {
  const bin = nativeBin();
  if (!bin) throw new Error('no native binary: cargo build -p cloesce, or set CLOESCE_NATIVE_BIN');
  return run(bin, args, opts);
}

/** A fresh temp folder, removed when the process exits. */
function tempDir(prefix = 'cloesce-test-') {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Copies a fixture project (an absolute folder, or a name under examples/)
 * to a temp folder and returns the copy's path; `files` adds or replaces files
 * (`{ 'cloesce.kdl': '…' }`).
 */
function copyFixture(fixture, files = {}) {
  const dir = tempDir();
  if (fixture) {
    const src = path.isAbsolute(fixture) ? fixture : path.join(EXAMPLES, fixture);
    fs.cpSync(src, dir, { recursive: true, filter: (f) => !/[\\/](node_modules|\.cloesce|\.generated)$/.test(f) });
  }
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** Every file below `dir` (relative `/` paths) with its bytes, skipping `skip` folders. */
function snapshotFiles(dir, skip = ['.cloesce', 'node_modules']) {
  const files = {};
  const walk = (rel) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!skip.includes(name)) walk(name);
      } else {
        files[name] = fs.readFileSync(path.join(dir, name));
      }
    }
  };
  walk('');
  return files;
}

/**
 * What legitimately differs between two runs: the project's path (each build
 * runs on its own copy) and timings (`12ms`, `"time_ms":3`).
 */
function normalize(text, dir) {
  return text
    .split(dir)
    .join('<project>')
    .replace(/\b\d+(\.\d+)?(ms|s)\b/g, '<t>')
    .replace(/"(time_ms|duration_ms)":\d+/g, '"$1":0');
}

/**
 * Runs the native and the npm `cloesce` through the same `steps`, each build
 * on its own copy of `fixture`, and asserts the same exit code, stdout and
 * stderr at every step (after `normalize`) and the same files at the end
 * (`.cloesce/` and `node_modules/` aside). A step is an argument list, or a
 * function `(dir) => void` that changes the project between runs. Returns
 * the npm results, one per command.
 */
async function compareNativeAndNpm(fixture, steps, { files = {}, env, fix = normalize } = {}) {
  const nativeDir = copyFixture(fixture, files);
  const npmDir = copyFixture(fixture, files);
  const results = [];
  for (const step of steps) {
    if (typeof step === 'function') {
      step(nativeDir);
      step(npmDir);
      continue;
    }
    const native = await runNative(step, { cwd: nativeDir, env });
    const npm = await runNpm(step, { cwd: npmDir, env });
    const show = (r, dir) => ({ code: r.code, stdout: fix(r.stdout, dir), stderr: fix(r.stderr, dir) });
    assert.deepEqual(show(npm, npmDir), show(native, nativeDir), `native and npm differ for \`cloesce ${step.join(' ')}\``);
    results.push(npm);
  }
  const nativeFiles = snapshotFiles(nativeDir);
  const npmFiles = snapshotFiles(npmDir);
  assert.deepEqual(Object.keys(npmFiles).sort(), Object.keys(nativeFiles).sort(), 'different output files');
  for (const name of Object.keys(nativeFiles)) {
    assert.ok(npmFiles[name].equals(nativeFiles[name]), `${name} differs between native and npm`);
  }
  return results;
}

module.exports = {
  REPO,
  PROJECT,
  PACKAGE_DIR,
  BIN,
  EXAMPLES,
  hasWasm,
  needsWasm,
  nativeBin,
  loadPackage,
  run,
  runNpm,
  runNative,
  tempDir,
  copyFixture,
  snapshotFiles,
  compareNativeAndNpm,
  normalize,
};
