//! `cloesce run`: the driver loop over the engine's `Build`.

use cloesce_engine::build::{Build, BuildOptions, Event, Failure, Poll, Summary};
use cloesce_engine::host::Host;
use cloesce_engine::job::{
    closest_program, resolve_program, search_dirs, Completion, ExitStatus, Os,
};
use cloesce_engine::state::State;
use cloesce_engine::witness;

use crate::args::RunArgs;
use crate::commands::lock::ProjectLock;
use crate::commands::remote::RemoteDriver;
use crate::exit::{self, Exit};
use crate::platform::{Finished, Platform, Stream};
use crate::progress::{Progress, TICK_MS};
use crate::render::Renderer;
use crate::report::{summary_line, Reporter, Verbosity};
use crate::session::{Session, Sources};

/// `cloesce run` (not `--watch`): answers from `.cloesce/witness` when the
/// last build found every rule fresh and nothing it looked at changed (see
/// the engine's `witness.rs`); otherwise loads the pipeline and builds: only
/// the rules of the changed files and what depends on them when the witness
/// could name every change (the engine's `dirty.rs`).
///
/// The project lock is taken first and held to the end, so the state can be
/// read, and the files it knows stat-ed, on another thread while this one
/// loads the pipeline: no other run can change them in between.
pub async fn run_command<P: Platform>(
    platform: &P,
    dir: Option<&str>,
    args: &RunArgs,
    renderer: Renderer,
) -> Result<i32, Exit> {
    let sources = Sources::open(platform, dir)?;
    let host = &sources.project.host;
    // The lock on its own handle of the project (the session takes the
    // sources' handle while the lock is held), opened at the root already
    // found, which has the marker or has none above it: the same root.
    let lock_project = platform
        .open_project(Some(&sources.project.root))
        .map_err(|e| Exit::environment(format!("error: cannot open the project: {e}\n")))?;
    let lock = if args.dry_run {
        None
    } else {
        let silent = args.json || args.quiet;
        Some(ProjectLock::acquire(platform, &lock_project.host, !args.no_wait, silent).await?)
    };
    // Stats the witness check took before it said no: the build's first;
    // and, when only files differed so far, the rest of the check.
    let mut taken = Vec::new();
    let mut rest = None;
    if may_answer_from_witness(args)
        && witness::exists(host)
        && !RemoteDriver::is_configured(platform, sources.user.as_slice(), args.no_remote_cache)
    {
        let started_ns = host.now_ns();
        match witness::check_for_changes(host, &sources.pipeline_key) {
            witness::Answer::AllFresh(rules) => {
                drop(lock);
                if !args.quiet {
                    let summary = Summary {
                        fresh: rules,
                        elapsed_ns: host.now_ns().saturating_sub(started_ns),
                        ..Summary::default()
                    };
                    platform.write(Stream::Stdout, &summary_line(&summary));
                }
                // The process exits next: skip freeing what was read.
                std::mem::forget(sources);
                return Ok(exit::SUCCESS);
            }
            witness::Answer::Build { taken: t, rest: r } => (taken, rest) = (t, r),
        }
    }
    // Beside loading the pipeline: the state, and either the rest of the
    // witness check (naming every changed file: the build then decides only
    // their rules, see the engine's `dirty.rs`) or a stat of every file the
    // state knows.
    let ((state, changes), session) =
        sources.load_alongside(platform, renderer, !args.dry_run, move |host| {
            let mut state = State::load(host);
            state.prefetch_taken(taken.into_iter());
            let changes = rest.and_then(|rest| rest.finish(host));
            if changes.is_none() {
                state.prefetch_recorded(host);
            }
            (state, changes)
        });
    let session = session?;
    let prepared = Prepared {
        lock,
        state,
        changes,
    };
    let result = run(platform, &session, args, renderer, Some(prepared)).await;
    // As above: dropping the pipeline (a few allocations per rule) would be
    // wasted work. The lock is not in the session: it is released by `run`.
    std::mem::forget(session);
    result
}

/// What [`run_command`] prepared before the build: the project lock (none
/// for a dry run), the state, read beside the pipeline, and what changed
/// since the witness, when it could tell.
pub struct Prepared<'l, H: Host> {
    pub lock: Option<ProjectLock<'l, H>>,
    pub state: State,
    pub changes: Option<witness::Changes>,
}

/// Whether a run could be answered by a witness: it builds every rule, and
/// a report of "all fresh" would say everything it prints.
fn may_answer_from_witness(args: &RunArgs) -> bool {
    args.rules.is_empty()
        && !(args.dry_run
            || args.no_cache
            || args.verbose
            || args.json
            || args.explain
            || args.watch)
}

