//! # cloesce-wasm
//!
//! The `cloesce` CLI compiled to WebAssembly for the npm package. This crate
//! is glue only: the application is `cloesce::main` (the `cli/` crate), run
//! over [`platform::JsPlatform`] and [`host::JsHost`], which call the small
//! synchronous functions of `package/lib/platform.js` ([`node::Node`]) and
//! await child processes as Promises.
//!
//! Exports (see `package/lib/engine.js` for the JS side):
//! - `version()`: this build's version, checked against `package.json` at start.
//! - `setPanicHandler(fn)`: where the panic hook sends `(message, location)`.
//! - `run(args, platform)`: a Promise of the exit code.
//! - `__debugHost`, `__debugJobs`: test hooks for the JS host (not API).
//!
//! A panic cannot be caught on `wasm32-unknown-unknown`: it traps
//! (`RuntimeError: unreachable`) and the instance is dead. The hook installed
//! at start-up runs first and hands the message to JS, which prints it as an
//! internal error and exits with code 70.

pub mod host;
pub mod node;
pub mod platform;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use cloesce::Platform;
use cloesce_engine::host::{FileStat, Host};
use cloesce_engine::job::{resolve_program, Job, JobId, ENV_ALLOWLIST};
use cloesce_engine::lock::{self, Attempt};
use cloesce_engine::WorkspacePath;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::node::Node;
use crate::platform::JsPlatform;

/// The version of this build; `package.json` must say the same.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

thread_local! {
    static PANIC_HANDLER: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Installs the panic hook when the module is instantiated.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(panic_hook));
}

/// Sets the JS function the panic hook calls with `(message, location)`.
#[wasm_bindgen(js_name = setPanicHandler)]
pub fn set_panic_handler(handler: Function) {
    PANIC_HANDLER.with(|slot| *slot.borrow_mut() = Some(handler));
}

fn panic_hook(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    };
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    PANIC_HANDLER.with(|slot| {
        if let Ok(slot) = slot.try_borrow() {
            if let Some(handler) = slot.as_ref() {
                let _ = handler.call2(
                    &JsValue::NULL,
                    &JsValue::from_str(&message),
                    &JsValue::from_str(&location),
                );
            }
        }
    });
}

/// Runs the CLI with `args` (including the program name) on the JS
/// `platform` object; resolves to the exit code.
///
/// `CLOESCE_DEBUG_*` variables switch on test behaviour first
/// ([`debug_switches`]).
#[wasm_bindgen]
pub fn run(args: Vec<String>, platform: JsValue) -> Promise {
    let node: Node = platform.unchecked_into();
    wasm_bindgen_futures::future_to_promise(async move {
        let platform = JsPlatform::new(node);
        // Boxed behind `dyn` so the test hooks' code stays out of this
        // future's function, which V8 compiles on every run.
        let hooks: Pin<Box<dyn Future<Output = ()> + '_>> = Box::pin(debug_switches(&platform));
        hooks.await;
        let code = cloesce::main(args, &platform).await;
        Ok(JsValue::from(code))
    })
}

/// Starts `node -e SCRIPT` from the project root as job 0 (test hooks only).
fn debug_spawn_node(platform: &JsPlatform, script: &str) {
    let Ok(project) = platform.open_project(None) else {
        return;
    };
    let path_var = project
        .host
        .env_var("PATH")
        .or_else(|| project.host.env_var("Path"));
    let pathext = project.host.env_var("PATHEXT");
    let exists = |p: &str| platform.is_executable(p);
    let Some(node) = resolve_program(
        "node",
        &project.root,
        path_var.as_deref(),
        pathext.as_deref(),
        platform.os(),
        &exists,
    ) else {
        return;
    };
    let job = Job {
        id: JobId(0),
        rule: "debug".to_string(),
        argv: vec!["node".to_string(), "-e".to_string(), script.to_string()],
        env: path_var
            .map(|p| ("PATH".to_string(), p))
            .into_iter()
            .collect(),
    };
    platform.spawn(&project.root, &node, job);
}

