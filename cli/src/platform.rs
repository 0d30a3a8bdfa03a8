//! `Platform`: what the CLI needs from the machine it runs on.
//!
//! The command-line application in this crate is shared by the native binary
//! and the npm package (compiled to WebAssembly). Everything that differs
//! between the two lives behind this trait: opening the project (a
//! [`Host`]), starting processes and waiting for them, and the terminal.
//! Waiting is `async` so the JS platform can await child processes on Node's
//! event loop; the native platform's futures are ready when polled.

use std::future::Future;

use cloesce_engine::host::Host;
use cloesce_engine::job::{Completion, Job, Os};

/// An HTTP request for the remote cache (see `commands/remote.rs`).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Chosen by the caller; echoed in the [`HttpResponse`].
    pub id: u64,
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Put,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
        }
    }
}

/// The answer to an [`HttpRequest`]: a status and body, or why there is none
/// (connection refused, timeout, …).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub id: u64,
    pub result: Result<(u16, Vec<u8>), String>,
}

/// Something started that finished: a job or an HTTP request.
#[derive(Debug)]
pub enum Finished {
    Job(Completion),
    Http(HttpResponse),
}

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A project opened on a platform.
pub struct Project<H> {
    pub host: H,
    /// The project root as an absolute, platform-native path (for messages
    /// and for resolving programs; never enters a key).
    pub root: String,
}

/// The machine the CLI runs on.
pub trait Platform {
    type Host: Host;

    /// Finds the project root, starting from `dir` (the `-C` flag) or the
    /// current folder and walking up to the nearest folder holding
    /// `cloesce.kdl` or `package.json` (else the start folder), and opens it.
    fn open_project(&self, dir: Option<&str>) -> std::io::Result<Project<Self::Host>>;

    /// Starts a job from the project root without waiting for it. `program`
    /// is the already-resolved absolute path for `job.argv[0]`.
    fn spawn(&self, root: &str, program: &str, job: Job);

    /// Waits until one started job finishes. Only called while jobs run.
    fn next_completion(&self) -> impl Future<Output = Completion>;

    /// True when `path` (absolute) is a file that could be run.
    fn is_executable(&self, path: &str) -> bool;

    /// The names in folder `dir` (absolute); empty when it cannot be read.
    /// Only asked after a program was not found, to say "did you mean".
    fn list_names(&self, dir: &str) -> Vec<String>;

    /// The conventions programs are resolved with.
    fn os(&self) -> Os;

    /// Writes text to a stream, unbuffered from the user's point of view.
    fn write(&self, stream: Stream, text: &str);

    /// True when the stream is an interactive terminal.
    fn is_terminal(&self, stream: Stream) -> bool;

    /// The number of jobs to run at once by default (CPU count).
    fn default_jobs(&self) -> usize;

    /// Runs `side(host)` while `main()` runs: on another thread where the
    /// platform has threads, else one after the other. For two independent
    /// reads of the project, such as the state beside the pipeline.
    fn alongside<T: Send, R>(
        &self,
        host: &Self::Host,
        side: impl FnOnce(&Self::Host) -> T + Send,
        main: impl FnOnce() -> R,
    ) -> (T, R) {
        let result = main();
        (side(host), result)
    }

    /// Asks the user: writes `question` to stderr and returns the line typed
    /// (without its end). `None`, and nothing written, unless stdin and
    /// stderr are both interactive terminals (a script or CI is never
    /// asked); `None` too at the end of input. The default asks no one.
    fn ask(&self, question: &str) -> impl Future<Output = Option<String>> {
        let _ = question;
        std::future::ready(None)
    }

    /// How the user runs cloesce, for commands shown as advice: `cloesce`
    /// for the native binary, `npx cloesce` for the npm package.
    fn invocation(&self) -> &'static str {
        "cloesce"
    }

    /// True when [`Platform::http`] works (the remote cache is usable).
    fn supports_http(&self) -> bool {
        false
    }

    /// Starts an HTTP request without waiting for it; its response comes
    /// back through [`Platform::next_finished`]. Requests are bounded in time
    /// (connect and whole-request timeouts) by the platform.
    fn http(&self, request: HttpRequest) {
        let _ = request;
    }

    /// Waits until one started job or HTTP request finishes; `None` when
    /// `timeout_ms` passed first. Platforms without HTTP only see jobs (and
    /// are never asked to wait with a timeout, having no requests).
    fn next_finished(&self, timeout_ms: Option<u64>) -> impl Future<Output = Option<Finished>> {
        let _ = timeout_ms;
        async move { Some(Finished::Job(self.next_completion().await)) }
    }

    /// A variable of cloesce's own environment (for `NO_COLOR`, `CI`, …;
    /// rules see theirs through the engine's allowlist).
    fn env_var(&self, name: &str) -> Option<String>;

    /// Waits `ms` milliseconds. The default returns at once.
    fn sleep(&self, ms: u32) -> impl Future<Output = ()> {
        let _ = ms;
        std::future::ready(())
    }

    /// For `run --watch`: starts watching every file under the project
    /// `root` (absolute), before the first round runs, so that no change
    /// made from then on is missed. False: this platform cannot watch (the
    /// default).
    fn start_watching(&self, root: &str) -> bool {
        let _ = root;
        false
    }

    /// For `run --watch`: waits until a file under the watched root changes,
    /// then until no change came for `debounce_ms`, and returns the changed
    /// paths relative to the root, with `/`. Paths equal to or under an
    /// entry of `ignore` (root-relative, `/`) do not count. Changes made since
    /// [`Platform::start_watching`] or the previous call count too. `None`:
    /// the watcher is gone (or was never started).
    fn wait_for_change(
        &self,
        ignore: &[String],
        debounce_ms: u32,
    ) -> impl Future<Output = Option<Vec<String>>> {
        let _ = (ignore, debounce_ms);
        std::future::ready(None)
    }
}

/// True when the root-relative `path` is `ignored` or below it.
pub fn is_ignored(path: &str, ignore: &[String]) -> bool {
    ignore.iter().any(|i| {
        let i = i.trim_end_matches('/');
        path == i
            || path
                .strip_prefix(i)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}
