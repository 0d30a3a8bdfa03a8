'use strict';
// The platform object handed to the WebAssembly engine (`run(args, platform)`).
//
// Each method is one small synchronous Node call, except `spawn` and
// `nextCompletion` (lib/spawn.js). The Rust side (npm-wrapper/src/node.rs)
// declares the same list; keep them in step. Paths arrive absolute and
// platform-native. Errors are thrown as Node's own (`err.code` = "ENOENT"…),
// which Rust maps to `std::io::ErrorKind`. No logic lives here: walking up to
// the project root, resolving programs, lock staleness and messages are Rust.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { Children, commandFor } = require('./spawn.js');

// Nanoseconds since the epoch: a monotonic high-resolution clock anchored
// once to the wall clock, so readings never go backwards within a run.
const CLOCK_ANCHOR = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
const KINDS = { file: 0, dir: 1, symlink: 2 };
let tempCounter = 0;

/** Blocks the thread for `ms` (only used while waiting for the project lock). */
function sleepMs(ms) {
  Atomics.wait(SLEEPER, 0, 0, ms);
}

/**
 * `renameSync`, retried briefly on Windows, where a virus scanner or indexer
 * holding the target open makes it fail with EPERM/EACCES/EBUSY for a moment.
 */
function renameWithRetry(from, to) {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.renameSync(from, to);
      return;
    } catch (err) {
      const transient = ['EPERM', 'EACCES', 'EBUSY'].includes(err.code);
      if (process.platform !== 'win32' || !transient || attempt >= 10) throw err;
      sleepMs(10 * (attempt + 1));
    }
  }
}

function isExecutable(file) {
  try {
    if (!fs.statSync(file).isFile()) return false;
    if (process.platform === 'win32') return true;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `cloesce run --watch`: one recursive `fs.watch` on the project root, kept
 * between calls so changes made during a run are not lost. `next(ignore,
 * debounceMs)` resolves with the changed root-relative `/` paths once a
 * change that is not ignored came and then none for `debounceMs`; with null
 * where Node cannot watch recursively (Linux before Node 20).
 */
class ChangeWatcher {
  constructor(root) {
    this.root = root;
    this.changed = new Set();
    this.listener = null;
    this.watcher = fs.watch(root, { recursive: true }, (_event, name) => {
      if (name == null) return;
      this.changed.add(String(name).split(path.sep).join('/'));
      if (this.listener) this.listener();
    });
  }

  next(ignore, debounceMs) {
    const ignored = (p) => ignore.some((i) => p === i || p.startsWith(i.replace(/\/+$/, '') + '/'));
    return new Promise((resolve) => {
      let timer = null;
      let relevant = [];
      const check = () => {
        const fresh = [...this.changed].filter((p) => p !== '' && !ignored(p));
        this.changed.clear();
        if (fresh.length === 0) return;
        relevant = relevant.concat(fresh);
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.listener = null;
          resolve([...new Set(relevant)].sort());
        }, debounceMs);
      };
      this.listener = check;
      check();
    });
  }
}

