'use strict';
// lib/engine.js: the module compiled in the background by prepareEngine() is
// the one the wasm-bindgen glue instantiates, and a failed preparation
// changes nothing about how loading fails.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');

const { needsWasm, PACKAGE_DIR, run, tempDir } = require('../testlib/helpers.js');

const ENGINE_JS = path.join(PACKAGE_DIR, 'lib', 'engine.js');

// Runs `body` (JS source) in a fresh Node and returns what it printed.
async function inNode(body, env = {}) {
  const result = await run(process.execPath, ['-e', body], { env: { ...process.env, ...env } });
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  return result.stdout.trim();
}

test('the glue instantiates the module prepareEngine() compiled', { skip: needsWasm }, async () => {
  const out = await inNode(`
    const engine = require(${JSON.stringify(ENGINE_JS)});
    const compile = WebAssembly.compile;
    let compiled = null;
    WebAssembly.compile = async (bytes) => (compiled = await compile(bytes));
    const SyncModule = WebAssembly.Module;
    let syncCompiles = 0;
    WebAssembly.Module = function (...args) { syncCompiles++; return new SyncModule(...args); };
    engine.prepareEngine().then(() => {
      const loaded = engine.loadEngine();
      console.log([compiled instanceof SyncModule, syncCompiles, loaded.version(), engine.PREPARED in globalThis].join(' '));
    });
  `);
  const version = require(path.join(PACKAGE_DIR, 'package.json')).version;
  assert.equal(out, `true 0 ${version} false`);
});

test('without preparation, or when it fails, the engine loads synchronously as before', { skip: needsWasm }, async () => {
  const plain = await inNode(`console.log(require(${JSON.stringify(ENGINE_JS)}).loadEngine().version())`);
  assert.equal(plain, require(path.join(PACKAGE_DIR, 'package.json')).version);
  // A folder without the engine: preparation resolves quietly and loading
  // reports the usual error.
  const missing = path.join(tempDir(), 'no-engine');
  fs.mkdirSync(missing);
  const out = await inNode(`
    const engine = require(${JSON.stringify(ENGINE_JS)});
    engine.prepareEngine(${JSON.stringify(missing)}).then(() => {
      try { engine.loadEngine(${JSON.stringify(missing)}); console.log('loaded?'); }
      catch (err) { console.log(err instanceof engine.EngineError, err.message.split('\\n')[0]); }
    });
  `);
  assert.match(out, /^true cloesce's WebAssembly engine could not be loaded from .*no-engine: /);
});
