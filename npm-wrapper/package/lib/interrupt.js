'use strict';
// Ctrl-C (SIGINT), SIGTERM and SIGHUP, as the native build handles them
// (cli/src/native/interrupt.rs):
//
// 1. the first signal marks the run interrupted (no new child starts, and no
//    child that ends from now on is reported, so nothing it wrote is
//    recorded, even if it traps SIGINT and exits 0) and sends SIGINT to
//    every rule's process group;
// 2. when they have all ended, or after GRACE_MS, or at a second signal,
//    whatever is left gets SIGKILL;
// 3. cloesce says so and exits 128 + the signal's number (130 for Ctrl-C).
//    The 'exit' handler in cli.js removes the lock file.
//
// With no child running (waiting for the lock, hashing, watching for
// changes) it exits at once. The handlers stay installed for the whole run:
// the engine never blocks the thread for long (waiting for the lock is a
// timer), so a signal is always handled promptly.

const fs = require('node:fs');
const os = require('node:os');

/** How long rules get to stop after SIGINT before SIGKILL. */
const GRACE_MS = 2000;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const MESSAGE = 'cloesce: interrupted; running rules were stopped and nothing they wrote was recorded\n';

/**
 * Installs the handlers for `children` (a `Children`). `exit(code)` ends the
 * process (default `process.exit`), after the message is written.
 * Returns a function that removes the handlers.
 */
function handleInterrupts(children, { exit = (code) => process.exit(code), graceMs = GRACE_MS } = {}) {
  let first = null;
  let done = false;
  let timer = null;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    try {
      fs.writeSync(2, MESSAGE);
    } catch {
      // stderr is gone: the exit code still says it.
    }
    exit(128 + (os.constants.signals[first] ?? 2));
  };
  const onSignal = (signal) => {
    if (first !== null) {
      // A second signal: stop waiting for the rules.
      children.killAll('SIGKILL');
      finish();
      return;
    }
    first = signal;
    children.interrupt();
    timer = setTimeout(() => {
      children.killAll('SIGKILL');
      finish();
    }, graceMs);
    children.onIdle(finish);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return () => {
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
}

module.exports = { handleInterrupts, GRACE_MS, MESSAGE };
