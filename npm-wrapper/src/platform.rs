//! `JsPlatform`: the CLI's [`Platform`] on Node.
//!
//! Child processes are the one asynchronous part. [`Platform::spawn`] asks JS
//! to start a child with `child_process.spawn` and returns at once; JS
//! collects its output and, when it closes, queues a completion.
//! [`Platform::next_completion`] awaits a Promise of the next queued
//! completion, which hands control back to Node's event loop until a child
//! finishes: output flushes, and every started child runs at the same time.

use std::future::Future;
use std::io;

use cloesce::platform::{Finished, HttpRequest, HttpResponse};
use cloesce::{Platform, Project, Stream};
use cloesce_engine::job::{Completion, ExitStatus, Job, JobId, Os};
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::host::{join_native, JsHost};
use crate::node::{get, Node};

// The platform object's methods that only the `Platform` methods below use
// (lib/platform.js, lib/spawn.js).
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// Starts watching the tree under `root` (`fs.watch`); false when Node
    /// cannot.
    #[wasm_bindgen(method, js_name = startWatching)]
    fn start_watching(this: &Node, root: &str) -> bool;

    /// A Promise of the changed root-relative paths, or null when no
    /// watcher runs.
    #[wasm_bindgen(method, js_name = watchChanges)]
    fn watch_changes(this: &Node, ignore: Vec<String>, debounce_ms: u32) -> js_sys::Promise;
}

/// The project markers [`Platform::open_project`] walks up to.
pub const PROJECT_MARKERS: &[&str] = &["cloesce.kdl", "package.json"];

pub struct JsPlatform {
    node: Node,
    os: Os,
}

impl JsPlatform {
    pub fn new(node: Node) -> JsPlatform {
        let os = if node.platform() == "win32" {
            Os::Windows
        } else {
            Os::Unix
        };
        JsPlatform { node, os }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Waits `ms` milliseconds without blocking Node's event loop (the same
    /// as [`Platform::sleep`]).
    pub async fn sleep(&self, ms: u32) {
        let _ = JsFuture::from(self.node.sleep(ms)).await;
    }
}

fn fd(stream: Stream) -> u32 {
    match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    }
}

/// Turns the JS completion object into a [`Completion`].
fn completion_from_js(value: &wasm_bindgen::JsValue) -> Completion {
    let id = JobId(get(value, "id").as_f64().unwrap_or(0.0) as u32);
    let bytes = |key: &str| -> Vec<u8> {
        get(value, key)
            .dyn_into::<Uint8Array>()
            .map(|a| a.to_vec())
            .unwrap_or_default()
    };
    let status = if let Some(error) = get(value, "error").as_string() {
        ExitStatus::SpawnFailed(error)
    } else if let Some(signal) = get(value, "signal").as_f64() {
        ExitStatus::Signal(signal as i32)
    } else {
        ExitStatus::Code(get(value, "code").as_f64().unwrap_or(-1.0) as i32)
    };
    Completion {
        id,
        status,
        stdout: bytes("stdout"),
        stderr: bytes("stderr"),
    }
}

impl Platform for JsPlatform {
    type Host = JsHost;

