'use strict';
// lib/interrupt.js over a stand-in for Children: what each signal does to
// the running rules and when cloesce exits. (The real thing, with processes,
// is the Rust integration suite's faults::ctrl_c_* run through the npm
// package by scripts/test.sh.)

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { PACKAGE_DIR } = require('../testlib/helpers.js');
const { handleInterrupts } = require(path.join(PACKAGE_DIR, 'lib', 'interrupt.js'));

/** A Children stand-in that records what it was told. */
function fakeChildren(running) {
  const calls = [];
  const idle = [];
  return {
    calls,
    interrupt: () => calls.push('interrupt'),
    killAll: (signal) => calls.push(`kill ${signal}`),
    onIdle: (callback) => (running ? idle.push(callback) : callback()),
    /** The last child closes. */
    end: () => idle.splice(0).forEach((callback) => callback()),
  };
}

/** Installs the handlers, and a Promise of the exit code. */
function install(children, graceMs = 60000) {
  let resolve;
  const exited = new Promise((r) => (resolve = r));
  const remove = handleInterrupts(children, { exit: resolve, graceMs });
  return { exited, remove };
}

test('with no rule running, Ctrl-C exits 130 at once', async () => {
  const children = fakeChildren(false);
  const { exited, remove } = install(children);
  process.emit('SIGINT', 'SIGINT');
  assert.equal(await exited, 130);
  assert.deepEqual(children.calls, ['interrupt']);
  remove();
});

test('rules get SIGINT, and cloesce exits once they have ended', async () => {
  const children = fakeChildren(true);
  const { exited, remove } = install(children);
  let code = null;
  exited.then((c) => (code = c));
  process.emit('SIGTERM', 'SIGTERM');
  await new Promise((r) => setImmediate(r));
  assert.equal(code, null, 'exited while a rule still ran');
  children.end();
  assert.equal(await exited, 143);
  assert.deepEqual(children.calls, ['interrupt'], 'no SIGKILL for rules that stopped');
  remove();
});

test('a second Ctrl-C kills the rules at once', async () => {
  const children = fakeChildren(true);
  const { exited, remove } = install(children);
  process.emit('SIGINT', 'SIGINT');
  process.emit('SIGINT', 'SIGINT');
  assert.equal(await exited, 130);
  assert.deepEqual(children.calls, ['interrupt', 'kill SIGKILL']);
  remove();
});

test('rules that ignore SIGINT are killed when the grace period ends', async () => {
  const children = fakeChildren(true);
  const { exited, remove } = install(children, 10);
  process.emit('SIGINT', 'SIGINT');
  assert.equal(await exited, 130);
  assert.deepEqual(children.calls, ['interrupt', 'kill SIGKILL']);
  remove();
});
