'use strict';
// The `cloesce` command as users get it: installed from the packed tarball
// (scripts/test-npm.sh sets CLOESCE_NPM_PROJECT), the version check, and how
// internal errors look.

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');

const { needsWasm, PROJECT, PACKAGE_DIR, runNpm, run, tempDir, copyFixture } = require('../testlib/helpers.js');

const VERSION = require(path.join(PACKAGE_DIR, 'package.json')).version;

test('npx cloesce --version in a project that installed the tarball', { skip: PROJECT ? false : 'set by scripts/test-npm.sh' }, async () => {
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  const result = await new Promise((resolve) => {
    childProcess.execFile(
      npx,
      ['--offline', 'cloesce', '--version'],
      { cwd: PROJECT, shell: process.platform === 'win32' },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }),
    );
  });
  assert.deepEqual(result, { code: 0, stdout: `cloesce ${VERSION}\n`, stderr: '' });
});

test('the installed package has no install scripts and no dependencies', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'cloesce');
  assert.deepEqual(pkg.bin, { cloesce: 'bin/cloesce.js' });
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.scripts, undefined);
  assert.equal(pkg.exports['.'].default, './runtime/index.js');
});

test('the crate version and package.json agree', () => {
  const cargo = fs.readFileSync(path.join(__dirname, '..', '..', 'Cargo.toml'), 'utf8');
  const crate = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(cargo)[1];
  assert.equal(VERSION, crate);
});

test('cloesce --version prints the version and exits 0', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  const result = await runNpm(['--version'], { cwd: dir });
  assert.deepEqual({ code: result.code, stdout: result.stdout, stderr: result.stderr }, {
    code: 0,
    stdout: `cloesce ${VERSION}\n`,
    stderr: '',
  });
});

test('--version and -V answer without loading the engine', async () => {
  // The engine folder does not exist: any other command would exit 70.
  const env = { CLOESCE_WASM_DIR: path.join(tempDir(), 'no-engine-here') };
  for (const flag of ['--version', '-V']) {
    const result = await runNpm([flag], { cwd: tempDir(), env });
    assert.deepEqual({ code: result.code, stdout: result.stdout, stderr: result.stderr }, {
      code: 0,
      stdout: `cloesce ${VERSION}\n`,
      stderr: '',
    });
  }
  const other = await runNpm(['--help'], { cwd: tempDir(), env });
  assert.equal(other.code, 70);
  assert.match(other.stderr, /could not be loaded/);
});

test('an engine of another version is refused with a clear message', { skip: needsWasm }, async () => {
  const copy = path.join(tempDir(), 'cloesce');
  fs.cpSync(PACKAGE_DIR, copy, { recursive: true, filter: (src) => !src.includes(`${path.sep}runtime`) });
  const pkgFile = path.join(copy, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  pkg.version = '9.9.9';
  fs.writeFileSync(pkgFile, JSON.stringify(pkg));
  const result = await run(process.execPath, [path.join(copy, 'bin', 'cloesce.js'), '--help']);
  assert.equal(result.code, 70);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    `error: cloesce's WebAssembly engine is version ${VERSION} but the package is version 9.9.9\n` +
      'the install is broken or half-updated; reinstall it: npm install -D cloesce@9.9.9\n',
  );
});

test('a missing engine is reported, not thrown', async () => {
  const copy = path.join(tempDir(), 'cloesce');
  fs.mkdirSync(copy);
  fs.cpSync(path.join(PACKAGE_DIR, 'bin'), path.join(copy, 'bin'), { recursive: true });
  fs.cpSync(path.join(PACKAGE_DIR, 'lib'), path.join(copy, 'lib'), { recursive: true });
  fs.copyFileSync(path.join(PACKAGE_DIR, 'package.json'), path.join(copy, 'package.json'));
  const result = await run(process.execPath, [path.join(copy, 'bin', 'cloesce.js'), '--help']);
  assert.equal(result.code, 70);
  assert.match(result.stderr, /^error: cloesce's WebAssembly engine could not be loaded from .*wasm: /);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no JS stack trace');
});

test('a panic is an internal error with exit code 70, never "RuntimeError: unreachable"', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  const result = await runNpm(['--help'], { cwd: dir, env: { CLOESCE_DEBUG_PANIC: '1' } });
  assert.equal(result.code, 70);
  assert.equal(result.stdout, '');
  assert.match(
    result.stderr,
    /^error: internal error in cloesce \(this is a bug, please report it\): forced panic \(CLOESCE_DEBUG_PANIC=1\)\n  at npm-wrapper\/src\/lib\.rs:\d+:\d+\n$/,
  );
  assert.doesNotMatch(result.stderr, /RuntimeError|unreachable/);
});
