'use strict';
// Loads the WebAssembly engine (wasm-bindgen `--target nodejs` output in
// ../wasm/) and refuses one whose version differs from this package's: a
// half-updated install must fail clearly, not misbehave.

const path = require('node:path');

const PACKAGE = require('../package.json');

/** Thrown when the engine cannot be used; `message` is for the user. */
class EngineError extends Error {}

/**
 * Loads the engine from `dir` (default: the package's wasm/ folder) and
 * checks its version against package.json's.
 */
function loadEngine(dir = process.env.CLOESCE_WASM_DIR || path.join(__dirname, '..', 'wasm')) {
  let engine;
  try {
    engine = require(path.join(dir, 'cloesce_wasm.js'));
  } catch (err) {
    throw new EngineError(
      `cloesce's WebAssembly engine could not be loaded from ${dir}: ${String(err.message).split('\n')[0]}\n` +
        `reinstall the package: npm install -D cloesce@${PACKAGE.version}`,
    );
  }
  const version = engine.version();
  if (version !== PACKAGE.version) {
    throw new EngineError(
      `cloesce's WebAssembly engine is version ${version} but the package is version ${PACKAGE.version}\n` +
        `the install is broken or half-updated; reinstall it: npm install -D cloesce@${PACKAGE.version}`,
    );
  }
  return engine;
}

module.exports = { loadEngine, EngineError, PACKAGE };
