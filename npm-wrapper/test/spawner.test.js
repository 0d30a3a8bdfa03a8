'use strict';
// lib/spawner.js through lib/spawn.js's Children: a rule's process started
// by the perl spawner must be what `child_process.spawn` gives it (argv,
// environment, cwd, session and process group, output, exit status, start
// failures, kills), and the spawner must fall back, clean up and never
// outlive cloesce. Most cases run both ways (spawner on, off) and compare
// with the expected value, so a difference in either path fails.
// Needs no wasm: Children is driven directly.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');

const { PACKAGE_DIR, needsWasm, copyFixture, runNpm } = require('../testlib/helpers.js');
const { Children } = require(path.join(PACKAGE_DIR, 'lib', 'spawn.js'));
const { findPerl, record, wanted } = require(path.join(PACKAGE_DIR, 'lib', 'spawner.js'));

const PERL = process.platform === 'win32' ? null : findPerl();
const skip = PERL ? false : 'needs perl on a POSIX system';
const NODE = process.execPath;

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cloesce-spawner-'));
}

/** Runs one job through a fresh Children; resolves to its completion. */
async function runOne(useSpawner, program, args, { cwd = os.tmpdir(), env = { PATH: process.env.PATH } } = {}) {
  const children = new Children({ spawner: useSpawner });
  children.spawn(1, cwd, program, args, env);
  const done = await children.nextCompletion();
  children.spawnerState?.close();
  return done;
}

/** Both ways, asserting both equal `expect(completion)`'s checks. */
async function bothWays(program, args, options, check) {
  for (const useSpawner of [true, false]) {
    const done = await runOne(useSpawner, program, args, options);
    check(done, useSpawner ? 'spawner' : 'child_process');
  }
}

const text = (bytes) => Buffer.from(bytes).toString('utf8');

test('records carry any byte but NUL, length-prefixed', () => {
  const bytes = record(['S', 'a b\n', 'é', '']);
  assert.equal(bytes.toString('utf8'), `11\nS\0a b\n\0é\0\0`); // é is two bytes
  assert.equal(bytes.length, 3 + 11);
});

test('the spawner is the default on Linux only; CLOESCE_SPAWNER overrides', () => {
  assert.equal(wanted({}, 'linux'), true);
  assert.equal(wanted({}, 'darwin'), false);
  assert.equal(wanted({}, 'win32'), false);
  assert.equal(wanted({ CLOESCE_SPAWNER: 'node' }, 'linux'), false);
  assert.equal(wanted({ CLOESCE_SPAWNER: 'perl' }, 'darwin'), true);
  assert.equal(wanted({ CLOESCE_SPAWNER: 'perl' }, 'win32'), false);
});

test('the job really runs under perl when the spawner is on', { skip: skip || (process.platform !== 'linux' && 'reads /proc') }, async () => {
  const args = ['-c', 'cat /proc/$PPID/comm'];
  assert.equal(text((await runOne(true, '/bin/sh', args)).stdout), 'perl\n');
  assert.notEqual(text((await runOne(false, '/bin/sh', args)).stdout), 'perl\n');
});

test('hostile arguments reach the program untouched', { skip }, async () => {
  const hostile = ['a b', "it's", '"dq"', '$HOME', '${X:-y}', '`id`', '$(id)', 'new\nline', '\\', '', ' ', '*', '-n', '; rm -rf /', 'é€', '\t', "'\"'\"'"];
  const script = 'process.stdout.write(JSON.stringify(process.argv.slice(1)))';
  await bothWays(NODE, ['-e', script, ...hostile], {}, (done, way) => {
    assert.equal(done.error, null, way);
    assert.deepEqual(JSON.parse(text(done.stdout)), hostile, way);
  });
});

test('the environment is exactly the one given, PATH lookups use it', { skip }, async () => {
  const env = { ONLY: 'x y', DOLLAR: '$HOME `id`', NL: 'a\nb', EMPTY: '', PATH: '/nonexistent-bin' };
  const script = 'process.stdout.write(JSON.stringify(process.env))';
  await bothWays(NODE, ['-e', script], { env }, (done, way) => {
    assert.deepEqual(JSON.parse(text(done.stdout)), env, way);
  });
  // `sh` is not on the given PATH: not found, whichever way.
  await bothWays('sh', ['-c', 'true'], { env: { PATH: '/nonexistent-bin' } }, (done, way) => {
    assert.equal(done.error, 'No such file or directory (os error 2)', way);
  });
});