/// The debug switches of [`run`], read from the environment:
/// - `CLOESCE_DEBUG_PANIC=1`: panic before the CLI starts.
/// - `CLOESCE_DEBUG_PANIC=after-spawn`: start a 30-second child, let the
///   event loop turn, then panic; JS must kill the child and exit 70 at once.
/// - `CLOESCE_DEBUG_JOB=1`: run a child that writes its pid to
///   `debug-job.pid` and sleeps 30 s, and wait for it (signal tests).
async fn debug_switches(platform: &JsPlatform) {
    let node = platform.node();
    match node.env_var("CLOESCE_DEBUG_PANIC").as_deref() {
        Some("1") => panic!("forced panic (CLOESCE_DEBUG_PANIC=1)"),
        Some("after-spawn") => {
            debug_spawn_node(platform, "setTimeout(() => {}, 30000)");
            let _ = wasm_bindgen_futures::JsFuture::from(Promise::resolve(&JsValue::NULL)).await;
            panic!("forced panic while a job runs (CLOESCE_DEBUG_PANIC=after-spawn)");
        }
        _ => {}
    }
    if node.env_var("CLOESCE_DEBUG_JOB").as_deref() == Some("1") {
        debug_spawn_node(
            platform,
            "require('fs').writeFileSync('debug-job.pid', String(process.pid)); setTimeout(() => {}, 30000)",
        );
        platform.next_completion().await;
    }
}

/// Test hook: opens the project at `dir` and runs host operations, one per
/// line of `ops` (`read P`, `write P TEXT`, `write+x P TEXT`, `stat P`,
/// `list [P]`, `rm P`, `rmdir P`, `env NAME`, `now`, `tool ARGV…`,
/// `trylock P`, `lock P`, `unlock P`, `root`). Returns one line per
/// operation: `ok …` or `err KIND: message`.
/// A stat as the `stat` op of [`debug_host`] shows it.
fn describe_stat(stat: Option<&FileStat>) -> String {
    match stat {
        None => "none".to_string(),
        Some(s) => format!(
            "{:?} size={} exec={} mtime>0={} ino>0={}",
            s.kind,
            s.size,
            s.executable,
            s.mtime_ns > 0,
            s.inode > 0
        ),
    }
}