/** Builds the platform object; `children` defaults to a fresh set. */
function createPlatform({ children = new Children(), ownedLocks = new Set() } = {}) {
  let changeWatcher = null;
  return {
    children,
    ownedLocks,

    // ---- process and terminal ----
    platform: () => process.platform,
    pid: () => process.pid,
    write(fd, text) {
      (fd === 2 ? process.stderr : process.stdout).write(text);
    },
    isTerminal: (fd) => (fd === 2 ? process.stderr : process.stdout).isTTY === true,
    defaultJobs: () => (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length),
    envVar: (name) => process.env[name],
    nowNs: () => CLOCK_ANCHOR + process.hrtime.bigint(),
    sleepMs,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    processAlive(pid) {
      try {
        process.kill(pid, 0);
      } catch (err) {
        return err.code === 'EPERM';
      }
      // A zombie (dead, never reaped: common under a container's pid 1)
      // still answers kill(pid, 0).
      if (process.platform === 'linux') {
        try {
          const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
          return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
        } catch {
          return true;
        }
      }
      return true;
    },

    // ---- paths ----
    resolvePath: (dir) => path.resolve(dir),
    dirname: (p) => path.dirname(p),

    // ---- files ----
    readFile: (file) => fs.readFileSync(file),
    lstat(file) {
      let st;
      try {
        st = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
      } catch (err) {
        if (err.code === 'ENOTDIR') return undefined; // a parent is a file
        throw err;
      }
      if (st === undefined) return undefined;
      const kind = st.isDirectory() ? KINDS.dir : st.isSymbolicLink() ? KINDS.symlink : KINDS.file;
      const executable = process.platform !== 'win32' && (st.mode & 0o111n) !== 0n ? 1n : 0n;
      const clamp = (n) => (n < 0n ? 0n : n);
      return new BigUint64Array([BigInt(kind), st.size, clamp(st.mtimeNs), clamp(st.ctimeNs), st.ino, executable]);
    },
    statKind(file) {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (st === undefined) return undefined;
      return st.isFile() ? 0 : st.isDirectory() ? 1 : 2;
    },
    writeAtomic(file, bytes, executable) {
      const dir = path.dirname(file);
      fs.mkdirSync(dir, { recursive: true });
      const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`);
      try {
        fs.writeFileSync(temp, bytes, { mode: executable ? 0o777 : 0o666 });
        renameWithRetry(temp, file);
      } catch (err) {
        try {
          fs.unlinkSync(temp);
        } catch {
          // Never created, or already renamed.
        }
        throw err;
      }
    },
    removeFile(file) {
      try {
        fs.unlinkSync(file);
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
    },
    removeDirAll(dir) {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
    listDir(dir) {
      return fs.readdirSync(dir, { withFileTypes: true }).map((entry) => {
        const kind = entry.isDirectory() ? 'd' : entry.isSymbolicLink() ? 'l' : 'f';
        return kind + entry.name;
      });
    },
    isExecutable,

    // ---- lock files ----
    createLockFile(file, content) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      let fd;
      try {
        fd = fs.openSync(file, 'wx');
      } catch (err) {
        if (err.code === 'EEXIST') return false;
        throw err;
      }
      ownedLocks.add(file);
      try {
        fs.writeSync(fd, content);
      } finally {
        fs.closeSync(fd);
      }
      return true;
    },
    releaseLockFile(file) {
      if (!ownedLocks.delete(file)) return;
      try {
        fs.unlinkSync(file);
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
    },
    fileAgeMs(file) {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      return st === undefined ? undefined : Date.now() - st.mtimeMs;
    },

    // ---- processes ----
    runToCompletion(cwd, program, args) {
      const { file, args: argv, verbatim } = commandFor(program, args);
      const result = childProcess.spawnSync(file, argv, {
        cwd,
        shell: false,
        windowsHide: true,
        windowsVerbatimArguments: verbatim,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60000,
      });
      return {
        status: result.status,
        signal: result.signal,
        error: result.error ? result.error.message : undefined,
        stdout: result.stdout,
        stderr: result.stderr,
      };
    },
    spawn(id, cwd, program, args, envList) {
      const env = {};
      for (let i = 0; i + 1 < envList.length; i += 2) env[envList[i]] = envList[i + 1];
      children.spawn(id, cwd, program, args, env);
    },
    nextCompletion: () => children.nextCompletion(),
    watchChanges(root, ignore, debounceMs) {
      try {
        if (!changeWatcher || changeWatcher.root !== root) changeWatcher = new ChangeWatcher(root);
      } catch {
        return Promise.resolve(null);
      }
      return changeWatcher.next(ignore, debounceMs);
    },
    // ---- the remote cache (Node's global fetch) ----
    http(id, method, url, headerList, body) {
      children.http(id, method, url, headerList, body);
    },
    nextFinished: (timeoutMs) => children.nextFinished(timeoutMs),

    /** Removes the lock files this process still holds (at exit). */
    releaseAllLocks() {
      for (const file of ownedLocks) {
        try {
          fs.unlinkSync(file);
        } catch {
          // Best effort: a stale lock is detected by its dead pid anyway.
        }
      }
      ownedLocks.clear();
    },
  };
}

module.exports = { createPlatform, isExecutable };
