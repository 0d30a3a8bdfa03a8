'use strict';
// The npm package's remote cache (Node's global fetch) against a real
// turborepo-remote-cache server: the one the Rust integration tests install
// under target/tmp/remote-cache-server (`cargo test --test integration remote`).
// Artifacts are the same bytes natively and under npm, so each restores the
// other's uploads.

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const test = require('node:test');

const { needsWasm, nativeBin, runNpm, runNative, tempDir, copyFixture } = require('../testlib/helpers.js');

const REPO = path.resolve(__dirname, '..', '..');
const SERVER_CLI = path.join(REPO, 'target', 'tmp', 'remote-cache-server', 'node_modules', 'turborepo-remote-cache', 'dist', 'cli.js');
const TOKEN = 'npm-test-token';
const TEAM = 'cloesce-npm';

const skip =
  needsWasm ||
  (fs.existsSync(SERVER_CLI) ? false : `no ${SERVER_CLI}: run \`cargo test -p cloesce --test integration remote\` first`) ||
  (process.platform === 'win32' ? 'uses sh' : false);

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startServer() {
  const storage = tempDir('cloesce-remote-store-');
  const port = await freePort();
  const child = childProcess.spawn(process.execPath, [SERVER_CLI], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      STORAGE_PROVIDER: 'local',
      STORAGE_PATH: storage,
      STORAGE_PATH_USE_TMP_FOLDER: 'false',
      TURBO_TOKEN: TOKEN,
      LOG_LEVEL: 'error',
    },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 30000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('turborepo-remote-cache did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, storage, stop: () => child.kill() };
}

const KDL =
  'cloesce version=1\n' +
  'rule "gen" {\n    inputs "src.txt"\n    outputs "out/gen.txt"\n    run "sh" "-c" "echo gen >> runs.log; mkdir -p out; cat src.txt src.txt > out/gen.txt"\n}\n' +
  'rule "top" {\n    inputs "out/gen.txt"\n    outputs "out/top.txt"\n    run "sh" "-c" "echo top >> runs.log; cat out/gen.txt > out/top.txt; echo top >> out/top.txt"\n}\n';

const project = () => copyFixture(null, { 'cloesce.kdl': KDL, 'src.txt': 'hello\n' });
const env = (url, token = TOKEN) => ({
  CLOESCE_REMOTE_CACHE_URL: url,
  CLOESCE_REMOTE_CACHE_TOKEN: token,
  CLOESCE_REMOTE_CACHE_TEAM: TEAM,
});
const summary = (result) => JSON.parse(result.stdout.trim().split('\n').filter((l) => l.includes('"summary"')).pop());
const runs = (dir) => (fs.existsSync(path.join(dir, 'runs.log')) ? fs.readFileSync(path.join(dir, 'runs.log'), 'utf8') : '');

test('the npm build uploads, and a fresh copy restores everything from the remote', { skip }, async () => {
  const server = await startServer();
  try {
    const a = project();
    const first = await runNpm(['run', '--json'], { cwd: a, env: env(server.url) });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(summary(first).uploaded, 2, first.stdout + first.stderr);
    assert.equal(fs.readdirSync(path.join(server.storage, TEAM)).length, 2);

    const b = project();
    const second = await runNpm(['run', '--json'], { cwd: b, env: env(server.url) });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(summary(second).remote_restored, 2, second.stdout);
    assert.equal(runs(b), '');
    for (const f of ['out/gen.txt', 'out/top.txt']) {
      assert.deepEqual(fs.readFileSync(path.join(b, f)), fs.readFileSync(path.join(a, f)), f);
    }

    if (nativeBin()) {
      // The native binary restores what the npm package uploaded.
      const c = project();
      const third = await runNative(['run'], { cwd: c, env: env(server.url) });
      assert.equal(third.code, 0, third.stderr);
      assert.match(third.stdout, /2 restored \(2 remote\)/);
      assert.equal(runs(c), '');
    }
  } finally {
    server.stop();
  }
});

test('npm: a server that is down costs one warning, a wrong token too', { skip }, async () => {
  const down = `http://127.0.0.1:${await freePort()}`;
  const a = project();
  const result = await runNpm(['run'], { cwd: a, env: env(down) });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(runs(a), 'gen\ntop\n');
  const warnings = result.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  assert.equal(warnings.length, 1, result.stderr);
  assert.match(warnings[0], /unreachable/);

  const server = await startServer();
  try {
    const b = project();
    const wrong = await runNpm(['run'], { cwd: b, env: env(server.url, 'wrong') });
    assert.equal(wrong.code, 0, wrong.stderr);
    assert.match(wrong.stderr, /refused the token \(HTTP 401\)/);
  } finally {
    server.stop();
  }
});