/// Runs the pipeline and returns the exit code.
pub async fn run<P: Platform>(
    platform: &P,
    session: &Session<P::Host>,
    args: &RunArgs,
    renderer: Renderer,
    prepared: Option<Prepared<'_, P::Host>>,
) -> Result<i32, Exit> {
    let targets = args
        .rules
        .iter()
        .map(|name| session.rule_id(name))
        .collect::<Result<Vec<_>, _>>()?;
    let (lock, state, changes) = match prepared {
        Some(Prepared {
            lock,
            state,
            changes,
        }) => (lock, Some(state), changes),
        None => (None, None, None),
    };
    let lock = if lock.is_some() || args.dry_run {
        lock
    } else {
        Some(
            ProjectLock::acquire(
                platform,
                &session.project.host,
                !args.no_wait,
                args.json || args.quiet,
            )
            .await?,
        )
    };
    let host: &dyn Host = &session.project.host;
    let total = if targets.is_empty() {
        session.pipeline.rules.len()
    } else {
        session.graph.closure(&targets).len()
    };
    let options = BuildOptions {
        targets,
        jobs: args.jobs.unwrap_or_else(|| platform.default_jobs()).max(1),
        keep_going: args.keep_going,
        no_cache: args.no_cache,
        dry_run: args.dry_run,
        pipeline_key: Some(session.pipeline_key),
        store_cap: Some(store_cap(host)),
    };
    let reporter = Reporter {
        platform,
        pipeline: &session.pipeline,
        renderer,
        verbosity: if args.quiet {
            Verbosity::Quiet
        } else if args.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        },
        json: args.json,
        explain: args.explain,
        start_ns: host.now_ns(),
    };
    let progress = Progress::new(
        platform,
        &session.pipeline,
        renderer,
        !(args.json || args.quiet || args.dry_run),
        total,
        reporter.start_ns,
    );
    let mut build = Build::with_changes(
        host,
        &session.pipeline,
        &session.graph,
        &session.builtins,
        options,
        state,
        changes,
    );
    // The rules it counts fresh without deciding them have no events.
    progress.skip(build.skipped());
    // A rule that could not read or write files is the environment's fault
    // (permissions, disk, a broken .cloesce/): exit 3, not 1.
    let mut environment_failure = false;
    let mut report = |event: Event| {
        if let Event::Finished(r) = &event {
            environment_failure |= matches!(r.failure, Some(Failure::Io { .. }));
        }
        reporter.event(event);
    };
    let mut remote = if args.dry_run {
        None
    } else {
        RemoteDriver::configure(platform, &session.pipeline, args.no_remote_cache)
    };
    if let Some(remote) = &remote {
        build.enable_remote(remote.read_only());
    }
    loop {
        let poll = build.poll();
        while let Some(event) = build.poll_event() {
            progress.event(&event);
            report(event);
        }
        progress.draw(host.now_ns());
        if let Some(remote) = &mut remote {
            remote.pump(platform, &mut build);
        }
        match poll {
            Poll::Spawn(mut job) => {
                let root = &session.project.root;
                prepend_node_modules_bin(&mut job.env, root, platform.os());
                let program = job.argv.first().and_then(|name| {
                    resolve_program(
                        name,
                        root,
                        job.env
                            .get("PATH")
                            .or(job.env.get("Path"))
                            .map(String::as_str),
                        job.env.get("PATHEXT").map(String::as_str),
                        platform.os(),
                        &|p| platform.is_executable(p),
                    )
                });
                match program {
                    Some(program) => platform.spawn(root, &program, job),
                    None => {
                        let name = job.argv.first().cloned().unwrap_or_default();
                        let path_var = job.env.get("PATH").or(job.env.get("Path"));
                        build.handle_completed(Completion {
                            id: job.id,
                            status: ExitStatus::SpawnFailed(program_not_found(
                                platform,
                                &name,
                                root,
                                path_var.map(String::as_str),
                            )),
                            stdout: Vec::new(),
                            stderr: Vec::new(),
                        });
                    }
                }
            }
            Poll::Wait => {
                // On a terminal, wake up every tick to redraw the progress line.
                let timeout = progress.active().then_some(u64::from(TICK_MS));
                match platform.next_finished(timeout).await {
                    Some(Finished::Job(completion)) => build.handle_completed(completion),
                    Some(Finished::Http(response)) => {
                        if let Some(remote) = &mut remote {
                            remote.handle(platform, &mut build, response);
                        }
                    }
                    None => progress.draw(host.now_ns()),
                }
            }
            Poll::Done => break,
        }
    }
    while let Some(event) = build.poll_event() {
        progress.event(&event);
        report(event);
    }
    if let Some(remote) = &mut remote {
        remote.pump(platform, &mut build);
        remote.finish(platform, host, &mut build).await;
    }
    progress.clear();
    let mut summary = build
        .finish()
        .map_err(|e| Exit::environment(format!("error: cannot save .cloesce/state: {e}\n")))?;
    if let Some(remote) = &remote {
        summary.uploaded = remote.uploaded;
    }
    if !args.watch {
        // A one-shot run exits right after this: freeing the state's tens of
        // thousands of allocations one by one would only cost time. A watch
        // round frees it, as it runs again.
        std::mem::forget(build);
    }
    reporter.summary(&summary);
    // In a project without migrations, the first one is written now; the
    // rules that read the migrations folder run once more below, so the
    // next run finds everything fresh.
    let mut wrote_first = None;
    if summary.success() && !args.dry_run && args.rules.is_empty() {
        if let Some((text, rule)) =
            crate::commands::migrate::write_first_if_missing(&session.pipeline, host)?
        {
            if !args.json && !args.quiet {
                platform.write(Stream::Stdout, &text);
            }
            wrote_first = Some(rule);
        }
    }
    if summary.success() {
        if session.uses_default_file
            && !args.json
            && !args.quiet
            && !args.dry_run
            && !args.watch
            && summary.ran + summary.restored > 0
        {
            platform.write(Stream::Stdout, &next_steps(session));
        }
        if let Some(rule) = wrote_first {
            drop(lock);
            return Box::pin(run(
                platform,
                session,
                &RunArgs::quiet(vec![rule]),
                renderer,
                None,
            ))
            .await;
        }
        Ok(exit::SUCCESS)
    } else if environment_failure {
        Ok(exit::ENVIRONMENT_ERROR)
    } else {
        Ok(exit::RULE_FAILED)
    }
}

