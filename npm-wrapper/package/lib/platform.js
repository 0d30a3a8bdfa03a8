'use strict';
// The platform object handed to the WebAssembly engine (`run(args, platform)`).
//
// Each method is one small synchronous Node call, except `spawn` and
// `nextCompletion` (lib/spawn.js). The Rust side (npm-wrapper/src/node.rs)
// declares the same list; keep them in step. Paths arrive absolute and
// platform-native. Errors are thrown as Node's own (`err.code` = "ENOENT"…),
// which Rust maps to `std::io::ErrorKind`. No logic lives here: walking up to
// the project root, resolving programs, the lock protocol, symlink
// containment and messages are Rust.

const fs = require('node:fs');
// node:child_process is required where a process starts: loading it (with
// net and stream) costs start-up time a no-op run never needs.
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const { Children, commandFor } = require('./spawn.js');

// Nanoseconds since the epoch: a monotonic high-resolution clock anchored
// once to the wall clock, so readings never go backwards within a run.
const CLOCK_ANCHOR = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
const KINDS = { file: 0, dir: 1, symlink: 2 };

/** `lstatSync` with nanosecond times; `undefined` when nothing is there. */
function lstatOrUndefined(file) {
  try {
    return fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if (err.code === 'ENOTDIR') return undefined; // a parent is a file
    throw err;
  }
}

/** Writes kind, size, mtimeNs, ctimeNs, ino, executable into `out` at `at`. */
function statFields(st, out, at) {
  const kind = st.isDirectory() ? KINDS.dir : st.isSymbolicLink() ? KINDS.symlink : KINDS.file;
  const clamp = (n) => (n < 0n ? 0n : n);
  out[at] = BigInt(kind);
  out[at + 1] = st.size;
  out[at + 2] = clamp(st.mtimeNs);
  out[at + 3] = clamp(st.ctimeNs);
  out[at + 4] = st.ino;
  out[at + 5] = process.platform !== 'win32' && (st.mode & 0o111n) !== 0n ? 1n : 0n;
}

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

/**
 * Whether `file` is a file this process may run. Called for every candidate
 * while a rule's program is looked up on PATH, where most candidates are
 * missing: those answer without a thrown error, whose stack trace (through
 * the WebAssembly frames) cost more than the stat itself.
 */
