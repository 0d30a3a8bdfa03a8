'use strict';
// The JS host seen from Rust: JsHost's file, env, clock, tool and lock
// operations, driven through the engine's `__debugHost` test hook so the
// whole JS <-> Rust path is exercised (errors included).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');

const { needsWasm, loadPackage, copyFixture, run, PACKAGE_DIR } = require('../testlib/helpers.js');

function ops(dir, list) {
  const { engine, createPlatform } = loadPackage();
  return engine.__debugHost(createPlatform(), dir, list);
}

test('open_project walks up to the nearest cloesce.kdl or package.json', { skip: needsWasm }, () => {
  const dir = copyFixture(null, { 'package.json': '{}\n', 'src/deep/x.txt': 'x' });
  assert.deepEqual(ops(path.join(dir, 'src', 'deep'), ['root']), [`ok ${dir}`]);
  const kdl = copyFixture(null, { 'sub/cloesce.kdl': '', 'sub/a/b.txt': '' });
  assert.deepEqual(ops(path.join(kdl, 'sub', 'a'), ['root']), [`ok ${path.join(kdl, 'sub')}`]);
  const missing = path.join(dir, 'nope');
  assert.match(ops(missing, ['root'])[0], /^err NotFound: the folder `.*nope` does not exist$/);
});

test('read, write_atomic, stat, list and remove', { skip: needsWasm }, () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  const got = ops(dir, [
    'write out/a.txt hello world',
    'read out/a.txt',
    'stat out/a.txt',
    'stat out',
    'stat missing.txt',
    'stat package.json/inside',
    'write+x out/run.sh #!/bin/sh',
    'stat out/run.sh',
    'list out',
    'list',
    'rm out/a.txt',
    'rm out/a.txt',
    'read out/a.txt',
    'list nothing-here',
    'rmdir out',
    'rmdir out',
    'stat out',
  ]);
  const exec = process.platform === 'win32' ? 'false' : 'true';
  assert.match(got[3], new RegExp(`^ok Dir size=\\d+ exec=${exec} mtime>0=true ino>0=true$`));
  assert.deepEqual(got, [
    'ok',
    'ok hello world',
    'ok File size=11 exec=false mtime>0=true ino>0=true',
    got[3],
    'ok none',
    'ok none',
    'ok',
    `ok File size=9 exec=${exec} mtime>0=true ino>0=true`,
    'ok a.txt:File,run.sh:File',
    // Temporary files are written in .cloesce/tmp/ and renamed from there.
    'ok .cloesce:Dir,out:Dir,package.json:File',
    'ok',
    'ok',
    process.platform === 'win32' ? got[12] : 'err NotFound: No such file or directory (os error 2)',
    process.platform === 'win32' ? got[13] : 'err NotFound: No such file or directory (os error 2)',
    'ok',
    'ok',
    'ok none',
  ]);
  // No temp file is left behind, and nothing is written with CRLF.
  assert.deepEqual(fs.readdirSync(dir).sort(), ['.cloesce', 'package.json']);
  assert.deepEqual(fs.readdirSync(path.join(dir, '.cloesce', 'tmp')), []);
});

test('stat reports symlinks without following them', { skip: needsWasm || process.platform === 'win32' }, () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  fs.symlinkSync('package.json', path.join(dir, 'link'));
  assert.match(ops(dir, ['stat link'])[0], /^ok Symlink /);
  assert.deepEqual(ops(dir, ['list']), ['ok link:Symlink,package.json:File']);
});

test('env, clock and tool versions', { skip: needsWasm }, () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  process.env.CLOESCE_TEST_VAR = 'value 1';
  const [env, unset, t1, t2, tool, missing, failing] = ops(dir, [
    'env CLOESCE_TEST_VAR',
    'env CLOESCE_TEST_UNSET_VAR',
    'now',
    'now',
    'tool node --version',
    'tool no-such-tool-cloesce --version',
    'tool node -e process.exit(3)',
  ]);
  assert.equal(env, 'ok value 1');
  assert.equal(unset, 'ok <unset>');
  const n1 = BigInt(t1.slice(3));
  const n2 = BigInt(t2.slice(3));
  const wall = BigInt(Date.now()) * 1000000n;
  assert.ok(n2 >= n1, 'the clock never goes backwards');
  assert.ok(n1 > wall - 5000000000n && n1 < wall + 5000000000n, `now_ns ${n1} is near the wall clock ${wall}`);
  assert.equal(tool, `ok ${process.version}`);
  assert.equal(missing, 'ok tool-error `no-such-tool-cloesce` was not found in node_modules/.bin or PATH');
  assert.equal(failing, 'ok tool-error `node -e process.exit(3)` exited with code 3');
});