test('cwd, stdin, its own session and process group', { skip: skip || (process.platform !== 'linux' && 'reads /proc') }, async () => {
  const dir = fs.realpathSync(tempDir());
  // pid, pgid, sid; stdin's target; pwd
  const script = 'read -r _ _ _ _ pg sid _ </proc/$$/stat; printf "%s %s %s %s %s" $$ $pg $sid $(readlink /proc/self/fd/0) "$(pwd)"';
  await bothWays('/bin/sh', ['-c', script], { cwd: dir }, (done, way) => {
    const [pid, pgid, sid, stdin, cwd] = text(done.stdout).split(' ');
    assert.equal(pgid, pid, `${way}: leads its process group`);
    assert.equal(sid, pid, `${way}: leads its session`);
    assert.equal(stdin, '/dev/null', way);
    assert.equal(cwd, dir, way);
  });
  fs.rmSync(dir, { recursive: true });
});

test('the job inherits no descriptor of the spawner: the same ones as with child_process', { skip: skip || (process.platform !== 'linux' && 'reads /proc') }, async () => {
  // Descriptors this process inherited without close-on-exec (a harness's)
  // reach the job both ways; the spawner's pipes must not.
  const seen = {};
  await bothWays('/bin/sh', ['-c', 'ls /proc/self/fd'], {}, (done, way) => {
    seen[way] = text(done.stdout).trim().split('\n').map(Number).sort((a, b) => a - b);
    assert.deepEqual(seen[way].slice(0, 3), [0, 1, 2], way);
  });
  assert.deepEqual(seen.spawner, seen.child_process);
});

test('exit codes and deaths by signal are told apart', { skip }, async () => {
  for (const code of [0, 1, 3, 129, 130, 143, 255]) {
    await bothWays('/bin/sh', ['-c', `exit ${code}`], {}, (done, way) => {
      assert.deepEqual([done.code, done.signal, done.error], [code, null, null], `${way} exit ${code}`);
    });
  }
  for (const [name, number] of [['TERM', 15], ['KILL', 9], ['INT', 2], ['SEGV', 11]]) {
    await bothWays('/bin/sh', ['-c', `kill -${name} $$`], {}, (done, way) => {
      assert.deepEqual([done.code, done.signal, done.error], [null, number, null], `${way} SIG${name}`);
    });
  }
});

test('programs that cannot start: missing, not executable, bad interpreter, missing cwd', { skip }, async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'plain'), 'echo hi\n');
  fs.writeFileSync(path.join(dir, 'bad-interp'), '#!/nonexistent/interp\n', { mode: 0o755 });
  const cases = [
    [path.join(dir, 'missing'), {}, 'No such file or directory (os error 2)'],
    [path.join(dir, 'plain'), {}, 'Permission denied (os error 13)'],
    [path.join(dir, 'bad-interp'), {}, 'No such file or directory (os error 2)'],
    ['/bin/sh', { cwd: path.join(dir, 'gone') }, 'No such file or directory (os error 2)'],
  ];
  for (const [program, options, error] of cases) {
    await bothWays(program, [], options, (done, way) => {
      assert.deepEqual([done.code, done.signal, done.error, done.stdout.length], [null, null, error, 0], `${way} ${program}`);
    });
  }
  fs.rmSync(dir, { recursive: true });
});

