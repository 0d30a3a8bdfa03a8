'use strict';
// The npm watcher (lib/platform.js) on its own: no WebAssembly needed.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');

const { createPlatform } = require('../package/lib/platform.js');

function project() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloesce-watch-'));
  fs.mkdirSync(path.join(dir, 'src', 'deep'), { recursive: true });
  fs.mkdirSync(path.join(dir, '.cloesce'));
  fs.mkdirSync(path.join(dir, 'node_modules', 'pkg'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'deep', 'a.ts'), 'a');
  return dir;
}

test('an edit made right after the watcher starts is seen', async () => {
  const dir = project();
  const platform = createPlatform();
  assert.equal(platform.startWatching(dir), true);
  fs.writeFileSync(path.join(dir, 'src', 'deep', 'a.ts'), 'b');
  const changed = await platform.watchChanges([], 50);
  assert.deepEqual(changed, ['src/deep/a.ts']);
  platform.stopWatching();
});

test('ignored paths and unwatched folders do not count; a new folder does', async () => {
  const dir = project();
  const platform = createPlatform();
  assert.equal(platform.startWatching(dir), true);
  fs.writeFileSync(path.join(dir, '.cloesce', 'state'), 'x');
  fs.writeFileSync(path.join(dir, 'node_modules', 'pkg', 'index.js'), 'x');
  fs.mkdirSync(path.join(dir, 'out'));
  fs.writeFileSync(path.join(dir, 'out', 'gen.ts'), 'x');
  fs.mkdirSync(path.join(dir, 'src', 'new', 'deeper'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'new', 'deeper', 'b.ts'), 'x');
  const changed = await platform.watchChanges(['out'], 100);
  assert.ok(changed.includes('src/new/deeper/b.ts'), `missing the new file in ${changed}`);
  assert.ok(!changed.some((p) => p.startsWith('out') || p.startsWith('.cloesce') || p.startsWith('node_modules')), `${changed}`);

  // The new folder is watched from now on.
  fs.writeFileSync(path.join(dir, 'src', 'new', 'deeper', 'b.ts'), 'y');
  assert.deepEqual(await platform.watchChanges(['out'], 50), ['src/new/deeper/b.ts']);
  platform.stopWatching();
});

test('without a started watcher there is nothing to wait for', async () => {
  assert.equal(await createPlatform().watchChanges([], 10), null);
  assert.equal(createPlatform().startWatching(path.join(os.tmpdir(), 'cloesce-no-such-dir')), false);
});
