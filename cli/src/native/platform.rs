//! `NativePlatform`: processes on job threads (`jobs.rs`), completions over a channel.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use cloesce_engine::job::{Completion, ExitStatus, Job, Os};

use super::host::NativeHost;
use crate::platform::{Finished, HttpRequest, HttpResponse, Platform, Project, Stream};

/// The OS conventions of the running binary.
pub fn native_os() -> Os {
    if cfg!(windows) {
        Os::Windows
    } else {
        Os::Unix
    }
}

/// The native machine.
pub struct NativePlatform {
    /// Jobs' and HTTP requests' threads report here.
    sender: Sender<Finished>,
    receiver: Mutex<Receiver<Finished>>,
    /// `run --watch`: the file watcher, started before the first round and
    /// kept, so changes during a run are not lost.
    watcher: Mutex<Option<super::watch::Watcher>>,
    /// For the remote cache; made on first use.
    http_agent: std::sync::OnceLock<ureq::Agent>,
    /// The threads that run rules' processes.
    jobs: super::jobs::Pool,
}

impl Default for NativePlatform {
    /// Also installs the Ctrl-C handling (see `interrupt.rs`): create the
    /// platform before starting any thread.
    fn default() -> Self {
        #[cfg(unix)]
        super::interrupt::install();
        let (sender, receiver) = channel();
        NativePlatform {
            sender,
            receiver: Mutex::new(receiver),
            watcher: Mutex::new(None),
            http_agent: std::sync::OnceLock::new(),
            jobs: super::jobs::Pool::default(),
        }
    }
}

/// Runs a future whose leaves block instead of returning `Pending` (all of
/// the native platform's do), on the current thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// The project root: the nearest folder at or above `start` holding
/// `cloesce.kdl` or `package.json`; `start` itself when there is none.
fn find_root(start: &Path) -> PathBuf {
    for dir in start.ancestors() {
        if dir.join("cloesce.kdl").is_file() || dir.join("package.json").is_file() {
            return dir.to_path_buf();
        }
    }
    start.to_path_buf()
}

impl Platform for NativePlatform {
    type Host = NativeHost;

    fn open_project(&self, dir: Option<&str>) -> std::io::Result<Project<NativeHost>> {
        let cwd = std::env::current_dir()?;
        let start = match dir {
            Some(d) => cwd.join(d),
            None => cwd,
        };
        let start = start
            .canonicalize()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", start.display())))?;
        if !start.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a folder", start.display()),
            ));
        }
        let root = find_root(&start);
        Ok(Project {
            root: root.to_string_lossy().into_owned(),
            host: NativeHost::new(root),
        })
    }

    fn spawn(&self, root: &str, program: &str, job: Job) {
        self.jobs.submit(super::jobs::Task {
            root: root.to_string(),
            program: program.to_string(),
            job,
            report: self.sender.clone(),
        });
    }

    fn next_completion(&self) -> impl Future<Output = Completion> {
        // HTTP responses are only awaited through `next_finished`; one
        // arriving here (no caller mixes the two) is dropped.
        let completion = match self.receiver.lock() {
            Ok(receiver) => loop {
                match receiver.recv() {
                    Ok(Finished::Job(completion)) => break Some(completion),
                    Ok(Finished::Http(_)) => continue,
                    Err(_) => break None,
                }
            },
            Err(_) => None,
        };
        // The sender lives in `self`, so `recv` only fails if a child thread
        // panicked while holding nothing: report it as a failed job 0 rather
        // than hanging.
        std::future::ready(completion.unwrap_or(Completion {
            id: cloesce_engine::job::JobId(0),
            status: ExitStatus::SpawnFailed("the job's thread was lost".into()),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }))
    }

    fn supports_http(&self) -> bool {
        true
    }

    fn http(&self, request: HttpRequest) {
        let sender = self.sender.clone();
        let agent = self.http_agent.get_or_init(super::http::agent).clone();
        std::thread::spawn(move || {
            let result = super::http::perform(&agent, &request);
            let _ = sender.send(Finished::Http(HttpResponse {
                id: request.id,
                result,
            }));
        });
    }

    fn next_finished(&self, timeout_ms: Option<u64>) -> impl Future<Output = Option<Finished>> {
        let finished = match self.receiver.lock() {
            Ok(receiver) => match timeout_ms {
                None => receiver.recv().ok(),
                Some(ms) => receiver
                    .recv_timeout(std::time::Duration::from_millis(ms))
                    .ok(),
            },
            Err(_) => None,
        };
        let lost = timeout_ms.is_none() && finished.is_none();
        std::future::ready(if lost {
            Some(Finished::Job(Completion {
                id: cloesce_engine::job::JobId(0),
                status: ExitStatus::SpawnFailed("the job's thread was lost".into()),
                stdout: Vec::new(),
                stderr: Vec::new(),
            }))
        } else {
            finished
        })
    }

    fn is_executable(&self, path: &str) -> bool {
        let path = Path::new(path);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            path.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        }
        #[cfg(not(unix))]
        path.is_file()
    }

    fn list_names(&self, dir: &str) -> Vec<String> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect()
    }

    fn os(&self) -> Os {
        native_os()
    }

    fn write(&self, stream: Stream, text: &str) {
        let _ = match stream {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|_| out.flush())
            }
            Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
        };
    }

    fn is_terminal(&self, stream: Stream) -> bool {
        match stream {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn default_jobs(&self) -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }

    fn alongside<T: Send, R>(
        &self,
        host: &NativeHost,
        side: impl FnOnce(&NativeHost) -> T + Send,
        main: impl FnOnce() -> R,
    ) -> (T, R) {
        // Taken by the thread, or by this one when no thread can be started.
        let slot = std::sync::Mutex::new(Some(side));
        let take = || slot.lock().ok().and_then(|mut side| side.take());
        std::thread::scope(|scope| {
            let thread =
                std::thread::Builder::new().spawn_scoped(scope, || take().map(|side| side(host)));
            let result = main();
            let value = match thread {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => take().map(|side| side(host)),
            };
            (value.expect("the side work runs once"), result)
        })
    }

    fn ask(&self, question: &str) -> impl Future<Output = Option<String>> {
        let stdin = std::io::stdin();
        let mut line = String::new();
        let answered = stdin.is_terminal()
            && std::io::stderr().is_terminal()
            && std::io::stderr()
                .lock()
                .write_all(question.as_bytes())
                .is_ok()
            && stdin.lock().read_line(&mut line).is_ok_and(|n| n > 0);
        let line = line.trim_end_matches(['\n', '\r']).to_string();
        std::future::ready(answered.then_some(line))
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn sleep(&self, ms: u32) -> impl Future<Output = ()> {
        std::thread::sleep(std::time::Duration::from_millis(ms.into()));
        std::future::ready(())
    }

    fn start_watching(&self, root: &str) -> bool {
        super::watch::start(&self.watcher, root)
    }

    fn wait_for_change(
        &self,
        ignore: &[String],
        debounce_ms: u32,
    ) -> impl Future<Output = Option<Vec<String>>> {
        std::future::ready(super::watch::wait_for_change(
            &self.watcher,
            ignore,
            debounce_ms,
        ))
    }
}