test('large output on both streams is captured whole', { skip }, async () => {
  const script = "process.stdout.write(Buffer.alloc(5_000_000, 'o')); process.stderr.write(Buffer.alloc(1_000_003, 'e'))";
  await bothWays(NODE, ['-e', script], {}, (done, way) => {
    assert.equal(done.stdout.length, 5_000_000, way);
    assert.equal(done.stderr.length, 1_000_003, way);
    assert.ok(Buffer.from(done.stdout).equals(Buffer.alloc(5_000_000, 'o')), way);
    assert.ok(Buffer.from(done.stderr).equals(Buffer.alloc(1_000_003, 'e')), way);
  });
  // Binary bytes, including NUL and a lone newline at the end.
  await bothWays('/bin/sh', ['-c', "printf 'a\\000b\\377\\n'"], {}, (done, way) => {
    assert.deepEqual([...done.stdout], [97, 0, 98, 255, 10], way);
  });
});

test('the job ends when its output closes, as with child_process (a child holding stdout)', { skip }, async () => {
  // The shell exits at once; its background child keeps stdout for 0.5 s.
  await bothWays('/bin/sh', ['-c', '(sleep 0.5; echo late) & echo early'], {}, (done, way) => {
    assert.equal(text(done.stdout), 'early\nlate\n', way);
  });
});

