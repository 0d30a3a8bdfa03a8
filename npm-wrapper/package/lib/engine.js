'use strict';
// Loads the WebAssembly engine (wasm-bindgen `--target nodejs` output in
// ../wasm/) and refuses one whose version differs from this package's: a
// half-updated install must fail clearly, not misbehave.

const path = require('node:path');

const PACKAGE = require('../package.json');

/** Thrown when the engine cannot be used; `message` is for the user. */
class EngineError extends Error {}

/**
 * V8 flags for compiling the engine, set before the first compile. Node 20
 * already compiles each function lazily, on its first call (only ~20% of the
 * module runs in a typical command), but still validates every function body
 * up front, which was the largest part of `new WebAssembly.Module` (about
 * 10 ms of CPU for the 2.4 MB module). With lazy validation a body is checked
 * when it is compiled, so a corrupt .wasm fails with a CompileError at the
 * first call of a broken function (an internal error, exit 70) instead of
 * while loading. `--wasm-lazy-compilation` is named too for older Node
 * versions where it is not the default.
 *
 * The tiering budget is 100 times V8's default (1.8 M "bytes executed" per
 * function before it is recompiled by the optimising compiler). With the
 * default, a cold build of 1,000 rules spent ~0.2 s of CPU on V8's
 * background threads optimising functions that had nearly finished their
 * work (the KDL parser, the encoders), more than the faster code saved: a
 * command runs seconds, not minutes. Functions hot enough to pass the larger
 * budget (a long `--watch`) are still optimised. docs/performance.md,
 * "Session 7: the npm cold build".
 */
const V8_FLAGS = ['--wasm-lazy-compilation', '--wasm-lazy-validation', '--wasm-tiering-budget=180000000'];

let flagsSet = false;

/** Sets V8_FLAGS once; `CLOESCE_WASM_EAGER=1` leaves V8's defaults alone. */
function setCompileFlags() {
  if (flagsSet || process.env.CLOESCE_WASM_EAGER === '1') return;
  flagsSet = true;
  const v8 = require('node:v8');
  for (const flag of V8_FLAGS) v8.setFlagsFromString(flag);
}

/** The folder holding the engine: `CLOESCE_WASM_DIR`, else the package's wasm/. */
function defaultDir() {
  return process.env.CLOESCE_WASM_DIR || path.join(__dirname, '..', 'wasm');
}

/**
 * Where a module compiled by prepareEngine() waits for the wasm-bindgen glue:
 * scripts/build-npm.sh makes the glue take it from here instead of reading
 * and compiling the .wasm itself (synchronously).
 */
const PREPARED = Symbol.for('cloesce.wasmModule');

/** `{ dir, module }` once prepareEngine() has compiled the module in `dir`. */
let prepared = null;

/**
 * Starts compiling the engine's module in the background so the rest of the
 * host can load meanwhile; loadEngine() then instantiates what was compiled.
 * The file is read synchronously (about 1 ms): `WebAssembly.compile` then
 * decodes it on V8's background threads while the main thread goes on
 * requiring lib/ (an asynchronous read would deliver its chunks only once
 * those requires are done, and the decode would start after them). Returns a
 * Promise that resolves once compiled and never rejects: on any failure
 * loadEngine() does it all again synchronously and reports the error as usual.
 */
function prepareEngine(dir = defaultDir()) {
  setCompileFlags();
  prepared = null;
  let bytes;
  try {
    bytes = require('node:fs').readFileSync(path.join(dir, 'cloesce_wasm_bg.wasm'));
  } catch {
    return Promise.resolve();
  }
  return WebAssembly.compile(bytes).then(
    (module) => {
      prepared = { dir, module };
    },
    () => {},
  );
}

/**
 * Loads the engine from `dir` (default: the package's wasm/ folder) and
 * checks its version against package.json's.
 */
function loadEngine(dir = defaultDir()) {
  let engine;
  setCompileFlags();
  if (prepared && prepared.dir === dir) globalThis[PREPARED] = prepared.module;
  try {
    engine = require(path.join(dir, 'cloesce_wasm.js'));
  } catch (err) {
    throw new EngineError(
      `cloesce's WebAssembly engine could not be loaded from ${dir}: ${String(err.message).split('\n')[0]}\n` +
        `reinstall the package: npm install -D cloesce@${PACKAGE.version}`,
    );
  } finally {
    delete globalThis[PREPARED];
    prepared = null;
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

module.exports = { loadEngine, prepareEngine, EngineError, PACKAGE, PREPARED };
