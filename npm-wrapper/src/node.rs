//! `Node`: the JS object the npm package hands to [`crate::run`].
//!
//! Every method is a small synchronous wrapper over one Node API (or, for
//! `spawn`/`nextCompletion`, over `child_process.spawn` and a Promise). The
//! JS side lives in `package/lib/platform.js`; the two lists must agree. Paths
//! are absolute, platform-native strings: [`crate::host::JsHost`] joins
//! workspace-relative paths to the project root before calling in.
//!
//! Methods marked `catch` throw Node errors (`{ code: "ENOENT", errno, message }`),
//! which [`io_error`] turns into `std::io::Error` with the matching kind.

use std::io;

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The platform object built by `lib/platform.js`.
    #[derive(Clone)]
    pub type Node;

    // ---- process and terminal ----
    /// `process.platform`.
    #[wasm_bindgen(method)]
    pub fn platform(this: &Node) -> String;
    /// `process.pid`.
    #[wasm_bindgen(method)]
    pub fn pid(this: &Node) -> u32;
    /// Writes text to stdout (1) or stderr (2).
    #[wasm_bindgen(method)]
    pub fn write(this: &Node, fd: u32, text: &str);
    /// `isTTY` of stdout (1) or stderr (2).
    #[wasm_bindgen(method, js_name = isTerminal)]
    pub fn is_terminal(this: &Node, fd: u32) -> bool;
    /// Writes the question to stderr and resolves to the line typed, or to
    /// null (nothing written) unless stdin and stderr are terminals, or at
    /// the end of input.
    #[wasm_bindgen(method)]
    pub fn ask(this: &Node, question: &str) -> Promise;
    /// `os.availableParallelism()`.
    #[wasm_bindgen(method, js_name = defaultJobs)]
    pub fn default_jobs(this: &Node) -> u32;
    /// `process.env[name]`.
    #[wasm_bindgen(method, js_name = envVar)]
    pub fn env_var(this: &Node, name: &str) -> Option<String>;
    /// Wall-clock nanoseconds since the Unix epoch (BigInt).
    #[wasm_bindgen(method, js_name = nowNs)]
    pub fn now_ns(this: &Node) -> u64;
    /// Blocks for `ms` milliseconds (`Atomics.wait`). Only used while waiting
    /// for the project lock, when no child runs.
    #[wasm_bindgen(method, js_name = sleepMs)]
    pub fn sleep_ms(this: &Node, ms: u32);
    /// A Promise resolved after `ms` milliseconds (`setTimeout`).
    #[wasm_bindgen(method)]
    pub fn sleep(this: &Node, ms: u32) -> Promise;
    /// `process.kill(pid, 0)`: `"gone"` (ESRCH), `"unknown"` (another
    /// error), or `"running"` followed by a space and the `/proc/<pid>/stat`
    /// line where there is one (Linux).
    #[wasm_bindgen(method, js_name = probeProcess)]
    pub fn probe_process(this: &Node, pid: u32) -> String;
    /// `os.hostname()`.
    #[wasm_bindgen(method)]
    pub fn hostname(this: &Node) -> String;

    // ---- paths ----
    /// `path.resolve(dir)` (so `""` is the current folder).
    #[wasm_bindgen(method, js_name = resolvePath)]
    pub fn resolve_path(this: &Node, dir: &str) -> String;
    /// `path.dirname(p)`.
    #[wasm_bindgen(method)]
    pub fn dirname(this: &Node, p: &str) -> String;
    /// `fs.realpathSync.native(p)`: the canonical path (symlinks resolved).
    #[wasm_bindgen(method, catch)]
    pub fn realpath(this: &Node, p: &str) -> Result<String, JsValue>;

    // ---- files ----
    /// `readFileSync`.
    #[wasm_bindgen(method, catch, js_name = readFile)]
    pub fn read_file(this: &Node, path: &str) -> Result<Vec<u8>, JsValue>;
    /// `lstatSync(p, { bigint: true })` as
    /// `[kind (0 file, 1 dir, 2 symlink), size, mtimeNs, ctimeNs, ino, executable]`,
    /// `undefined` when nothing is there.
    #[wasm_bindgen(method, catch)]
    pub fn lstat(this: &Node, path: &str) -> Result<Option<Vec<u64>>, JsValue>;
    /// `lstat` of many paths at once (joined by NUL): 7 numbers per path,
    /// `0` (nothing there), `1` and the 6 fields of `lstat`, or `2` (failed).
    #[wasm_bindgen(method, catch, js_name = lstatMany)]
    pub fn lstat_many(this: &Node, paths: &str) -> Result<Vec<u64>, JsValue>;
    /// `statSync` (follows symlinks): 0 file, 1 dir, 2 other; `undefined` when
    /// nothing is there.
    #[wasm_bindgen(method, js_name = statKind)]
    pub fn stat_kind(this: &Node, path: &str) -> Option<u32>;
    /// Write to the new file `temp` (its folder and `path`'s are made),
    /// then `renameSync` it to `path`; `temp` is removed on failure.
    #[wasm_bindgen(method, catch, js_name = writeAtomic)]
    pub fn write_atomic(
        this: &Node,
        path: &str,
        bytes: &[u8],
        executable: bool,
        temp: &str,
    ) -> Result<(), JsValue>;
    /// Up to `len` bytes of `path` from byte `offset` (`openSync`,
    /// `readSync` at a position, `closeSync`).
    #[wasm_bindgen(method, catch, js_name = readRange)]
    pub fn read_range(this: &Node, path: &str, offset: f64, len: f64) -> Result<Vec<u8>, JsValue>;
    /// `appendFileSync` (its folder made when missing).
    #[wasm_bindgen(method, catch, js_name = appendFile)]
    pub fn append_file(this: &Node, path: &str, bytes: &[u8]) -> Result<(), JsValue>;
    /// `unlinkSync`, ignoring ENOENT.
    #[wasm_bindgen(method, catch, js_name = removeFile)]
    pub fn remove_file(this: &Node, path: &str) -> Result<(), JsValue>;
    /// `rmSync(p, { recursive: true, force: true })`.
    #[wasm_bindgen(method, catch, js_name = removeDirAll)]
    pub fn remove_dir_all(this: &Node, path: &str) -> Result<(), JsValue>;
    /// `readdirSync(p, { withFileTypes: true })`, each entry as its kind
    /// letter (`f`, `d`, `l`) followed by its name.
    #[wasm_bindgen(method, catch, js_name = listDir)]
    pub fn list_dir(this: &Node, path: &str) -> Result<Vec<String>, JsValue>;
    /// True when `path` names a file that could be run.
    #[wasm_bindgen(method, js_name = isExecutable)]
    pub fn is_executable(this: &Node, path: &str) -> bool;

    // ---- lock files ----
    /// Creates `path` (and its folders) with `openSync(path, "wx")` holding
    /// `content`; false when it already exists. Remembers it so it is
    /// removed at exit (if it still holds `content`).
    #[wasm_bindgen(method, catch, js_name = createLockFile)]
    pub fn create_lock_file(this: &Node, path: &str, content: &[u8]) -> Result<bool, JsValue>;
    /// Removes a lock file (ENOENT ignored) and forgets it.
    #[wasm_bindgen(method, catch, js_name = removeLockFile)]
    pub fn remove_lock_file(this: &Node, path: &str) -> Result<(), JsValue>;

    // ---- processes ----
    /// `spawnSync` for `--version`-style queries only. Returns
    /// `{ status, signal, error, stdout, stderr }` (strings for the streams).
    #[wasm_bindgen(method, js_name = runToCompletion)]
    pub fn run_to_completion(this: &Node, cwd: &str, program: &str, args: Vec<String>) -> JsValue;
    /// Starts a child with `child_process.spawn` (no shell). `env` is a flat
    /// `[name, value, name, value, …]` list and is the child's whole environment.
    #[wasm_bindgen(method)]
    pub fn spawn(
        this: &Node,
        id: u32,
        cwd: &str,
        program: &str,
        args: Vec<String>,
        env: Vec<String>,
    );
    /// A Promise of the next finished child:
    /// `{ id, code, signal, error, stdout: Uint8Array, stderr: Uint8Array }`.
    #[wasm_bindgen(method, js_name = nextCompletion)]
    pub fn next_completion(this: &Node) -> Promise;

    // ---- the remote cache ----
    /// Starts an HTTP request with `fetch`; `headers` is a flat
    /// `[name, value, …]` list. The answer arrives through `nextFinished`.
    #[wasm_bindgen(method)]
    pub fn http(this: &Node, id: f64, method: &str, url: &str, headers: Vec<String>, body: Vec<u8>);
    /// A Promise of the next finished child (as `nextCompletion`) or HTTP
    /// request (`{ kind: "http", id, status, body, error }`); `null` when
    /// `timeout_ms` passed first.
    #[wasm_bindgen(method, js_name = nextFinished)]
    pub fn next_finished(this: &Node, timeout_ms: Option<f64>) -> Promise;
}