#[wasm_bindgen(js_name = __debugHost)]
pub fn debug_host(platform: JsValue, dir: Option<String>, ops: Vec<String>) -> Vec<String> {
    let platform = JsPlatform::new(platform.unchecked_into());
    let project = match platform.open_project(dir.as_deref()) {
        Ok(project) => project,
        Err(err) => return vec![format!("err {:?}: {err}", err.kind())],
    };
    let host = &project.host;
    // Locks taken by `trylock`/`lock`, released by `unlock`.
    let locks = RefCell::new(Vec::<lock::HeldLock>::new());
    let path = |raw: &str| WorkspacePath::new(raw).expect("a valid workspace path");
    ops.iter()
        .map(|op| {
            let mut words = op.splitn(3, ' ');
            let verb = words.next().unwrap_or("");
            let arg = words.next().unwrap_or("");
            let rest = words.next().unwrap_or("");
            let result: std::io::Result<String> = match verb {
                "root" => Ok(project.root.clone()),
                "read" => host
                    .read(&path(arg))
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
                "write" | "write+x" => host
                    .write_atomic(&path(arg), rest.as_bytes(), verb == "write+x")
                    .map(|()| String::new()),
                "stat" => host.stat(&path(arg)).map(|s| describe_stat(s.as_ref())),
                // `stat-many a b c`: every stat of one `stat_many` call, in
                // full (times and inode), then the same paths one by one.
                "stat-many" => {
                    let paths: Vec<WorkspacePath> = op.split(' ').skip(1).map(path).collect();
                    let show = |r: std::io::Result<Option<FileStat>>| match r {
                        Ok(s) => format!("{s:?}"),
                        Err(e) => format!("err {:?}", e.kind()),
                    };
                    let many: Vec<String> = host.stat_many(&paths).into_iter().map(show).collect();
                    let one: Vec<String> = paths.iter().map(|p| show(host.stat(p))).collect();
                    Ok(format!("{}\n{}", many.join(" | "), one.join(" | ")))
                }
                "list" => {
                    let dir = (!arg.is_empty()).then(|| path(arg));
                    host.list_dir(dir.as_ref()).map(|mut entries| {
                        entries.sort_by(|a, b| a.name.cmp(&b.name));
                        entries
                            .iter()
                            .map(|e| format!("{}:{:?}", e.name, e.kind))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                }
                "rm" => host.remove_file(&path(arg)).map(|()| String::new()),
                "rmdir" => host.remove_dir_all(&path(arg)).map(|()| String::new()),
                "env" => Ok(host.env_var(arg).unwrap_or_else(|| "<unset>".to_string())),
                "now" => Ok(host.now_ns().to_string()),
                "tool" => {
                    let argv: Vec<String> = op.split(' ').skip(1).map(str::to_string).collect();
                    Ok(match host.tool_version(&argv) {
                        Ok(v) => v,
                        Err(e) => format!("tool-error {e}"),
                    })
                }
                "trylock" => lock::try_acquire(host, &path(arg)).map(|attempt| match attempt {
                    Attempt::Acquired(held) => {
                        locks.borrow_mut().push(held);
                        "true".to_string()
                    }
                    Attempt::Busy(_) => "false".to_string(),
                }),
                "lock" => (|| loop {
                    if let Attempt::Acquired(held) = lock::try_acquire(host, &path(arg))? {
                        locks.borrow_mut().push(held);
                        return Ok(String::new());
                    }
                    platform.node().sleep_ms(100);
                })(),
                "unlock" => {
                    let mut held = locks.borrow_mut();
                    match held.iter().position(|l| l.path().as_str() == arg) {
                        Some(index) => {
                            lock::release(host, &held.remove(index)).map(|()| String::new())
                        }
                        None => Ok(String::new()),
                    }
                }
                other => Ok(format!("unknown operation {other}")),
            };
            match result {
                Ok(text) => format!("ok {text}").trim_end().to_string(),
                Err(err) => format!("err {:?}: {err}", err.kind()),
            }
        })
        .collect()
}

/// Test hook: starts every command at once through [`Platform::spawn`]
/// (each a `\u{1f}`-separated argv, resolved like a rule's), awaits all
/// completions and resolves to one line per finished job, in finishing
/// order: `ID STATUS stdout=… stderr=…`.
#[wasm_bindgen(js_name = __debugJobs)]
pub fn debug_jobs(platform: JsValue, dir: Option<String>, commands: Vec<String>) -> Promise {
    let platform = JsPlatform::new(platform.unchecked_into());
    wasm_bindgen_futures::future_to_promise(async move {
        let project = platform
            .open_project(dir.as_deref())
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        let env: BTreeMap<String, String> = ENV_ALLOWLIST
            .iter()
            .filter_map(|name| Some((name.to_string(), project.host.env_var(name)?)))
            .collect();
        let path_var = env.get("PATH").or_else(|| env.get("Path")).cloned();
        let pathext = env.get("PATHEXT").cloned();
        let mut lines = Vec::new();
        let mut running = 0;
        for (index, command) in commands.iter().enumerate() {
            let argv: Vec<String> = command.split('\u{1f}').map(str::to_string).collect();
            let exists = |p: &str| platform.is_executable(p);
            let Some(program) = resolve_program(
                &argv[0],
                &project.root,
                path_var.as_deref(),
                pathext.as_deref(),
                platform.os(),
                &exists,
            ) else {
                lines.push(format!("{index} not-found {}", argv[0]));
                continue;
            };
            let job = Job {
                id: JobId(index as u32),
                rule: format!("job{index}"),
                argv,
                env: env.clone(),
            };
            platform.spawn(&project.root, &program, job);
            running += 1;
        }
        while running > 0 {
            let done = platform.next_completion().await;
            running -= 1;
            lines.push(format!(
                "{} {} stdout={:?} stderr={:?}",
                done.id.0,
                done.status,
                String::from_utf8_lossy(&done.stdout),
                String::from_utf8_lossy(&done.stderr)
            ));
        }
        Ok(JsValue::from_str(&lines.join("\n")))
    })
}