test('jobs run at once, and killAll stops each one with all it started', { skip: skip || (process.platform !== 'linux' && 'reads /proc') }, async () => {
  for (const useSpawner of [true, false]) {
    const dir = tempDir();
    const children = new Children({ spawner: useSpawner });
    // Each job starts a grandchild and writes its pid, then waits.
    for (const id of [1, 2, 3]) {
      children.spawn(id, dir, '/bin/sh', ['-c', `sleep 60 & echo $! > g${id}; wait`], {});
    }
    const file = (id) => path.join(dir, `g${id}`);
    const deadline = Date.now() + 10000;
    while (![1, 2, 3].every((id) => fs.existsSync(file(id)) && fs.readFileSync(file(id), 'utf8').endsWith('\n'))) {
      assert.ok(Date.now() < deadline, 'the three jobs did not all start');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    children.killAll('SIGTERM');
    const ends = [await children.nextCompletion(), await children.nextCompletion(), await children.nextCompletion()];
    for (const done of ends) assert.deepEqual([done.code, done.signal], [null, 15], JSON.stringify(done));
    for (const id of [1, 2, 3]) {
      const grandchild = Number(fs.readFileSync(file(id), 'utf8'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const state = fs.existsSync(`/proc/${grandchild}/stat`) ? fs.readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(' ')[2] : 'gone';
      assert.ok(state === 'gone' || state === 'Z', `grandchild ${grandchild} still runs (${state})`);
    }
    children.spawnerState?.close();
    fs.rmSync(dir, { recursive: true });
  }
});

test('a kill sent before the spawner reported the pid still reaches the job', { skip }, async () => {
  const children = new Children({ spawner: true });
  children.spawn(1, os.tmpdir(), '/bin/sh', ['-c', 'sleep 60'], {});
  const job = children.running.get(1);
  assert.equal(job.pid, undefined, 'the pid is not known in the same tick');
  children.killAll('SIGKILL');
  const done = await children.nextCompletion();
  assert.deepEqual([done.code, done.signal], [null, 9]);
  children.spawnerState.close();
});

test('interrupt: SIGINT to every job, nothing reported, idle once they end', { skip }, async () => {
  const children = new Children({ spawner: true });
  children.spawn(1, os.tmpdir(), '/bin/sh', ['-c', 'sleep 60'], {});
  children.spawn(2, os.tmpdir(), '/bin/sh', ['-c', 'trap "exit 0" INT; sleep 60 & wait'], {});
  await new Promise((resolve) => setTimeout(resolve, 300));
  const idle = new Promise((resolve) => children.onIdle(resolve));
  children.interrupt();
  await idle;
  assert.equal(children.running.size, 0);
  assert.deepEqual(children.finished, [], 'nothing was reported');
  children.spawn(3, os.tmpdir(), '/bin/sh', ['-c', 'true'], {});
  assert.equal(children.running.size, 0, 'nothing starts after an interrupt');
  children.spawnerState.close();
});

test('a perl that cannot start: the jobs run with child_process instead', { skip }, async () => {
  const children = new Children({ spawner: true, perl: '/nonexistent/perl' });
  children.spawn(1, os.tmpdir(), '/bin/sh', ['-c', 'echo fine; exit 4'], {});
  children.spawn(2, os.tmpdir(), '/bin/sh', ['-c', 'echo also'], {});
  const ends = [await children.nextCompletion(), await children.nextCompletion()].sort((a, b) => a.id - b.id);
  assert.deepEqual(ends.map((d) => [d.id, d.code, text(d.stdout)]), [[1, 4, 'fine\n'], [2, 0, 'also\n']]);
  assert.equal(children.spawnerState, null, 'no spawner afterwards');
});

test('a perl that dies before it is ready (no POSIX module, say): the jobs run with child_process', { skip }, async () => {
  const dir = tempDir();
  const fake = path.join(dir, 'perl');
  fs.writeFileSync(fake, '#!/bin/sh\necho "Can\'t locate POSIX.pm" >&2\nexit 2\n', { mode: 0o755 });
  const children = new Children({ spawner: true, perl: fake });
  children.spawn(1, os.tmpdir(), '/bin/sh', ['-c', 'echo fine'], {});
  const done = await children.nextCompletion();
  assert.deepEqual([done.code, done.error, text(done.stdout)], [0, null, 'fine\n']);
  assert.equal(children.spawnerState, null);
  fs.rmSync(dir, { recursive: true });
});

test('a spawner that dies mid-run: its jobs end with an error, later jobs start directly', { skip }, async () => {
  const children = new Children({ spawner: true });
  children.spawn(1, os.tmpdir(), '/bin/sh', ['-c', 'sleep 60'], {});
  await new Promise((resolve) => setTimeout(resolve, 300));
  const job = children.running.get(1);
  assert.ok(job.pid > 0);
  process.kill(children.spawnerState.child.pid, 'SIGKILL');
  const done = await children.nextCompletion();
  assert.equal(done.code, null);
  assert.match(done.error, /spawner .* exited/);
  process.kill(-job.pid, 'SIGKILL'); // the orphan, left running like a detached child
  children.spawn(2, os.tmpdir(), '/bin/sh', ['-c', 'exit 5'], {});
  assert.equal((await children.nextCompletion()).code, 5);
});

test('the spawner exits once cloesce is gone and its jobs ended; nothing is left behind', { skip }, async () => {
  const children = new Children({ spawner: true });
  const dir = tempDir();
  children.spawn(1, dir, '/bin/sh', ['-c', 'echo $PPID'], {});
  const done = await children.nextCompletion();
  const perlPid = Number(text(done.stdout));
  assert.equal(perlPid, children.spawnerState.child.pid);
  assert.deepEqual(fs.readdirSync(dir), [], 'no file in the job folder');
  children.spawnerState.close(); // what Node's exit does to the pipe
  const deadline = Date.now() + 5000;
  while (children.spawnerState !== null) {
    assert.ok(Date.now() < deadline, 'perl still runs after its stdin closed');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.throws(() => process.kill(perlPid, 0), /ESRCH/);
  fs.rmSync(dir, { recursive: true });
});

test('cloesce run: rules start under the spawner, which is gone when cloesce exits', { skip: needsWasm || skip || (process.platform !== 'linux' && 'reads /proc') }, async () => {
  const hostile = "a 'b' \"c\" $HOME `id` $(id) ; d";
  const kdl = `cloesce version=1
rule "probe" {
    inputs "src.txt"
    outputs "gen/parent" "gen/ppid" "gen/arg"
    run "sh" "-c" "mkdir -p gen; cat /proc/$PPID/comm > gen/parent; echo $PPID > gen/ppid; printf %s \\"$1\\" > gen/arg" "sh" ${JSON.stringify(hostile)}
}
`;
  const dir = copyFixture(null, { 'package.json': '{}\n', 'cloesce.kdl': kdl, 'src.txt': 'x' });
  const result = await runNpm(['run'], { cwd: dir });
  assert.equal(result.code, 0, result.stderr);
  const read = (file) => fs.readFileSync(path.join(dir, 'gen', file), 'utf8');
  assert.equal(read('parent'), 'perl\n');
  assert.equal(read('arg'), hostile);
  assert.throws(() => process.kill(Number(read('ppid')), 0), /ESRCH/, 'the spawner outlived cloesce');
});