/// Reads a property of a JS object (`undefined` when it cannot).
pub fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Turns a thrown JS value into an `io::Error`.
///
/// Node's system errors carry `code` (`"ENOENT"`), a negative `errno` and a
/// message such as `ENOENT: no such file or directory, open '/x'`. The kind
/// comes from the code. On Unix the text is made to read like Rust's own
/// (`No such file or directory (os error 2)`), so the native and npm builds
/// print the same diagnostics.
pub fn io_error(err: JsValue, unix: bool) -> io::Error {
    let code = get(&err, "code").as_string();
    let message = get(&err, "message")
        .as_string()
        .or_else(|| err.as_string())
        .unwrap_or_else(|| format!("{err:?}"));
    let Some(code) = code else {
        return io::Error::other(message);
    };
    let kind = error_kind(&code);
    // "ENOENT: no such file or directory, open '/x'" -> "no such file or directory"
    let description = message
        .strip_prefix(&format!("{code}: "))
        .map(|rest| rest.split(", ").next().unwrap_or(rest).to_string());
    let errno = get(&err, "errno").as_f64();
    let text = match (description, errno) {
        (Some(description), Some(errno)) if unix && errno < 0.0 => {
            let mut chars = description.chars();
            let capitalised: String = match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            };
            format!("{capitalised} (os error {})", -errno as i64)
        }
        (Some(description), _) => description,
        (None, _) => message,
    };
    io::Error::new(kind, text)
}

