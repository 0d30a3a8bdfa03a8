'use strict';
// Developer-experience commands through the npm build: doctor, init,
// completions give the same bytes as the native binary; run --watch works
// over Node's fs.watch.

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');

const { BIN, needsWasm, nativeBin, compareNativeAndNpm, copyFixture, normalize } = require('../testlib/helpers.js');

const skip = needsWasm || (nativeBin() ? false : 'no native binary (cargo build -p cloesce or CLOESCE_NATIVE_BIN)');

const edit = (file, change) => (dir) => {
  const p = path.join(dir, file);
  fs.writeFileSync(p, change(fs.readFileSync(p, 'utf8')));
};

test('doctor: healthy, after a build, a model error, a broken cloesce.kdl', { skip }, async () => {
  const [healthy, , built, broken, kdl] = await compareNativeAndNpm('kennel', [
    ['doctor'],
    ['run'],
    ['doctor'],
    edit('src/kennel.cloesce.ts', (t) => t.replace('  @PrimaryKey\n', '')),
    ['doctor'],
    (dir) => fs.writeFileSync(path.join(dir, 'cloesce.kdl'), 'cloesce version=1\nrule "x" { bogus 1 }\n'),
    ['doctor'],
  ]);
  assert.equal(healthy.code, 0);
  assert.equal(built.code, 0);
  assert.match(built.stdout, /store integrity +\d+ blob\(s\)/);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /cloesce::model::missing_primary_key/);
  assert.equal(kdl.code, 1);
  assert.match(kdl.stdout, /cloesce::pipeline::unknown_node/);
});

test('init, then doctor and run; init again refuses', { skip }, async () => {
  // Advice names the command the user typed: `cloesce` natively, `npx cloesce` under npm.
  const fix = (text, dir) => normalize(text, dir).replace(/npx cloesce /g, 'cloesce ');
  const [init, , , again] = await compareNativeAndNpm(
    'kennel',
    [['init'], ['doctor'], ['run'], ['init'], ['completions', 'bash']],
    { fix },
  );
  assert.equal(init.code, 0);
  assert.match(init.stdout, /\nNext:\n {2}npx cloesce doctor {4}check the project/);
  assert.match(init.stdout, /\n {2}npx cloesce run {7}build it\n$/);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /run `npx cloesce init` again \(node_modules\/cloesce\/docs\/pipeline\.md/);
});

test('run --watch rebuilds after an edit (fs.watch)', { skip: needsWasm }, async () => {
  const dir = copyFixture('kennel');
  const child = childProcess.spawn(process.execPath, [BIN, 'run', '--watch'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const until = async (what, f) => {
    const start = Date.now();
    while (!f()) {
      if (Date.now() - start > 15000) throw new Error(`timed out waiting for ${what}\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const rounds = () => err.split('watching for changes').length - 1;
  try {
    await until('the first run', () => rounds() === 1);
    assert.match(out, /cloesce: 6 ran/);
    edit('src/kennel.cloesce.ts', (s) => s + '\n// an edit\n')(dir);
    await until('the second run', () => rounds() === 2);
    assert.match(err, /changed: src\/kennel\.cloesce\.ts/);
    assert.match(out, /cloesce: 1 ran, 5 fresh/);
  } finally {
    child.kill('SIGINT');
  }
});