test('the lock: exclusive, released, stale when its owner died', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  const lock = path.join(dir, '.cloesce', 'lock');
  // Held and released within one host; a second attempt in the same
  // process waits, as the native build's would.
  assert.deepEqual(ops(dir, ['trylock .cloesce/lock', 'trylock .cloesce/lock', 'unlock .cloesce/lock']), [
    'ok true',
    'ok false',
    'ok',
  ]);
  assert.equal(fs.existsSync(lock), false);

  // Another live process holds it: try_lock says no.
  const holder = `
    const { loadEngine } = require(${JSON.stringify(path.join(PACKAGE_DIR, 'lib', 'engine.js'))});
    const { createPlatform } = require(${JSON.stringify(path.join(PACKAGE_DIR, 'lib', 'platform.js'))});
    const platform = createPlatform();
    process.on('exit', () => platform.releaseAllLocks());
    console.log(loadEngine().__debugHost(platform, ${JSON.stringify(dir)}, ['trylock .cloesce/lock'])[0]);
    setTimeout(() => {}, Number(process.argv[1]));
  `;
  const childProcess = require('node:child_process');
  const child = childProcess.spawn(process.execPath, ['-e', holder, '60000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));
  assert.equal(first, 'ok true');
  // The shared protocol's text (engine/src/lock.rs): pid, host, start time, nonce.
  const text = fs.readFileSync(lock, 'utf8');
  const hostLine = `host ${require('node:os').hostname()}`;
  assert.match(text, new RegExp(`^cloesce-lock 1\\npid ${child.pid}\\n${hostLine}\\n`));
  if (process.platform === 'linux') assert.match(text, /\nstart \d+\n/);
  assert.match(text, /\nnonce [0-9a-f]+-\d+\n$/);
  assert.deepEqual(ops(dir, ['trylock .cloesce/lock']), ['ok false']);

  // It dies without cleaning up: the lock is stale and taken over.
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('close', resolve));
  assert.equal(fs.existsSync(lock), true, 'a hard kill leaves the file');
  assert.deepEqual(ops(dir, ['trylock .cloesce/lock', 'unlock .cloesce/lock']), ['ok true', 'ok']);

  // A lock naming our own pid that we do not hold is a leftover (pid reuse).
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  fs.writeFileSync(lock, `${process.pid}\n`);
  assert.deepEqual(ops(dir, ['trylock .cloesce/lock', 'unlock .cloesce/lock']), ['ok true', 'ok']);

  // A fresh lock without a pid yet is being written: held; after 10 s
  // unchanged it is stale (what cloesce 0.1's native build left behind).
  fs.writeFileSync(lock, '');
  assert.deepEqual(ops(dir, ['trylock .cloesce/lock']), ['ok false']);
  const old = new Date(Date.now() - 11000);
  fs.utimesSync(lock, old, old);
  assert.deepEqual(ops(dir, ['trylock .cloesce/lock', 'unlock .cloesce/lock']), ['ok true', 'ok']);

  // A live process on another host: held, whatever its pid.
  fs.writeFileSync(lock, 'cloesce-lock 1\npid 1\nhost not-this-machine\nnonce 0-1\n');
  assert.deepEqual(ops(dir, ['trylock .cloesce/lock']), ['ok false']);
  fs.rmSync(lock);

  // A process that ends normally removes its lock file.
  const normal = await run(process.execPath, ['-e', holder, '0']);
  assert.equal(normal.stdout.trim(), 'ok true');
  assert.equal(fs.existsSync(lock), false);
});

test('lock waits until the holder releases it', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  const lock = path.join(dir, '.cloesce', 'lock');
  const script = `
    const { loadEngine } = require(${JSON.stringify(path.join(PACKAGE_DIR, 'lib', 'engine.js'))});
    const { createPlatform } = require(${JSON.stringify(path.join(PACKAGE_DIR, 'lib', 'platform.js'))});
    const platform = createPlatform();
    const t0 = Date.now();
    const out = loadEngine().__debugHost(platform, ${JSON.stringify(dir)}, ['lock .cloesce/lock', 'unlock .cloesce/lock']);
    console.log(out.join('|'), Date.now() - t0);
  `;
  // Someone alive (this test process) holds it for ~1 s (the child needs ~0.2 s to start).
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  fs.writeFileSync(lock, `${process.pid}\n`);
  setTimeout(() => fs.rmSync(lock), 1000);
  const waited = await run(process.execPath, ['-e', script]);
  const [result, ms] = waited.stdout.trim().split(' ');
  assert.equal(result, 'ok|ok');
  assert.ok(Number(ms) >= 300, `waited ${ms} ms`);
});

test('stat_many (one call into JS) agrees with stat path by path', { skip: needsWasm }, () => {
  const dir = copyFixture(null, { 'package.json': '{}\n', 'src/a.txt': 'a', 'src/b.sh': '#!/bin/sh\n' });
  fs.chmodSync(path.join(dir, 'src', 'b.sh'), 0o755);
  const paths = ['src/a.txt', 'src', 'src/b.sh', 'missing.txt', 'package.json/inside'];
  if (process.platform !== 'win32') {
    fs.symlinkSync('a.txt', path.join(dir, 'src', 'link'));
    paths.push('src/link');
  }
  const [got] = ops(dir, [`stat-many ${paths.join(' ')}`]);
  const [many, one] = got.replace(/^ok /, '').split('\n');
  assert.equal(many, one);
  const each = many.split(' | ');
  assert.equal(each.length, paths.length);
  assert.match(each[0], /kind: File, size: 1,/);
  assert.match(each[1], /kind: Dir,/);
  assert.match(each[2], process.platform === 'win32' ? /executable: false/ : /executable: true/);
  assert.deepEqual(each.slice(3, 5), ['None', 'None']);
  if (process.platform !== 'win32') assert.match(each[5], /kind: Symlink,/);
});

test('isExecutable: runnable files only, without throwing for missing ones', () => {
  const { isExecutable } = require(path.join(PACKAGE_DIR, 'lib', 'platform.js'));
  const dir = copyFixture(null, { 'tool.sh': '#!/bin/sh\n', 'data.txt': 'x', 'sub/x': '' });
  fs.chmodSync(path.join(dir, 'tool.sh'), 0o755);
  assert.equal(isExecutable(path.join(dir, 'tool.sh')), true);
  // Windows has no executable bit: any file may run.
  assert.equal(isExecutable(path.join(dir, 'data.txt')), process.platform === 'win32');
  assert.equal(isExecutable(path.join(dir, 'sub')), false); // a folder
  assert.equal(isExecutable(path.join(dir, 'missing')), false);
  assert.equal(isExecutable(path.join(dir, 'data.txt', 'below-a-file')), false); // ENOTDIR
});