/// The `io::ErrorKind` for a Node / libuv error code.
pub fn error_kind(code: &str) -> io::ErrorKind {
    use io::ErrorKind::*;
    match code {
        "ENOENT" => NotFound,
        "EACCES" | "EPERM" => PermissionDenied,
        "EEXIST" => AlreadyExists,
        "ENOTDIR" => NotADirectory,
        "EISDIR" | "ERR_FS_EISDIR" => IsADirectory,
        "ENOTEMPTY" => DirectoryNotEmpty,
        "EBUSY" => ResourceBusy,
        "ETXTBSY" => ExecutableFileBusy,
        "ENOSPC" => StorageFull,
        "EDQUOT" => QuotaExceeded,
        "EROFS" => ReadOnlyFilesystem,
        "EFBIG" => FileTooLarge,
        "EXDEV" => CrossesDevices,
        "EMLINK" => TooManyLinks,
        "ENAMETOOLONG" => InvalidFilename,
        "E2BIG" => ArgumentListTooLong,
        "EINVAL" | "ERR_INVALID_ARG_VALUE" | "ERR_INVALID_ARG_TYPE" => InvalidInput,
        "EINTR" => Interrupted,
        "ETIMEDOUT" => TimedOut,
        "EPIPE" => BrokenPipe,
        "EAGAIN" => WouldBlock,
        "ENOMEM" => OutOfMemory,
        "ENOSYS" | "ENOTSUP" | "EOPNOTSUPP" => Unsupported,
        "ESPIPE" => NotSeekable,
        "EDEADLK" => Deadlock,
        "ESTALE" => StaleNetworkFileHandle,
        _ => Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_error_codes_map_to_io_error_kinds() {
        assert_eq!(error_kind("ENOENT"), io::ErrorKind::NotFound);
        assert_eq!(error_kind("EPERM"), io::ErrorKind::PermissionDenied);
        assert_eq!(error_kind("EEXIST"), io::ErrorKind::AlreadyExists);
        assert_eq!(error_kind("ENOTDIR"), io::ErrorKind::NotADirectory);
        assert_eq!(error_kind("ENOSPC"), io::ErrorKind::StorageFull);
        assert_eq!(error_kind("ERR_SOMETHING_NEW"), io::ErrorKind::Other);
    }
}
