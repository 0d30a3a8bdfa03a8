//! `cloesce run --watch`: run, then run again whenever an input changes.
//!
//! Each round opens the project anew (so an edit of `cloesce.kdl` applies),
//! runs like `cloesce run` (taking the lock only while it builds), then waits
//! on the platform's file watcher, which starts before the first round so an
//! edit made while a round runs starts the next one. A change counts when it is `cloesce.kdl`
//! or matches some rule's inputs, and is not under `.cloesce/`, `.git/`,
//! `node_modules/` or a declared output. A failing round keeps watching;
//! Ctrl-C ends the process.

use cloesce_engine::shown::shown;

use crate::args::RunArgs;
use crate::commands::run;
use crate::exit::Exit;
use crate::platform::{Platform, Stream};
use crate::render::Renderer;
use crate::session::{Session, PIPELINE_FILE};

/// How long the tree must stay quiet before a round starts.
pub const DEBOUNCE_MS: u32 = 100;

pub async fn watch<P: Platform>(
    platform: &P,
    dir: Option<&str>,
    args: &RunArgs,
    renderer: Renderer,
) -> Result<i32, Exit> {
    let root = platform
        .open_project(dir)
        .map_err(|e| Exit::environment(format!("error: cannot open the project: {e}\n")))?
        .root;
    let say = |text: &str| {
        if !args.json {
            platform.write(Stream::Stderr, text);
        }
    };
    const CANNOT_WATCH: &str =
        "error: cloesce cannot watch files here\n  help: run `cloesce run` after each change instead\n";
    if !platform.start_watching(&root) {
        return Err(Exit::environment(CANNOT_WATCH));
    }
    loop {
        let session = match Session::open(platform, dir, renderer, true) {
            Ok(session) => Some(session),
            Err(Exit { message, .. }) => {
                platform.write(Stream::Stderr, &message);
                None
            }
        };
        if let Some(session) = &session {
            if let Err(Exit { message, .. }) =
                run::run(platform, session, args, renderer, None).await
            {
                platform.write(Stream::Stderr, &message);
            }
        }
        let mut ignore: Vec<String> = [".cloesce", ".git", "node_modules"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(session) = &session {
            for rule in &session.pipeline.rules {
                ignore.extend(rule.outputs.iter().map(|o| o.value.to_string()));
            }
        }
        say("cloesce: watching for changes (Ctrl-C stops)\n");
        loop {
            let Some(changed) = platform.wait_for_change(&ignore, DEBOUNCE_MS).await else {
                return Err(Exit::environment(CANNOT_WATCH));
            };
            let relevant: Vec<&String> = changed
                .iter()
                .filter(|path| {
                    path.as_str() == PIPELINE_FILE
                        || session.as_ref().is_none_or(|s| {
                            cloesce_engine::WorkspacePath::new(path).is_ok_and(|p| {
                                s.pipeline
                                    .rules
                                    .iter()
                                    .any(|r| r.inputs.iter().any(|i| i.value.matches(&p)))
                            })
                        })
                })
                .collect();
            if !relevant.is_empty() {
                let list: Vec<_> = relevant.iter().map(|s| shown(s.as_str())).collect();
                say(&format!("\ncloesce: changed: {}\n", list.join(", ")));
                break;
            }
        }
    }
}
