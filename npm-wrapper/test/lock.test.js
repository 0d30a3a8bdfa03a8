'use strict';
// The project lock across builds: a native `cloesce run` and an
// `npx cloesce run` on the same project exclude each other (one protocol,
// engine/src/lock.rs), and a lock left by a hard-killed run of either build
// is taken over by the other.

const test = require('node:test');
const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { BIN, needsWasm, nativeBin, copyFixture, runNpm, runNative, run } = require('../testlib/helpers.js');

const skip = needsWasm || (nativeBin() ? false : 'no native binary: cargo build -p cloesce');
const unixOnly = process.platform === 'win32' ? 'uses sh' : false;

// `slow` appends to runs.log, then takes a second; `fast` depends on it.
const KDL = `cloesce version=1
rule "slow" {
    inputs "src.txt"
    outputs "gen/slow.out"
    run "sh" "-c" "echo slow >> runs.log; sleep 1; mkdir -p gen; cat src.txt > gen/slow.out"
}
rule "fast" {
    inputs "gen/slow.out"
    outputs "gen/fast.out"
    run "sh" "-c" "echo fast >> runs.log; (echo fast; cat gen/slow.out) > gen/fast.out"
}
`;

/** Starts a build's `cloesce run` without waiting for it. */
function start(build, dir) {
  const [file, args] = build === 'npm' ? [process.execPath, [BIN, 'run']] : [nativeBin(), ['run']];
  const child = childProcess.spawn(file, args, { cwd: dir, env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  child.stdout.resume();
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done, stderr: () => stderr };
}

/** Resolves once `predicate()` holds (polled every 25 ms, at most 10 s). */
async function until(what, predicate) {
  for (let i = 0; i < 400; i++) {
    if (predicate()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const runs = (dir) => {
  const log = path.join(dir, 'runs.log');
  const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
  fs.rmSync(log, { force: true });
  return text.split('\n').filter(Boolean);
};

for (const [first, second] of [
  ['native', 'npm'],
  ['npm', 'native'],
]) {
  test(`native and npm runs on one project take turns (${first} first)`, { skip: skip || unixOnly }, async () => {
    const dir = copyFixture(null, { 'cloesce.kdl': KDL, 'src.txt': 'one\n' });
    const holder = start(first, dir);
    await until('the first run to start its rule', () => fs.existsSync(path.join(dir, 'runs.log')));
    const waiter = start(second, dir);
    // The second one says whom it waits for, and does wait.
    await until('the second run to wait', () => /waiting for another cloesce run/.test(waiter.stderr()));
    assert.match(waiter.stderr(), new RegExp(`in this project \\(process ${holder.child.pid}\\) to finish`));
    const [a, b] = await Promise.all([holder.done, waiter.done]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    // Each rule ran exactly once: the second run found everything fresh.
    assert.deepEqual(runs(dir), ['slow', 'fast']);
    assert.equal(fs.readFileSync(path.join(dir, 'gen/fast.out'), 'utf8'), 'fast\none\n');
    assert.equal(fs.existsSync(path.join(dir, '.cloesce/lock')), false, 'the lock was left behind');
    for (const verify of [runNative, runNpm]) {
      const checked = await verify(['cache', 'verify'], { cwd: dir });
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    }
    // And the other way round on the next edit: one run each way, no rule twice.
    fs.writeFileSync(path.join(dir, 'src.txt'), 'two\n');
    const again = await Promise.all([start(second, dir).done, start(first, dir).done]);
    for (const r of again) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(runs(dir), ['slow', 'fast']);
    assert.equal(fs.readFileSync(path.join(dir, 'gen/fast.out'), 'utf8'), 'fast\ntwo\n');
  });

  test(`a lock left by a killed ${first} run is taken over by ${second}`, { skip: skip || unixOnly }, async () => {
    const dir = copyFixture(null, { 'cloesce.kdl': KDL, 'src.txt': 'one\n' });
    const killed = start(first, dir);
    await until('the rule to start', () => fs.existsSync(path.join(dir, 'runs.log')));
    killed.child.kill('SIGKILL');
    await killed.done;
    const lock = fs.readFileSync(path.join(dir, '.cloesce/lock'), 'utf8');
    assert.match(lock, new RegExp(`^cloesce-lock 1\\npid ${killed.child.pid}\\nhost `));
    // The native build's rule dies with it (PDEATHSIG); npm's may finish
    // its second on its own: let it, so runs.log is settled.
    await new Promise((r) => setTimeout(r, 1200));
    runs(dir);
    const next = await run(second === 'npm' ? process.execPath : nativeBin(), second === 'npm' ? [BIN, 'run', '--no-wait'] : ['run', '--no-wait'], { cwd: dir });
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(runs(dir), ['slow', 'fast']);
    assert.equal(fs.existsSync(path.join(dir, '.cloesce/lock')), false);
    assert.deepEqual(
      fs.readdirSync(path.join(dir, '.cloesce')).filter((f) => f.startsWith('lock')),
      [],
      'no takeover marker was left',
    );
  });
}