function isExecutable(file) {
  try {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (st === undefined || !st.isFile()) return false;
    if (process.platform === 'win32') return true;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Directories never watched: they are big, or cloesce's own.
const UNWATCHED_DIRS = new Set(['.git', 'node_modules', '.cloesce']);

/**
 * `cloesce run --watch`: one non-recursive `fs.watch` per directory of the
 * project, set up synchronously when the watcher starts (Node's recursive
 * mode on Linux sets itself up asynchronously and may miss an edit made right
 * after it returns, and it walks node_modules). A new directory is watched as
 * soon as it appears; `.git`, `node_modules` and `.cloesce` never are.
 * Changes are kept between calls of `next(ignore, debounceMs)`, which
 * resolves with the changed root-relative `/` paths once a change that is not
 * ignored came and then none for `debounceMs`.
 */
class ChangeWatcher {
  constructor(root) {
    this.root = root;
    this.changed = new Set();
    this.listener = null;
    this.watchers = new Map();
    this.watchTree('');
  }

  /** Watches the directory `rel` (root-relative, `/`) and every one below. */
  watchTree(rel) {
    if (this.watchers.has(rel)) return;
    const dir = rel === '' ? this.root : path.join(this.root, ...rel.split('/'));
    let entries;
    try {
      const watcher = fs.watch(dir, (_event, name) => this.onEvent(rel, name));
      watcher.on('error', () => this.unwatch(rel));
      this.watchers.set(rel, watcher);
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (rel === '') throw err;
      return; // Gone already, or unreadable: nothing to watch.
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !UNWATCHED_DIRS.has(entry.name)) {
        this.watchTree(rel === '' ? entry.name : `${rel}/${entry.name}`);
      }
    }
  }

  unwatch(rel) {
    for (const [key, watcher] of this.watchers) {
      if (key === rel || key.startsWith(`${rel}/`)) {
        watcher.close();
        this.watchers.delete(key);
      }
    }
  }

  onEvent(rel, name) {
    if (name == null) return;
    const changed = rel === '' ? String(name) : `${rel}/${name}`;
    if (UNWATCHED_DIRS.has(String(name))) return;
    let isDir = false;
    try {
      isDir = fs.statSync(path.join(this.root, ...changed.split('/'))).isDirectory();
    } catch {
      this.unwatch(changed); // Removed: a directory's watchers go with it.
    }
    if (isDir) {
      // Files created before the watch started would be missed: count them.
      this.watchTree(changed);
      for (const file of listFiles(this.root, changed)) this.changed.add(file);
    }
    this.changed.add(changed);
    if (this.listener) this.listener();
  }

  close() {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
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

/** The root-relative `/` paths of the files below the directory `rel`. */
function listFiles(root, rel) {
  const found = [];
  let entries = [];
  try {
    entries = fs.readdirSync(path.join(root, ...rel.split('/')), { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const child = `${rel}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!UNWATCHED_DIRS.has(entry.name)) found.push(...listFiles(root, child));
    } else {
      found.push(child);
    }
  }
  return found;
}

/**
 * Builds the platform object; `children` defaults to a fresh set.
 * `ownedLocks` maps each lock file this process created to its bytes.
 */
function createPlatform({ children = new Children(), ownedLocks = new Map() } = {}) {
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
    ask(question) {
      if (!(process.stdin.isTTY && process.stderr.isTTY)) return Promise.resolve(null);
      process.stderr.write(question);
      return new Promise((resolve) => {
        const lines = readline.createInterface({ input: process.stdin, terminal: false });
        let answer = null;
        lines.once('line', (line) => {
          answer = line;
          lines.close();
        });
        lines.once('close', () => {
          // Nothing more is read: stdin must not keep the process alive.
          process.stdin.pause();
          resolve(answer);
        });
      });
    },
    defaultJobs: () => (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length),
    envVar: (name) => process.env[name],
    nowNs: () => CLOCK_ANCHOR + process.hrtime.bigint(),
    sleepMs,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    probeProcess(pid) {
      try {
        process.kill(pid, 0);
      } catch (err) {
        if (err.code === 'ESRCH') return 'gone';
        if (err.code !== 'EPERM') return 'unknown';
      }
      // Rust reads zombies and start times from the stat line (Linux).
      if (process.platform === 'linux') {
        try {
          return `running ${fs.readFileSync(`/proc/${pid}/stat`, 'utf8').trim()}`;
        } catch {
          // Gone since, or no /proc: the kill above decides.
        }
      }
      return 'running';
    },
    hostname: () => os.hostname(),

    // ---- paths ----
    resolvePath: (dir) => path.resolve(dir),
    dirname: (p) => path.dirname(p),
    realpath: (p) => fs.realpathSync.native(p),

    // ---- files ----
    readFile: (file) => fs.readFileSync(file),
    lstat(file) {
      const st = lstatOrUndefined(file);
      if (st === undefined) return undefined;
      const out = new BigUint64Array(6);
      statFields(st, out, 0);
      return out;
    },
    // Many lstats in one call (paths joined by NUL, which no path holds):
    // 7 numbers per path, the first 0 (nothing there), 1 (the 6 fields of
    // `lstat` follow) or 2 (the stat failed: the caller asks again alone).
    lstatMany(files) {
      const list = files.split('\0');
      const out = new BigUint64Array(list.length * 7);
      for (let i = 0; i < list.length; i++) {
        let st;
        try {
          st = lstatOrUndefined(list[i]);
        } catch {
          out[i * 7] = 2n;
          continue;
        }
        if (st === undefined) continue;
        out[i * 7] = 1n;
        statFields(st, out, i * 7 + 1);
      }
      return out;
    },
    statKind(file) {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (st === undefined) return undefined;
      return st.isFile() ? 0 : st.isDirectory() ? 1 : 2;
    },
    writeAtomic(file, bytes, executable, temp) {
      // Folders are made when missing, found by the ENOENT of the write or
      // the rename: almost every write goes into folders that exist, and
      // two `mkdir`s per write were 2,000 failing system calls on a cold
      // 1,000-rule build.
      const options = { mode: executable ? 0o777 : 0o666, flag: 'wx' };
      try {
        try {
          fs.writeFileSync(temp, bytes, options);
        } catch (err) {
          if (err.code !== 'ENOENT') throw err;
          fs.mkdirSync(path.dirname(temp), { recursive: true });
          fs.writeFileSync(temp, bytes, options);
        }
        try {
          renameWithRetry(temp, file);
        } catch (err) {
          if (err.code !== 'ENOENT') throw err;
          fs.mkdirSync(path.dirname(file), { recursive: true });
          renameWithRetry(temp, file);
        }
      } catch (err) {
        try {
          fs.unlinkSync(temp);
        } catch {
          // Never created, or already renamed.
        }
        throw err;
      }
    },
    readRange(file, offset, len) {
      const fd = fs.openSync(file, 'r');
      try {
        const out = Buffer.alloc(len);
        let filled = 0;
        while (filled < len) {
          const n = fs.readSync(fd, out, filled, len - filled, offset + filled);
          if (n === 0) break;
          filled += n;
        }
        return out.subarray(0, filled);
      } finally {
        fs.closeSync(fd);
      }
    },
    appendFile(file, bytes) {
      // O_APPEND: a store pack grows in place, so a run's many entries
      // create one file. O_NOFOLLOW (where the OS has it): a symlink put in
      // the pack's place is refused, never followed out of the project
      // (the engine checked only the folder above, as for every write).
      const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW = 0 } = fs.constants;
      const flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW;
      let fd;
      try {
        fd = fs.openSync(file, flags, 0o666);
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fd = fs.openSync(file, flags, 0o666);
      }
      try {
        let written = 0;
        while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
      } finally {
        fs.closeSync(fd);
      }
    },
    removeFile(file) {
      // A missing file (every output before a cold build's rule runs) is
      // answered without a thrown error: its stack trace, through the
      // WebAssembly frames, cost more than the system call.
      if (fs.lstatSync(file, { throwIfNoEntry: false }) === undefined) return;
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

    // ---- lock files (the protocol is Rust's: engine/src/lock.rs) ----
    createLockFile(file, content) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      let fd;
      try {
        fd = fs.openSync(file, 'wx');
      } catch (err) {
        if (err.code === 'EEXIST') return false;
        throw err;
      }
      const bytes = Buffer.from(content);
      ownedLocks.set(file, bytes);
      try {
        fs.writeSync(fd, bytes);
      } finally {
        fs.closeSync(fd);
      }
      return true;
    },
    removeLockFile(file) {
      ownedLocks.delete(file);
      try {
        fs.unlinkSync(file);
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
    },

    // ---- processes ----
    runToCompletion(cwd, program, args) {
      const { file, args: argv, verbatim } = commandFor(program, args);
      const result = require('node:child_process').spawnSync(file, argv, {
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
    startWatching(root) {
      if (changeWatcher) changeWatcher.close();
      try {
        changeWatcher = new ChangeWatcher(root);
        return true;
      } catch {
        changeWatcher = null;
        return false;
      }
    },
    stopWatching() {
      if (changeWatcher) changeWatcher.close();
      changeWatcher = null;
    },
    watchChanges(ignore, debounceMs) {
      return changeWatcher ? changeWatcher.next(ignore, debounceMs) : Promise.resolve(null);
    },
    // ---- the remote cache (Node's global fetch) ----
    http(id, method, url, headerList, body) {
      children.http(id, method, url, headerList, body);
    },
    nextFinished: (timeoutMs) => children.nextFinished(timeoutMs),

    /**
     * Removes the lock files this process still holds (at exit, however it
     * exits short of a hard kill), each only if it still holds what we wrote.
     */
    releaseAllLocks() {
      for (const [file, bytes] of ownedLocks) {
        try {
          if (fs.readFileSync(file).equals(bytes)) fs.unlinkSync(file);
        } catch {
          // Best effort: a stale lock is detected by its dead pid anyway.
        }
      }
      ownedLocks.clear();
    },
  };
}

module.exports = { createPlatform, isExecutable };