/// What to do after the default pipeline built a Worker.
fn next_steps<H>(session: &Session<H>) -> String {
    let config = session
        .pipeline
        .rule("wrangler")
        .and_then(|(_, r)| r.outputs.first())
        .map(|o| o.value.to_string())
        .unwrap_or_else(|| ".generated/wrangler.toml".into());
    format!(
        "\nNext:\n  npx wrangler d1 migrations apply db --local -c {config}\n  npx wrangler dev -c {config}\n"
    )
}

/// npm scripts see `node_modules/.bin` first on PATH; so do rules.
fn prepend_node_modules_bin(
    env: &mut std::collections::BTreeMap<String, String>,
    root: &str,
    os: Os,
) {
    let (sep, list_sep) = match os {
        Os::Unix => ("/", ":"),
        Os::Windows => ("\\", ";"),
    };
    let bin = format!(
        "{}{sep}node_modules{sep}.bin",
        root.trim_end_matches(['/', '\\'])
    );
    let key = if env.contains_key("Path") && !env.contains_key("PATH") {
        "Path"
    } else {
        "PATH"
    };
    let value = match env.get(key) {
        Some(path) if !path.is_empty() => format!("{bin}{list_sep}{path}"),
        _ => bin,
    };
    env.insert(key.to_string(), value);
}

/// The store's cap: `CLOESCE_CACHE_MAX_SIZE`, default 1 GiB. After a run
/// that wrote to the store, the least recently written entries (never the
/// current results) are evicted when it may be over (see
/// `Store::keep_under`).
fn store_cap(host: &dyn Host) -> u64 {
    host.env_var("CLOESCE_CACHE_MAX_SIZE")
        .and_then(|text| crate::commands::cache::parse_size(&text))
        .unwrap_or(cloesce_engine::store::DEFAULT_CAP_BYTES)
}

/// Why `program` could not start: it is not in node_modules/.bin or on
/// `path_var`; with "did you mean" when a program a typo away is there.
pub(crate) fn program_not_found<P: Platform>(
    platform: &P,
    program: &str,
    root: &str,
    path_var: Option<&str>,
) -> String {
    let dirs = search_dirs(root, path_var, platform.os());
    let list = |dir: &str| platform.list_names(dir);
    match closest_program(program, &dirs, platform.os(), &list) {
        Some(near) => format!(
            "program `{program}` was not found in node_modules/.bin or on PATH; did you mean `{near}`?"
        ),
        None => format!("program `{program}` was not found in node_modules/.bin or on PATH"),
    }
}
