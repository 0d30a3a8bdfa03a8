'use strict';
// Child processes for rules: started through the spawner (lib/spawner.js,
// one perl process per run, on Linux and other forking POSIX systems) or
// else with one `child_process.spawn` per job; either way no shell, output
// captured into buffers, and a queue of finished children that the engine
// awaits one at a time (`nextCompletion`). Nothing here blocks the event
// loop, so every started child runs at once and output keeps flowing.

// node:child_process is required where a process starts: loading it (with
// net and stream) costs start-up time a no-op run never needs.
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');

// Characters cmd.exe treats specially, escaped with `^`.
const CMD_META = /([()\][%!^"`<>&|;, *?])/g;
// npm's `.cmd` shims pass their arguments on with `%*`, which makes cmd.exe
// parse them a second time: their metacharacters need escaping twice.
const NPM_CMD_SHIM = /node_modules[\\/]\.bin[\\/][^\\/]+\.cmd$/i;

/** True when Windows can only run `program` through cmd.exe. */
function needsCmd(program, platform = process.platform) {
  return platform === 'win32' && /\.(cmd|bat)$/i.test(program);
}

/**
 * Quotes one argument for `cmd.exe /d /s /c "…"` running a batch file.
 *
 * Since CVE-2024-27980 (Node 18.20.2 / 20.12.2 / 21.7.3) `spawn` refuses a
 * `.cmd`/`.bat` program without `shell: true`, and a shell string is what
 * cloesce never builds from argv. So the batch file is run as
 * `cmd.exe /d /s /c "<command line>"` with `windowsVerbatimArguments`, and
 * each argument is quoted in two layers (the algorithm of
 * https://qntm.org/cmd, as used by the `cross-spawn` package):
 * 1. for the program's own argv parser (MSVCRT rules): backslashes before a
 *    `"` or before the closing quote are doubled, `"` becomes `\"`, and the
 *    whole argument is wrapped in quotes;
 * 2. for cmd.exe: every metacharacter, quotes included, gets a `^`, so
 *    `&`, `|`, `<`, `>`, `%VAR%` and friends stay literal; twice for npm
 *    shims, which re-parse their arguments.
 */
function quoteCmdArg(arg, doubleEscape = false) {
  let quoted = String(arg);
  // Backslashes followed by a quote: double them and escape the quote.
  quoted = quoted.replace(/(\\*)"/g, '$1$1\\"');
  // Backslashes at the end (before the closing quote we add): double them.
  quoted = quoted.replace(/(\\*)$/, '$1$1');
  quoted = `"${quoted}"`;
  quoted = quoted.replace(CMD_META, '^$1');
  if (doubleEscape) quoted = quoted.replace(CMD_META, '^$1');
  return quoted;
}

/** Escapes the batch file's own path for cmd.exe (no quotes: `^` only). */
function quoteCmdProgram(program) {
  return path.win32.normalize(program).replace(CMD_META, '^$1');
}

/**
 * What to pass to `spawn` to run `program args` without a shell.
 * Returns `{ file, args, verbatim }`; `verbatim` means the arguments are a
 * finished Windows command line (`windowsVerbatimArguments`).
 */
function commandFor(program, args, platform = process.platform, comspec) {
  if (!needsCmd(program, platform)) return { file: program, args, verbatim: false };
  const doubleEscape = NPM_CMD_SHIM.test(program);
  const line = [quoteCmdProgram(program), ...args.map((a) => quoteCmdArg(a, doubleEscape))].join(' ');
  const shell = comspec || process.env.ComSpec || process.env.COMSPEC || 'cmd.exe';
  return { file: shell, args: ['/d', '/s', '/c', `"${line}"`], verbatim: true };
}

const EMPTY = new Uint8Array(0);

/**
 * Sends `signal` to a child and everything it started: on Unix each child
 * leads its own process group (`detached`), so the group is signalled, as
 * the native build does; on Windows the child itself.
 */
function signalTree(child, signal) {
  if (process.platform !== 'win32' && child.pid !== undefined) {
    try {
      process.kill(-child.pid, signal);
      return;
    } catch {
      // The group is gone; try the child itself.
    }
  }
  try {
    child.kill(signal);
  } catch {
    // Already gone.
  }
}

/** The running and finished children of one cloesce process. */
class Children {
  /**
   * `spawner`: true or false to use the spawner (lib/spawner.js) or not,
   * whatever CLOESCE_SPAWNER and the platform say; `perl`: the perl to run
   * it with instead of the one on PATH (both for tests).
   */
  constructor({ spawner, perl } = {}) {
    this.useSpawner = spawner;
    this.perl = perl;
    this.running = new Map(); // id -> ChildProcess
    this.finished = []; // completions not yet handed out
    this.waiter = null; // resolve function of a pending nextCompletion()
    this.httpRunning = 0; // remote cache requests in flight (see http())
    // Set by interrupt(): nothing new starts and nothing ends is reported.
    this.interrupted = false;
    this.idleCallbacks = [];
    this.spawnerState = undefined; // see spawner(): undefined until the first job
  }

  /**
   * Ctrl-C: from now on no child starts and no completion reaches the
   * engine (so an interrupted rule is never recorded, whatever its exit
   * code); every running child's process group gets SIGINT.
   */
  interrupt() {
    this.interrupted = true;
    this.finished = [];
    this.killAll('SIGINT');
  }

  /** Calls `callback` (synchronously) once no child runs. */
  onIdle(callback) {
    if (this.running.size === 0) callback();
    else this.idleCallbacks.push(callback);
  }

  /** Starts `program args` in `cwd` with exactly `env`; never throws. */
  spawn(id, cwd, program, args, env) {
    if (this.interrupted) return; // never started, never reported
    const spawner = this.spawner();
    if (spawner) this.spawnThrough(spawner, id, cwd, program, args, env);
    else this.spawnDirect(id, cwd, program, args, env);
  }

  /**
   * The run's spawner, started at the first job (a no-op never starts it);
   * null where it is not wanted, perl is missing, or it broke before it
   * was ready.
   */
  spawner() {
    if (this.spawnerState === undefined) {
      const { Spawner, findPerl, wanted } = require('./spawner.js');
      const perl = (this.useSpawner ?? wanted()) ? this.perl || findPerl() : null;
      this.spawnerState = perl ? new Spawner(perl, (jobs, ready, reason) => this.spawnerBroke(jobs, ready, reason)) : null;
    }
    return this.spawnerState;
  }

  // The spawner failed to start (none of its jobs started: they start
  // now, directly) or died (its jobs end with an error).
  spawnerBroke(jobs, ready, reason) {
    this.spawnerState = null;
    for (const job of jobs) {
      const { id, cwd, program, args, env } = job.request;
      this.running.delete(id);
      if (!ready && !this.interrupted) this.spawnDirect(id, cwd, program, args, env);
      else this.settle(id, { code: null, signal: null, error: reason, stdout: EMPTY, stderr: EMPTY });
    }
  }

  spawnThrough(spawner, id, cwd, program, args, env) {
    const job = spawner.start(id, cwd, program, args, env, {
      started: () => {},
      failed: (errno) => this.settle(id, { code: null, signal: null, error: describe({ errno: -errno }), stdout: EMPTY, stderr: EMPTY }),
      ended: (code, signal, stdout, stderr) => this.settle(id, { code, signal, error: null, stdout, stderr }),
    });
    job.request = { id, cwd, program, args, env };
    this.running.set(id, job);
  }

  // Reports a finished job of the spawner and wakes whoever waits for idle.
  settle(id, completion) {
    this.running.delete(id);
    this.finish({ id, ...completion });
    if (this.running.size === 0) {
      const callbacks = this.idleCallbacks;
      this.idleCallbacks = [];
      for (const callback of callbacks) callback();
    }
  }

  /** Starts one job with `child_process.spawn` (Windows, macOS, no perl). */
  spawnDirect(id, cwd, program, args, env) {
    const { file, args: argv, verbatim } = commandFor(program, args);
    let child;
    try {
      child = require('node:child_process').spawn(file, argv, {
        cwd,
        env,
        shell: false,
        windowsHide: true,
        windowsVerbatimArguments: verbatim,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group (Unix), so a terminal's Ctrl-C reaches
        // cloesce only and cloesce can stop the rule with all it started.
        detached: process.platform !== 'win32',
      });
    } catch (err) {
      this.settle(id, { code: null, signal: null, error: describe(err), stdout: EMPTY, stderr: EMPTY });
      return;
    }
    this.running.set(id, child);
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (chunk) => stdout.push(chunk));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    let done = false;
    const settle = (completion) => {
      if (done) return;
      done = true;
      this.settle(id, {
        stdout: new Uint8Array(Buffer.concat(stdout)),
        stderr: new Uint8Array(Buffer.concat(stderr)),
        ...completion,
      });
    };
    child.on('error', (err) => {
      // Only a failure to start ends the job here; other errors (a failed
      // kill) are followed by 'close' as usual.
      if (child.pid === undefined) settle({ code: null, signal: null, error: describe(err) });
    });
    // 'close' comes after the streams ended, so the output is complete.
    child.on('close', (code, signal) => {
      const number = signal ? os.constants.signals[signal] ?? 0 : null;
      settle({ code: signal ? null : code, signal: number, error: null });
    });
  }

  /**
   * Starts an HTTP request for the remote cache with Node's global `fetch`
   * (bounded by `timeoutMs` in total); its answer is queued like a child's
   * completion, as `{ kind: 'http', id, status, body, error }`. Never throws.
   */
  http(id, method, url, headerList, body, timeoutMs = Number(process.env.CLOESCE_REMOTE_CACHE_TIMEOUT_MS) || 20000) {
    this.httpRunning += 1;
    const headers = {};
    for (let i = 0; i + 1 < headerList.length; i += 2) headers[headerList[i]] = headerList[i + 1];
    const settle = (result) => {
      this.httpRunning -= 1;
      this.finish({ kind: 'http', id, status: 0, body: EMPTY, error: null, ...result });
    };
    let started;
    try {
      started = fetch(url, {
        method,
        headers,
        body: method === 'PUT' ? body : undefined,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'follow',
      });
    } catch (err) {
      settle({ error: describeFetch(err) });
      return;
    }
    started
      .then(async (response) => ({ status: response.status, body: new Uint8Array(await response.arrayBuffer()) }))
      .then(settle, (err) => settle({ error: describeFetch(err) }));
  }

  /**
   * A Promise of the next finished child or HTTP request; with `timeoutMs`,
   * resolves to `null` when nothing finished in time. Rejects when nothing
   * is running or waiting to be reported.
   */
  nextFinished(timeoutMs) {
    if (this.interrupted) return new Promise(() => {}); // the process is ending
    if (this.finished.length > 0) return Promise.resolve(this.finished.shift());
    if ((this.running.size === 0 && this.httpRunning === 0) || this.waiter) {
      return Promise.reject(new Error('nextFinished() called with nothing running'));
    }
    return new Promise((resolve) => {
      let timer = null;
      const waiter = (value) => {
        if (timer !== null) clearTimeout(timer);
        resolve(value);
      };
      this.waiter = waiter;
      if (timeoutMs !== undefined && timeoutMs !== null) {
        timer = setTimeout(() => {
          if (this.waiter === waiter) {
            this.waiter = null;
            resolve(null);
          }
        }, timeoutMs);
      }
    });
  }

  finish(completion) {
    if (this.interrupted) return;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = null;
      resolve(completion);
    } else {
      this.finished.push(completion);
    }
  }

  /**
   * A Promise of the next finished child. Rejects only when no child is
   * running or waiting to be reported: waiting then would hang forever (the
   * event loop would drain and Node would exit 0), so the engine is told.
   */
  nextCompletion() {
    if (this.interrupted) return new Promise(() => {}); // the process is ending
    if (this.finished.length > 0) return Promise.resolve(this.finished.shift());
    if (this.running.size === 0 || this.waiter) {
      return Promise.reject(new Error('nextCompletion() called with no job running'));
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** The run is over: the spawner, if one was started, exits (see Spawner.close). */
  close() {
    if (this.spawnerState) this.spawnerState.close();
  }

  /** Signals every running child's process group (an internal error, an interrupt). */
  killAll(signal = 'SIGTERM') {
    for (const child of this.running.values()) signalTree(child, signal);
  }
}

// Says why a child could not start the way Rust's `io::Error` would on
// Unix ("No such file or directory (os error 2)"), so the native and npm
// builds print the same thing.
function describe(err) {
  const errno = err && typeof err.errno === 'number' ? err.errno : undefined;
  const known = errno !== undefined ? util.getSystemErrorMap().get(errno) : undefined;
  if (!known) return err && err.message ? err.message : String(err);
  const text = known[1].charAt(0).toUpperCase() + known[1].slice(1);
  return process.platform === 'win32' ? text : `${text} (os error ${-errno})`;
}

// Why a fetch failed, in one line ("connect ECONNREFUSED 127.0.0.1:9").
function describeFetch(err) {
  if (err && err.name === 'TimeoutError') return 'timed out';
  const cause = err && err.cause;
  if (cause && cause.message) return cause.message;
  return err && err.message ? err.message : String(err);
}

module.exports = { Children, signalTree, commandFor, quoteCmdArg, quoteCmdProgram, needsCmd };