    fn open_project(&self, dir: Option<&str>) -> io::Result<Project<JsHost>> {
        let start = self.node.resolve_path(dir.unwrap_or(""));
        match self.node.stat_kind(&start) {
            Some(1) => {}
            Some(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("`{start}` is not a folder"),
                ))
            }
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("the folder `{start}` does not exist"),
                ))
            }
        }
        let mut current = start.clone();
        let root = loop {
            let marked = PROJECT_MARKERS
                .iter()
                .any(|m| self.node.stat_kind(&join_native(&current, m, self.os)) == Some(0));
            if marked {
                break current;
            }
            let parent = self.node.dirname(&current);
            if parent == current {
                break start;
            }
            current = parent;
        };
        Ok(Project {
            host: JsHost::new(self.node.clone(), root.clone(), self.os),
            root,
        })
    }

    fn spawn(&self, root: &str, program: &str, job: Job) {
        let args = job.argv.get(1..).unwrap_or_default().to_vec();
        let env = job
            .env
            .into_iter()
            .flat_map(|(name, value)| [name, value])
            .collect();
        self.node.spawn(job.id.0, root, program, args, env);
    }

    fn next_completion(&self) -> impl Future<Output = Completion> {
        let promise = self.node.next_completion();
        async move {
            match JsFuture::from(promise).await {
                Ok(value) => completion_from_js(&value),
                // Rejected only when no job runs: a bug in the caller.
                Err(err) => {
                    let message = crate::node::get(&err, "message")
                        .as_string()
                        .unwrap_or_else(|| format!("{err:?}"));
                    panic!("waiting for a job: {message}")
                }
            }
        }
    }

    fn supports_http(&self) -> bool {
        true
    }

    fn http(&self, request: HttpRequest) {
        let headers = request
            .headers
            .into_iter()
            .flat_map(|(name, value)| [name, value])
            .collect();
        self.node.http(
            request.id as f64,
            request.method.as_str(),
            &request.url,
            headers,
            request.body,
        );
    }

    fn next_finished(&self, timeout_ms: Option<u64>) -> impl Future<Output = Option<Finished>> {
        let promise = self.node.next_finished(timeout_ms.map(|ms| ms as f64));
        async move {
            let value = match JsFuture::from(promise).await {
                Ok(value) => value,
                Err(err) => {
                    let message = crate::node::get(&err, "message")
                        .as_string()
                        .unwrap_or_else(|| format!("{err:?}"));
                    panic!("waiting for a job: {message}")
                }
            };
            if value.is_null() || value.is_undefined() {
                return None;
            }
            if get(&value, "kind").as_string().as_deref() == Some("http") {
                let id = get(&value, "id").as_f64().unwrap_or(0.0) as u64;
                let result = match get(&value, "error").as_string() {
                    Some(error) => Err(error),
                    None => Ok((
                        get(&value, "status").as_f64().unwrap_or(0.0) as u16,
                        get(&value, "body")
                            .dyn_into::<Uint8Array>()
                            .map(|a| a.to_vec())
                            .unwrap_or_default(),
                    )),
                };
                return Some(Finished::Http(HttpResponse { id, result }));
            }
            Some(Finished::Job(completion_from_js(&value)))
        }
    }

    fn is_executable(&self, path: &str) -> bool {
        self.node.is_executable(path)
    }

    fn list_names(&self, dir: &str) -> Vec<String> {
        // Each entry is its kind letter followed by its name.
        let entries = self.node.list_dir(dir).unwrap_or_default();
        entries
            .into_iter()
            .filter_map(|entry| entry.get(1..).map(str::to_string))
            .collect()
    }

    fn os(&self) -> Os {
        self.os
    }

    fn write(&self, stream: Stream, text: &str) {
        self.node.write(fd(stream), text);
    }

    fn is_terminal(&self, stream: Stream) -> bool {
        self.node.is_terminal(fd(stream))
    }

    fn default_jobs(&self) -> usize {
        self.node.default_jobs().max(1) as usize
    }

    fn ask(&self, question: &str) -> impl Future<Output = Option<String>> {
        let promise = self.node.ask(question);
        async move {
            JsFuture::from(promise)
                .await
                .ok()
                .and_then(|v| v.as_string())
        }
    }

    fn invocation(&self) -> &'static str {
        "npx cloesce"
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.node.env_var(name)
    }

    fn sleep(&self, ms: u32) -> impl Future<Output = ()> {
        let promise = self.node.sleep(ms);
        async move {
            let _ = JsFuture::from(promise).await;
        }
    }

    fn start_watching(&self, root: &str) -> bool {
        self.node.start_watching(root)
    }

    fn wait_for_change(
        &self,
        ignore: &[String],
        debounce_ms: u32,
    ) -> impl Future<Output = Option<Vec<String>>> {
        let promise = self.node.watch_changes(ignore.to_vec(), debounce_ms);
        async move {
            let value = JsFuture::from(promise).await.ok()?;
            if value.is_null() || value.is_undefined() {
                return None;
            }
            let array: js_sys::Array = value.dyn_into().ok()?;
            Some(array.iter().filter_map(|v| v.as_string()).collect())
        }
    }
}
