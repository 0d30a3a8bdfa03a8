'use strict';
// The `cloesce` command on Node: loads the engine, builds the platform
// object, runs the CLI and sets the exit code. It never calls
// `process.exit()` on the normal path: Node exits once stdout/stderr have
// flushed and the event loop is empty.

const fs = require('node:fs');

const { loadEngine, prepareEngine, EngineError, PACKAGE } = require('./engine.js');
// platform.js, spawn.js and interrupt.js are required in main(), after the
// engine's module has started compiling in the background.

/** Exit code for an internal error (a bug in cloesce), like EX_SOFTWARE. */
const EXIT_INTERNAL = 70;
const INTERNAL = 'error: internal error in cloesce (this is a bug, please report it): ';

/** The text shown for a panic in the engine. */
function panicMessage(message, location) {
  return `${INTERNAL}${message}\n` + (location ? `  at ${location}\n` : '');
}

/**
 * `cloesce --version` (or `-V`) alone prints what clap prints in the engine,
 * `cloesce <version>`, without compiling the WebAssembly module: the version
 * is package.json's, which loadEngine() requires the engine to equal.
 */
function isVersionOnly(args) {
  return args.length === 1 && (args[0] === '--version' || args[0] === '-V');
}

/** Runs `cloesce` with the arguments after the program name. */
async function main(args) {
  if (isVersionOnly(args)) {
    process.stdout.write(`cloesce ${PACKAGE.version}\n`);
    return;
  }
  // V8 decodes the module on another thread while the host's JS loads.
  const engineReady = prepareEngine();
  const { createPlatform } = require('./platform.js');
  const { Children } = require('./spawn.js');
  const { handleInterrupts } = require('./interrupt.js');
  let stopped = false; // ended on purpose before the engine finished
  const platform = createPlatform({ children: new Children() });
  // Ctrl-C, SIGTERM, SIGHUP: stop the rules politely, then firmly, and exit
  // 130/143/129; the 'exit' handler below removes the lock file. Installed
  // before the engine loads, so a signal during start-up is handled too
  // (it is delivered once loading, which partly blocks, is done).
  handleInterrupts(platform.children, {
    exit(code) {
      stopped = true;
      process.exit(code);
    },
  });
  await engineReady;
  let engine;
  try {
    engine = loadEngine();
  } catch (err) {
    if (!(err instanceof EngineError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = EXIT_INTERNAL;
    return;
  }
  let failed = false;

  // Shows an internal error once, stops every child and sets the exit code.
  // The engine is unusable afterwards (a trap poisons the instance), so
  // nothing calls back into it; Node exits when the loop drains.
  const fail = (text) => {
    if (failed) return;
    failed = true;
    process.stderr.write(text);
    platform.children.killAll();
    process.exitCode = EXIT_INTERNAL;
  };
  engine.setPanicHandler((message, location) => fail(panicMessage(message, location)));
  // A panic traps (`RuntimeError: unreachable`) after the hook has run; the
  // trap surfaces from the microtask that polled the Rust future.
  const onError = (err) => fail(`${INTERNAL}${err && err.stack ? err.stack : err}\n`);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  let settled = false;
  process.on('exit', () => {
    platform.releaseAllLocks();
    // The event loop drained while the engine still waited on something
    // that can never happen: a bug, not a success.
    if (!settled && !failed && !stopped) {
      fs.writeSync(2, `${INTERNAL}the engine stopped before finishing (it waited on nothing)\n`);
      process.exitCode = EXIT_INTERNAL;
    }
  });
  // `cloesce | head` closes stdout early: stop quietly, like the native build.
  process.stdout.on('error', (err) => {
    if (err.code !== 'EPIPE') return onError(err);
    stopped = true;
    platform.children.killAll();
    process.exit(process.exitCode ?? 0);
  });

  // argv[0] is the program name as the native binary sees it.
  const code = await engine.run(['cloesce', ...args], platform);
  settled = true;
  platform.children.close();
  if (!failed) process.exitCode = code;
}

module.exports = { main, panicMessage, EXIT_INTERNAL };
