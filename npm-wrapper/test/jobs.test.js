'use strict';
// Child processes through the engine's Platform::spawn / next_completion
// (the `__debugJobs` test hook): real concurrency on Node's event loop,
// captured output, exit codes, signals and spawn failures.

const assert = require('node:assert/strict');
const test = require('node:test');

const { needsWasm, loadPackage, copyFixture, runNpm } = require('../testlib/helpers.js');

const SEP = '\u001f';
const node = (code) => ['node', '-e', code].join(SEP);

function jobs(dir, commands) {
  const { engine, createPlatform } = loadPackage();
  return engine.__debugJobs(createPlatform(), dir, commands).then((text) => text.split('\n'));
}

test('four 1-second jobs overlap instead of queueing', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  // Each job prints when it started and when it ended; they overlap when
  // every job started before any ended (whatever the machine's load).
  const job = (i) => node(`const s = Date.now(); setTimeout(() => console.log('job ${i} ' + s + ' ' + Date.now()), 1000)`);
  const lines = await jobs(dir, [0, 1, 2, 3].map(job));
  assert.equal(lines.length, 4);
  const spans = [0, 1, 2, 3].map((i) => {
    const line = lines.find((l) => l.startsWith(`${i} exit code 0 stdout="job ${i} `));
    assert.ok(line, lines.join('\n'));
    const [, start, end] = line.match(/job \d+ (\d+) (\d+)/);
    return [Number(start), Number(end)];
  });
  const lastStart = Math.max(...spans.map(([start]) => start));
  const firstEnd = Math.min(...spans.map(([, end]) => end));
  assert.ok(lastStart < firstEnd, `the jobs ran one after another: ${JSON.stringify(spans)}`);
});

test('the event loop keeps turning while jobs run', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 50);
  await jobs(dir, [node('setTimeout(() => {}, 600)')]);
  clearInterval(timer);
  assert.ok(ticks >= 5, `only ${ticks} timer ticks in 600 ms`);
});

test('exit codes, stderr, signals and programs that cannot start', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n', 'bin/not-executable': 'echo hi\n' });
  const lines = await jobs(dir, [
    node("process.stderr.write('bad\\n'); process.exit(3)"),
    ['no-such-program-cloesce', 'x'].join(SEP),
    ...(process.platform === 'win32' ? [] : [node("process.kill(process.pid, 'SIGKILL')")]),
    node('process.stdout.write(Buffer.alloc(300000, 97))'),
  ]);
  assert.ok(lines.includes('0 exit code 3 stdout="" stderr="bad\\n"'), lines.join('\n'));
  assert.ok(lines.includes('1 not-found no-such-program-cloesce'), lines.join('\n'));
  if (process.platform !== 'win32') assert.ok(lines.includes('2 killed by signal 9 stdout="" stderr=""'), lines.join('\n'));
  const big = lines.find((l) => l.startsWith(process.platform === 'win32' ? '2 ' : '3 '));
  assert.ok(big.includes(`stdout="${'a'.repeat(300000)}"`), 'large output is captured whole');
});

test('a child sees only the environment it is given', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  process.env.CLOESCE_SECRET_TEST = 'leak';
  const [line] = await jobs(dir, [node("console.log(process.env.CLOESCE_SECRET_TEST ?? 'unset', process.cwd())")]);
  assert.equal(line, `0 exit code 0 stdout="unset ${dir.replace(/\\/g, '\\\\')}\\n" stderr=""`);
});

test('a panic while a job runs kills the job and exits 70 at once', { skip: needsWasm }, async () => {
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  const result = await runNpm(['--help'], { cwd: dir, env: { CLOESCE_DEBUG_PANIC: 'after-spawn' } });
  assert.equal(result.code, 70);
  assert.match(result.stderr, /^error: internal error in cloesce \(this is a bug, please report it\): forced panic while a job runs/);
  assert.doesNotMatch(result.stderr, /RuntimeError|unreachable/);
  assert.ok(result.ms < 10000, `took ${result.ms} ms: the 30 s child was not killed`);
});

test('waiting with no job running is refused, not a silent hang', async () => {
  const { PACKAGE_DIR } = require('../testlib/helpers.js');
  const { Children } = require(require('node:path').join(PACKAGE_DIR, 'lib', 'spawn.js'));
  await assert.rejects(new Children().nextCompletion(), /no job running/);
});

test('SIGTERM while a job runs stops the job and exits 143', { skip: needsWasm || process.platform === 'win32' }, async () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const { BIN } = require('../testlib/helpers.js');
  const dir = copyFixture(null, { 'package.json': '{}\n' });
  const pidFile = path.join(dir, 'debug-job.pid');
  const child = require('node:child_process').spawn(process.execPath, [BIN, '--help'], {
    cwd: dir,
    env: { ...process.env, CLOESCE_DEBUG_JOB: '1' },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  for (let i = 0; i < 100 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 100)); // the pid is written
  const jobPid = Number(fs.readFileSync(pidFile, 'utf8'));
  const started = Date.now();
  child.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 143, signal: null });
  assert.ok(Date.now() - started < 5000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(isAlive(jobPid), false, 'the job was stopped too');
});

/** True when `pid` runs (a zombie left to a pid 1 that never reaps is dead). */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === 'EPERM';
  }
  try {
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}
