//! A build: deciding, for each rule in dependency order, whether it is
//! fresh, can be restored from the store, or must run, and recording results.
//!
//! `Build` is sans-IO like the rest of the engine. The driver calls:
//!
//! 1. [`Build::poll`] in a loop. It returns [`Poll::Spawn`] with a [`Job`] to
//!    start (without waiting for it), [`Poll::Wait`] when nothing can start
//!    until a running job finishes, or [`Poll::Done`] when the build is over.
//!    Fresh, restored and built-in rules are handled inside `poll`.
//! 2. [`Build::handle_completed`] whenever a started job finishes.
//! 3. [`Build::poll_event`] at any time to drain progress [`Event`]s.
//! 4. [`Build::finish`] once `poll` said `Done`: it saves the state and
//!    returns the [`Summary`].
//!
//! Per rule: its inputs are resolved (literal paths by `stat`, globs against a
//! walk of the project and the declared outputs of all rules), their digests
//! come from the stat cache, and the action key is computed (see
//! `fingerprint.rs`). A key equal to the last recorded one with outputs on
//! disk matching is **fresh**; a key found in the action cache is
//! **restored** (outputs copied back from the blob store, verified); anything
//! else **runs**. A command that runs has its declared outputs removed first,
//! so one that exits 0 without writing one fails instead of leaving a stale
//! file looking new. A built-in's outputs are instead replaced in place (one
//! step each, see `Host::write_atomic`), and any it did not return removed after it: a watcher such
//! as `wrangler dev` never sees a generated file missing. Only a successful
//! rule records anything.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rustc_hash::FxHashSet;

use crate::builtin::{BuiltinRegistry, BuiltinRequest};
use crate::explain::{diff, Reason};
use crate::fingerprint::{env_value_digest, ActionKeyInput, Digest};
use crate::graph::Graph;
use crate::host::{FileKind, FileStat, Host};
use crate::job::{Completion, ExitStatus, Job, JobId, ENV_ALLOWLIST};
use crate::path::WorkspacePath;
use crate::pipeline::{Action, Pipeline, Rule, RuleId};
use crate::remote::{decode_artifact, encode_artifact, Fetching, RemoteState};
use crate::scheduler::{Outcome, Scheduler};
use crate::settled;
use crate::staging;
use crate::state::{RuleRecord, Stamp, State, Symlink};
use crate::store::{ActionEntry, OutputRecord, Store};
use crate::walk::{self, Looked};
use crate::witness::{self, Observed, Witness};

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Rules to build with everything they need; empty = every rule.
    pub targets: Vec<RuleId>,
    /// Processes to run at once (at least 1).
    pub jobs: usize,
    /// Keep running what does not depend on a failure.
    pub keep_going: bool,
    /// Run every rule, ignoring cached results (results are still recorded).
    pub no_cache: bool,
    /// Decide and report, but run, restore and write nothing.
    pub dry_run: bool,
    /// The pipeline's [`crate::pipeline::pipeline_key`]. When set, a build
    /// of every rule that finds them all fresh leaves a witness for the next
    /// run (see `witness.rs`).
    pub pipeline_key: Option<Digest>,
    /// Keep the store under this many bytes once the build is over (see
    /// [`Store::keep_under`]; `None`: no cap).
    pub store_cap: Option<u64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            targets: Vec::new(),
            jobs: 1,
            keep_going: false,
            no_cache: false,
            dry_run: false,
            pipeline_key: None,
            store_cap: None,
        }
    }
}

/// What the driver should do next.
#[derive(Debug)]
pub enum Poll {
    /// Start this job, then poll again.
    Spawn(Job),
    /// Wait for a running job to finish, report it, then poll again.
    Wait,
    /// The build is over: call [`Build::finish`].
    Done,
}

/// The outcome of one rule in this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleStatus {
    /// Its outputs were already up to date.
    Fresh,
    /// Its outputs were copied back from the store.
    Restored,
    /// It ran and succeeded.
    Ran,
    /// It ran and failed.
    Failed,
    /// (dry run) It would run.
    WouldRun,
    /// (dry run) Its outputs would be restored.
    WouldRestore,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Fresh => "fresh",
            RuleStatus::Restored => "restored",
            RuleStatus::Ran => "ran",
            RuleStatus::Failed => "failed",
            RuleStatus::WouldRun => "would-run",
            RuleStatus::WouldRestore => "would-restore",
        }
    }
}

/// Why a rule failed.
#[derive(Debug)]
pub enum Failure {
    /// The process exited unsuccessfully or could not start.
    Process {
        argv: Vec<String>,
        status: ExitStatus,
    },
    /// A built-in reported problems (diagnostics point into the files it read).
    Builtin { diagnostics: Vec<miette::Report> },
    /// The rule succeeded but did not write these declared outputs.
    MissingOutputs { paths: Vec<WorkspacePath> },
    /// A declared tool's version could not be read.
    Tool { name: String, message: String },
    /// Reading inputs or writing outputs failed (an environment problem).
    Io { message: String },
}

/// A rule's report, emitted when it is done.
#[derive(Debug)]
pub struct RuleReport {
    pub rule: RuleId,
    pub status: RuleStatus,
    /// Why it ran or was restored (empty when fresh).
    pub reasons: Vec<Reason>,
    /// Captured (or, on a hit, replayed) output.
    pub stdout: String,
    pub stderr: String,
    pub failure: Option<Failure>,
    /// Set when the rule executed (ran or failed).
    pub started_ns: Option<u64>,
    pub finished_ns: u64,
    /// The action key, when it could be computed.
    pub key: Option<Digest>,
    /// Files that went into the key and changed while the rule ran (see
    /// `settled.rs`): when not empty, the rule ran but nothing of it was
    /// recorded, and the next run builds it again.
    pub changed_during_run: Vec<WorkspacePath>,
    /// The rule is a built-in and `stdout` is its log: warnings and notes by
    /// contract ([`crate::builtin::BuiltinOutput::log`]). Unlike a command's
    /// output, it is shown whether the rule ran, is fresh or was restored,
    /// until a run of the rule produces none.
    pub warns: bool,
}

/// Progress, for display and `--json`.
// One `Finished` per rule, moved once: boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Event {
    /// A rule started executing (a process or a built-in).
    Started { rule: RuleId, at_ns: u64 },
    /// A rule is done, whatever happened.
    Finished(RuleReport),
}

/// Counts at the end of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub fresh: usize,
    pub restored: usize,
    pub ran: usize,
    pub failed: usize,
    pub would_run: usize,
    pub would_restore: usize,
    /// Of `restored`, the rules downloaded from the remote cache.
    pub remote_restored: usize,
    /// Artifacts uploaded to the remote cache (counted by the driver).
    pub uploaded: usize,
    /// Of `ran`, the rules whose result was not recorded because a file
    /// they keyed on changed while they ran.
    pub unrecorded: usize,
    /// Selected rules that never started (a dependency failed, or fail-fast).
    pub not_started: Vec<RuleId>,
    /// Rules whose report `warns` (a built-in's log stands). No witness is
    /// written while one does, so every run decides it and shows the log.
    pub warned: Vec<RuleId>,
    pub elapsed_ns: u64,
}

impl Summary {
    pub fn success(&self) -> bool {
        self.failed == 0 && self.not_started.is_empty()
    }
}

/// The outputs a finished rule left, for its dependents' keys.
#[derive(Debug, Clone)]
enum Produced {
    Known(Vec<OutputRecord>),
    /// Dry run: the rule would run, so its outputs are not known.
    Unknown,
}

/// A job handed to the driver and not yet completed.
struct Running {
    key: Digest,
    key_input: ActionKeyInput,
    reasons: Vec<Reason>,
    started_ns: u64,
    argv: Vec<String>,
}

/// One build over a pipeline.
pub struct Build<'a> {
    host: &'a dyn Host,
    pipeline: &'a Pipeline,
    graph: &'a Graph,
    builtins: &'a BuiltinRegistry,
    options: BuildOptions,
    scheduler: Scheduler,
    state: State,
    store: Store<'a>,
    events: VecDeque<Event>,
    running: HashMap<usize, Running>,
    /// Jobs that succeeded but are not recorded yet. `poll` records them
    /// only when no other job can start, so that a freed job slot is refilled
    /// first and hashing and storing a result overlaps the next process.
    succeeded: VecDeque<(RuleId, Running, Completion)>,
    produced: Vec<Option<Produced>>,
    /// Files found by walking for globs; computed on first need.
    walked: Option<Vec<WorkspacePath>>,
    /// What that walk looked at, and when it started (for the witness).
    walk_looks: Vec<Looked>,
    walked_at: u64,
    tool_versions: HashMap<Vec<String>, Result<String, String>>,
    summary: Summary,
    started_ns: u64,
    /// `rank[rule]` = the rule's slot in the scheduler (topological position).
    rank: Vec<usize>,
    /// The remote cache, when the driver enabled one (see `remote.rs`).
    remote: Option<RemoteState<Pending>>,
    /// When a witness named what changed (see `dirty.rs`): the rules this
    /// build counts fresh without deciding them (empty: it decides all).
    skipped: Vec<bool>,
    /// That witness, carried into the next one for the rules not decided.
    carried: Option<witness::Changes>,
}

/// A rule that missed locally, waiting for (or back from) its remote lookup.
struct Pending {
    key_input: ActionKeyInput,
    reasons: Vec<Reason>,
}

impl<'a> Build<'a> {
    /// Prepares a build. The caller holds the project lock.
    pub fn new(
        host: &'a dyn Host,
        pipeline: &'a Pipeline,
        graph: &'a Graph,
        builtins: &'a BuiltinRegistry,
        options: BuildOptions,
    ) -> Build<'a> {
        Self::with_state(host, pipeline, graph, builtins, options, None)
    }

    /// [`Build::new`] with the state already read (see
    /// [`State::is_current`]): used when it is still the current one, read
    /// again otherwise.
    pub fn with_state(
        host: &'a dyn Host,
        pipeline: &'a Pipeline,
        graph: &'a Graph,
        builtins: &'a BuiltinRegistry,
        options: BuildOptions,
        preloaded: Option<State>,
    ) -> Build<'a> {
        Self::with_changes(host, pipeline, graph, builtins, options, preloaded, None)
    }

    /// [`Build::with_state`] after a witness check that named every changed
    /// path ([`witness::Unfinished::finish`], under the project lock held
    /// since): a build of every rule then decides only the rules of those
    /// paths and what depends on them, and counts the others fresh (see
    /// `dirty.rs`). It decides every rule as usual when it builds targets,
    /// ignores the cache or is a dry run, or when the state it has is not the
    /// one the witness vouched for.
    pub fn with_changes(
        host: &'a dyn Host,
        pipeline: &'a Pipeline,
        graph: &'a Graph,
        builtins: &'a BuiltinRegistry,
        mut options: BuildOptions,
        preloaded: Option<State>,
        changes: Option<witness::Changes>,
    ) -> Build<'a> {
        options.jobs = options.jobs.max(1);
        let n = pipeline.rules.len();
        if !options.dry_run {
            // This build may change the state the witness describes. (If it
            // cannot be removed, the state cannot be saved either.)
            let _ = witness::remove(host);
            // Temporary files of writers killed before they renamed them.
            staging::sweep_staging(host);
        }
        let mut state = match preloaded {
            Some(state) if state.is_current(host) => state,
            _ => State::load(host),
        };
        let mut selected = if options.targets.is_empty() {
            vec![true; n]
        } else {
            let mut selected = vec![false; n];
            for id in graph.closure(&options.targets) {
                selected[id.index()] = true;
            }
            selected
        };
        let mut deps: Vec<Vec<usize>> = graph
            .deps
            .iter()
            .map(|d| d.iter().map(|r| r.index()).collect())
            .collect();
        let mut produced = vec![None; n];
        let mut skipped = Vec::new();
        let changes = changes.filter(|c| {
            options.targets.is_empty()
                && !options.no_cache
                && !options.dry_run
                && state.read_as() == c.state
                && c.rules == n as u64
        });
        let decide = changes
            .as_ref()
            .and_then(|c| crate::dirty::rules_to_decide(pipeline, graph, &c.paths))
            .filter(|decide| skipped_are_recorded(pipeline, &deps, decide, &state));
        let carried = match decide {
            Some(decide) => {
                // What the rules decided read of the rules not decided: their
                // recorded outputs, as a fresh decision would find them.
                for (rule, rule_deps) in deps.iter_mut().enumerate() {
                    if !decide[rule] {
                        continue;
                    }
                    for &dep in rule_deps.iter() {
                        if !decide[dep] && produced[dep].is_none() {
                            let name = &pipeline.rules[dep].name.value;
                            // `skipped_are_recorded` found it, decoded.
                            let outputs = match state.rules.get(name) {
                                Some(record) => record.outputs.clone(),
                                None => unreachable!("checked by skipped_are_recorded"),
                            };
                            produced[dep] = Some(Produced::Known(outputs));
                        }
                    }
                    rule_deps.retain(|&dep| decide[dep]);
                }
                skipped = decide.iter().map(|d| !d).collect();
                selected = decide;
                changes
            }
            None => None,
        };
        let rank = rank_by_order(&graph.order, n);
        let scheduler = Scheduler::new(
            &reindex(&deps, &rank),
            &permute(&selected, &graph.order),
            options.keep_going,
        );
        state.prefetch(host, files_to_check(pipeline, &selected));
        let summary = Summary {
            fresh: skipped.iter().filter(|s| **s).count(),
            ..Summary::default()
        };
        Build {
            host,
            pipeline,
            graph,
            builtins,
            scheduler,
            state,
            store: Store::new(host),
            events: VecDeque::new(),
            running: HashMap::new(),
            succeeded: VecDeque::new(),
            produced,
            walked: None,
            walk_looks: Vec::new(),
            walked_at: 0,
            tool_versions: HashMap::new(),
            summary,
            started_ns: host.now_ns(),
            rank,
            options,
            remote: None,
            skipped,
            carried,
        }
    }

    /// How many rules this build counts fresh without deciding them (see
    /// [`Build::with_changes`]): they have no events.
    pub fn skipped(&self) -> usize {
        self.skipped.iter().filter(|s| **s).count()
    }

    /// Consults a remote cache after each local miss of a cacheable rule
    /// (never in a dry run) and queues uploads unless `read_only`.
    pub fn enable_remote(&mut self, read_only: bool) {
        if !self.options.dry_run {
            self.remote = Some(RemoteState::new(read_only));
        }
    }

    /// Stops queueing fetches and uploads (the driver gave up on the remote).
    pub fn disable_remote(&mut self) {
        if let Some(remote) = &mut self.remote {
            remote.enabled = false;
            remote.upload_queue.clear();
        }
    }

    /// The next remote lookup to start: the rule waits for
    /// [`Build::handle_fetched`] with the same id.
    pub fn poll_fetch(&mut self) -> Option<(JobId, Digest)> {
        self.remote.as_mut()?.fetch_queue.pop_front()
    }

    /// The next artifact to upload, under its action key.
    pub fn poll_upload(&mut self) -> Option<(Digest, Vec<u8>)> {
        self.remote.as_mut()?.upload_queue.pop_front()
    }

    /// The next warning about the remote cache (e.g. a rejected artifact).
    pub fn poll_warning(&mut self) -> Option<String> {
        self.remote.as_mut()?.warnings.pop_front()
    }

    /// Remote artifacts rejected so far (corrupt or foreign).
    pub fn remote_rejected(&self) -> usize {
        self.remote.as_ref().map_or(0, |r| r.rejected)
    }

    /// The result of a remote lookup: the artifact's bytes, or `None` on a
    /// miss or any failure. A verified artifact is written to the local
    /// store and restored; anything else makes the rule run.
    pub fn handle_fetched(&mut self, id: JobId, bytes: Option<Vec<u8>>) {
        let rule = RuleId(id.0);
        let name = self.rule(rule).name.value.as_str();
        let Some(remote) = &mut self.remote else {
            return;
        };
        let Some(fetching) = remote.fetching.remove(&id.0) else {
            return;
        };
        let artifact = match bytes.map(|b| decode_artifact(&fetching.key, &b)) {
            Some(Ok(artifact)) => Some(artifact),
            Some(Err(error)) => {
                remote.reject(name, &error);
                None
            }
            None => None,
        };
        let stored = artifact.and_then(|artifact| {
            let mut entry = artifact.entry;
            let ok =
                artifact.blobs.into_iter().all(|(digest, bytes)| {
                    self.store.keep(&mut entry.inline, digest, bytes).is_ok()
                }) && self.store.put_action(&fetching.key, &entry).is_ok();
            ok.then_some(entry)
        });
        let Some(entry) = stored else {
            if let Some(remote) = &mut self.remote {
                remote.after_miss.push_back((id.0, fetching));
            }
            return;
        };
        let Fetching { key, pending } = fetching;
        let mut why = pending.reasons.clone();
        why.push(Reason::RemoteHit);
        match self.try_restore(&key, &entry, why, false) {
            Ok(Some((_, why))) => {
                self.state.set_rule(
                    &self.rule(rule).name.value,
                    RuleRecord {
                        key,
                        outputs: entry.outputs.clone(),
                        reasons: why.clone(),
                        has_logs: !(entry.stdout.is_empty() && entry.stderr.is_empty()),
                    },
                );
                self.produced[rule.index()] = Some(Produced::Known(entry.outputs));
                self.summary.remote_restored += 1;
                self.report(
                    rule,
                    RuleStatus::Restored,
                    why,
                    entry.stdout,
                    entry.stderr,
                    None,
                    None,
                    Some(key),
                );
            }
            Ok(None) => {
                if let Some(remote) = &mut self.remote {
                    remote
                        .after_miss
                        .push_back((id.0, Fetching { key, pending }));
                }
            }
            Err(failure) => self.fail(
                rule,
                Vec::new(),
                failure,
                String::new(),
                String::new(),
                None,
            ),
        }
    }

    /// Queues the artifact of a rule just recorded in the local store.
    fn queue_upload(&mut self, key: &Digest, entry: &ActionEntry) {
        let Some(remote) = &self.remote else { return };
        if remote.read_only || !remote.enabled {
            return;
        }
        let mut unique: Vec<&OutputRecord> = Vec::with_capacity(entry.outputs.len());
        for output in &entry.outputs {
            if !unique.iter().any(|o| o.digest == output.digest) {
                unique.push(output);
            }
        }
        let Ok(Some(bytes)) = self.store.outputs(key, Some(entry), &unique) else {
            return;
        };
        let blobs: Vec<(Digest, Vec<u8>)> = unique.iter().map(|o| o.digest).zip(bytes).collect();
        // What went into the key stays local: it holds a digest of each
        // declared environment value, which a shared cache should not get.
        // The small outputs travel as blobs, beside the entry.
        let entry = ActionEntry {
            key_input: None,
            inline: BTreeMap::new(),
            ..entry.clone()
        };
        let artifact = encode_artifact(key, &entry, &blobs);
        if let Some(remote) = &mut self.remote {
            remote.upload_queue.push_back((*key, artifact));
        }
    }

    /// The next thing for the driver to do.
    pub fn poll(&mut self) -> Poll {
        loop {
            if self.running.len() < self.options.jobs {
                if let Some((index, f)) =
                    self.remote.as_mut().and_then(|r| r.after_miss.pop_front())
                {
                    let (key, p) = (f.key, f.pending);
                    match self.execute(RuleId(index), key, p.key_input, p.reasons) {
                        Some(job) => return Poll::Spawn(job),
                        None => continue,
                    }
                }
                if let Some(slot) = self.scheduler.poll_ready() {
                    let rule = self.graph.order[slot];
                    match self.start(rule) {
                        Some(job) => return Poll::Spawn(job),
                        None => continue,
                    }
                }
            }
            // Nothing can start: record a finished job (which may make
            // rules ready), or wait.
            if let Some((rule, running, completion)) = self.succeeded.pop_front() {
                self.record_completion(rule, running, completion);
                continue;
            }
            return if self.running.len() < self.options.jobs && self.scheduler.is_finished() {
                Poll::Done
            } else {
                Poll::Wait
            };
        }
    }

    /// Records a finished job.
    pub fn handle_completed(&mut self, completion: Completion) {
        // It may have written files it does not declare: from now on every
        // file is stat-ed when checked. (Rules decided while it ran may use
        // the stats taken before it started: such a decision could have
        // seen the old file anyway, had it come a moment earlier.)
        self.state.drop_prefetched();
        let index = completion.id.0 as usize;
        let Some(running) = self.running.remove(&index) else {
            return;
        };
        let rule = RuleId(index as u32);
        if completion.status.success() {
            // Recorded by `poll` once the freed slot is refilled.
            self.succeeded.push_back((rule, running, completion));
            return;
        }
        let stdout = String::from_utf8_lossy(&completion.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&completion.stderr).into_owned();
        let failure = Failure::Process {
            argv: running.argv,
            status: completion.status,
        };
        self.fail(
            rule,
            running.reasons,
            failure,
            stdout,
            stderr,
            Some(running.started_ns),
        );
    }

    /// Records a job that succeeded (queued by `handle_completed`).
    fn record_completion(&mut self, id: RuleId, running: Running, completion: Completion) {
        let stdout = String::from_utf8_lossy(&completion.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&completion.stderr).into_owned();
        self.record_success(id, running, stdout, stderr, Vec::new());
    }

    /// The next progress event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Saves what this build learned and returns the summary. It borrows
    /// rather than consumes the build, so a one-shot driver that is about to
    /// exit may skip freeing it (a no-op over 10,000 rules spends ~5% of its
    /// instructions dropping the state).
    pub fn finish(&mut self) -> std::io::Result<Summary> {
        // (Empty when `poll` said `Done`.)
        while let Some((rule, running, completion)) = self.succeeded.pop_front() {
            self.record_completion(rule, running, completion);
        }
        if !self.options.dry_run {
            // The run's pack gets its index (and packs are merged when
            // there are too many); a failure only leaves it to be scanned.
            let _ = self.store.finish();
            // A build that decided every rule checked every file a rule reads
            // or writes: entries of other files are left over from inputs
            // and outputs that are gone, and each would be stat-ed by every
            // later build (`State::prefetch_recorded`).
            let decided_all = self.options.targets.is_empty()
                && self.carried.is_none()
                && self.summary.failed == 0
                && self.scheduler.not_started().is_empty();
            if decided_all {
                self.state.keep_only_checked();
            }
            self.state.save(self.host)?;
            if let Some(witness) = self.witness() {
                let after_run = self.summary.fresh != self.pipeline.rules.len();
                let body = match &self.carried {
                    None => witness::encode(&witness),
                    Some(carried) => carried.carry_into(witness),
                };
                if let Some(body) = body {
                    witness::write_body(self.host, &body, after_run);
                }
            }
            if let Some(cap) = self.options.store_cap {
                // Going over only costs disk space: not an error.
                let keep = || self.state.rules.values().map(|r| r.key).collect();
                let _ = self.store.keep_under(cap, keep);
            }
        }
        let mut summary = std::mem::take(&mut self.summary);
        summary.not_started = self
            .scheduler
            .not_started()
            .into_iter()
            .map(|slot| self.graph.order[slot])
            .collect();
        summary.elapsed_ns = self.host.now_ns().saturating_sub(self.started_ns);
        Ok(summary)
    }

    /// The witness of this build, when it built every rule, left each one
    /// recorded with the key a build would compute now, and can vouch for
    /// what it saw (see `witness.rs`). A build that ran or restored rules
    /// may leave one too: each of those is recorded under its key, with the
    /// stats of its outputs as written; the files it just wrote or hashed
    /// are racy, so the next check says no for them (and only them).
    fn witness(&self) -> Option<Witness> {
        let pipeline = self.options.pipeline_key?;
        let rules = self.pipeline.rules.len();
        let s = &self.summary;
        if !self.options.targets.is_empty()
            || self.options.no_cache
            || s.fresh + s.ran + s.restored != rules
            || s.failed + s.unrecorded + s.would_run + s.would_restore != 0
            || !s.warned.is_empty()
            || !self.scheduler.not_started().is_empty()
            || self.pipeline.rules.iter().any(|r| !r.cache)
        {
            return None;
        }
        let (root, mut paths, mut observed) = self.walk_observations()?;
        let (checked_paths, checked) = self.state.observations()?;
        // A path both walked and checked (a `.gitignore` that is an input)
        // must have been seen the same way by both.
        let walked: std::collections::HashMap<&WorkspacePath, Observed> =
            paths.iter().zip(observed.iter().copied()).collect();
        for (path, seen) in checked_paths.iter().zip(&checked) {
            if walked.get(path).is_some_and(|w| w != seen) {
                return None;
            }
        }
        paths.extend(checked_paths);
        observed.extend(checked);
        let mut names: Vec<&String> = self
            .pipeline
            .env
            .iter()
            .chain(self.pipeline.rules.iter().flat_map(|r| &r.env))
            .map(|e| &e.value)
            .collect();
        names.sort();
        names.dedup();
        let env = names
            .into_iter()
            .map(|name| {
                (
                    name.clone(),
                    env_value_digest(self.host.env_var(name).as_deref()),
                )
            })
            .collect();
        let mut tools = Vec::with_capacity(self.tool_versions.len());
        for (argv, version) in &self.tool_versions {
            tools.push((argv.clone(), version.clone().ok()?));
        }
        tools.sort();
        let state = match self.host.stat(&State::path()) {
            Ok(stat) => stat.as_ref().map(Stamp::of),
            Err(_) => return None,
        };
        Some(Witness {
            pipeline,
            state,
            root,
            rules: rules as u64,
            env,
            tools,
            paths,
            observed,
        })
    }

    /// What the walk for globs saw, as witness entries: the root, then the
    /// folders and `.gitignore` files. `None` when it cannot vouch for them
    /// (an unreadable root stat, a symlink, a file where a folder was listed).
    #[allow(clippy::type_complexity)]
    fn walk_observations(&self) -> Option<(Option<Observed>, Vec<WorkspacePath>, Vec<Observed>)> {
        let at = self.walked_at;
        let folder = |stat: &Option<FileStat>| match stat {
            Some(stat) if stat.kind == FileKind::Dir => Some(Observed::Folder {
                stamp: Stamp::of(stat),
                listed_at: at,
            }),
            Some(_) => None,
            None => Some(Observed::Missing),
        };
        let (mut root, mut paths, mut observed) = (None, Vec::new(), Vec::new());
        for look in &self.walk_looks {
            match look {
                // The root always exists: no stat means the host has none.
                Looked::Folder(None, stat) => {
                    root = Some(folder(stat).filter(|o| *o != Observed::Missing)?)
                }
                Looked::Folder(Some(path), stat) => {
                    paths.push(path.clone());
                    observed.push(folder(stat)?);
                }
                Looked::File(path, stat) => {
                    let seen = match stat {
                        Some(stat) if stat.kind == FileKind::File => Observed::File {
                            stamp: Stamp::of(stat),
                            recorded_ns: at,
                        },
                        Some(_) => return None,
                        None => Observed::Missing,
                    };
                    paths.push(path.clone());
                    observed.push(seen);
                }
            }
        }
        Some((root, paths, observed))
    }

    fn rule(&self, id: RuleId) -> &'a Rule {
        &self.pipeline.rules[id.index()]
    }

    /// Decides a ready rule. Returns a job when it must run as a process;
    /// otherwise the rule is completed here.
    fn start(&mut self, id: RuleId) -> Option<Job> {
        let rule = self.rule(id);
        // Upstream outputs: a dependency that would run (dry run) makes this
        // rule's inputs unknowable.
        let mut upstream = Vec::new();
        for dep in &self.graph.deps[id.index()] {
            match &self.produced[dep.index()] {
                Some(Produced::Known(outputs)) => {
                    upstream.extend(outputs.iter().map(|o| (o.path.clone(), o.digest)))
                }
                _ => {
                    let reasons = vec![Reason::DependencyRuns {
                        rule: self.rule(*dep).name.value.clone(),
                    }];
                    self.complete_unknown(id, reasons, None);
                    return None;
                }
            }
        }
        let key_input = match self.key_input(id, upstream) {
            Ok(k) => k,
            Err(failure) => {
                self.fail(id, Vec::new(), failure, String::new(), String::new(), None);
                return None;
            }
        };
        let key = key_input.key();
        // Only what is needed of the last record is copied: cloning it whole
        // (with its key input) for every rule would dominate a no-op run.
        let previous_has_logs = self
            .state
            .rules
            .get(&rule.name.value)
            .is_some_and(|r| r.has_logs);

        let mut reasons = Vec::new();
        if !rule.cache {
            reasons.push(Reason::CacheDisabled);
        } else if self.options.no_cache {
            reasons.push(Reason::NoCacheFlag);
        } else {
            // A hit: the last record, or the action cache.
            let last_outputs = match self.state.rules.get(&rule.name.value) {
                Some(record) if record.key == key => Some(record.outputs.clone()),
                _ => None,
            };
            let hit = match last_outputs {
                Some(outputs) => Some((
                    ActionEntry {
                        rule: rule.name.value.clone(),
                        outputs,
                        stdout: String::new(),
                        stderr: String::new(),
                        key_input: None,
                        inline: BTreeMap::new(),
                    },
                    Vec::new(),
                    true,
                )),
                None => match self.store.get_action(&key) {
                    Ok(Some(entry)) => {
                        let mut why = self.reasons_since_last(&rule.name.value, &key_input);
                        why.push(Reason::SeenBefore);
                        Some((entry, why, false))
                    }
                    Ok(None) => None,
                    Err(e) => {
                        self.fail(
                            id,
                            Vec::new(),
                            io_failure("reading the action cache", e),
                            String::new(),
                            String::new(),
                            None,
                        );
                        return None;
                    }
                },
            };
            if let Some((entry, why, same_as_last)) = hit {
                match self.try_restore(&key, &entry, why, same_as_last) {
                    Ok(Some((status, why))) => {
                        let (stdout, stderr) = if same_as_last {
                            if previous_has_logs {
                                self.replayed_logs(&key)
                            } else {
                                Default::default()
                            }
                        } else {
                            (entry.stdout.clone(), entry.stderr.clone())
                        };
                        if !same_as_last && !self.options.dry_run {
                            self.state.set_rule(
                                &rule.name.value,
                                RuleRecord {
                                    key,
                                    outputs: entry.outputs.clone(),
                                    reasons: why.clone(),
                                    has_logs: !(entry.stdout.is_empty() && entry.stderr.is_empty()),
                                },
                            );
                        }
                        self.produced[id.index()] = Some(Produced::Known(entry.outputs));
                        self.report(id, status, why, stdout, stderr, None, None, Some(key));
                        return None;
                    }
                    Ok(None) => reasons.push(Reason::CacheEntryUnusable),
                    Err(failure) => {
                        self.fail(id, Vec::new(), failure, String::new(), String::new(), None);
                        return None;
                    }
                }
            } else {
                reasons.extend(self.reasons_since_last(&rule.name.value, &key_input));
                // A local miss: ask the remote cache first, if there is one.
                if let Some(remote) = self.remote.as_mut().filter(|r| r.enabled) {
                    remote.fetch_queue.push_back((JobId(id.0), key));
                    let pending = Pending { key_input, reasons };
                    remote.fetching.insert(id.0, Fetching { key, pending });
                    return None;
                }
            }
        }
        self.execute(id, key, key_input, reasons)
    }

    /// Runs a rule that missed every cache: as a job, or inline (built-in).
    fn execute(
        &mut self,
        id: RuleId,
        key: Digest,
        key_input: ActionKeyInput,
        reasons: Vec<Reason>,
    ) -> Option<Job> {
        let rule = self.rule(id);
        if self.options.dry_run {
            self.complete_unknown(id, reasons, Some(key));
            return None;
        }
        // Remove a command's stale outputs so one that writes nothing cannot
        // pass. A built-in's stay until its new bytes replace them (see
        // `run_builtin`): a `wrangler dev` watching them never finds one
        // missing.
        let outputs: Vec<WorkspacePath> = rule.outputs.iter().map(|o| o.value.clone()).collect();
        let is_command = matches!(rule.action, Action::Run { .. });
        for output in &outputs {
            self.state.forget(output);
            if !is_command {
                continue;
            }
            if let Err(e) = self.host.remove_file(output) {
                self.fail(
                    id,
                    reasons,
                    io_failure(&format!("removing the old {output}"), e),
                    String::new(),
                    String::new(),
                    None,
                );
                return None;
            }
        }
        let started_ns = self.host.now_ns();
        self.events.push_back(Event::Started {
            rule: id,
            at_ns: started_ns,
        });
        match &rule.action {
            Action::Run { argv } => {
                let job = Job {
                    id: JobId(id.0),
                    rule: rule.name.value.clone(),
                    argv: argv.value.clone(),
                    env: self.child_env(rule),
                };
                self.running.insert(
                    id.index(),
                    Running {
                        key,
                        key_input,
                        reasons,
                        started_ns,
                        argv: argv.value.clone(),
                    },
                );
                Some(job)
            }
            Action::Builtin { name, settings } => {
                let running = Running {
                    key,
                    key_input,
                    reasons,
                    started_ns,
                    argv: Vec::new(),
                };
                self.run_builtin(id, &name.value, settings, &outputs, running);
                None
            }
        }
    }

    /// Runs a built-in inline and records its result.
    fn run_builtin(
        &mut self,
        id: RuleId,
        name: &str,
        settings: &BTreeMap<String, String>,
        outputs: &[WorkspacePath],
        running: Running,
    ) {
        let Some(builtin) = self.builtins.get(name) else {
            let failure = Failure::Builtin {
                diagnostics: vec![miette::miette!(
                    "the built-in rule `{name}` is not implemented in this version of cloesce"
                )],
            };
            self.fail(
                id,
                running.reasons,
                failure,
                String::new(),
                String::new(),
                Some(running.started_ns),
            );
            return;
        };
        let mut inputs = Vec::with_capacity(running.key_input.inputs.len());
        for (path, _) in &running.key_input.inputs {
            match self.host.read(path) {
                Ok(bytes) => inputs.push((path.clone(), bytes)),
                Err(e) => {
                    self.fail(
                        id,
                        running.reasons,
                        io_failure(&format!("reading {path}"), e),
                        String::new(),
                        String::new(),
                        Some(running.started_ns),
                    );
                    return;
                }
            }
        }
        let request = BuiltinRequest {
            rule: &self.rule(id).name.value,
            inputs: &inputs,
            outputs,
            settings,
        };
        let rule_name = &self.rule(id).name.value;
        // `--no-cache` asks for work done afresh: no memo is read (one is
        // still written, like the records).
        let memo = if self.options.no_cache {
            None
        } else {
            crate::memo::read(self.host, rule_name, builtin)
        };
        match builtin.run_memo(&request, memo.as_deref()) {
            Ok((result, memo)) => {
                let declared: BTreeSet<&WorkspacePath> = outputs.iter().collect();
                for (path, bytes) in &result.files {
                    if !declared.contains(path) {
                        let failure = Failure::Io {
                            message: format!("built-in `{name}` produced {path}, which the rule does not declare"),
                        };
                        self.fail(
                            id,
                            running.reasons,
                            failure,
                            result.log.clone(),
                            String::new(),
                            Some(running.started_ns),
                        );
                        return;
                    }
                    if let Err(e) = self.host.write_atomic(path, bytes, false) {
                        self.fail(
                            id,
                            running.reasons,
                            io_failure(&format!("writing {path}"), e),
                            result.log.clone(),
                            String::new(),
                            Some(running.started_ns),
                        );
                        return;
                    }
                }
                // The old outputs were left in place (`execute`); one the
                // built-in did not return goes now, so it is missing, not stale.
                for output in outputs {
                    if !result.files.iter().any(|(path, _)| path == output) {
                        let _ = self.host.remove_file(output);
                    }
                }
                if let Some(memo) = memo {
                    crate::memo::write(self.host, rule_name, builtin, &memo);
                }
                self.record_success(id, running, result.log, String::new(), result.files);
            }
            Err(failure) => {
                let failure = Failure::Builtin {
                    diagnostics: failure.diagnostics,
                };
                self.fail(
                    id,
                    running.reasons,
                    failure,
                    String::new(),
                    String::new(),
                    Some(running.started_ns),
                );
            }
        }
    }

    /// Hashes a succeeded rule's outputs into the store and records it.
    /// `written`: the outputs a built-in returned, which the build itself
    /// just wrote: recorded from these bytes instead of read back.
    fn record_success(
        &mut self,
        id: RuleId,
        running: Running,
        stdout: String,
        stderr: String,
        mut written: Vec<(WorkspacePath, Vec<u8>)>,
    ) {
        let rule = self.rule(id);
        let now = self.host.now_ns();
        let mut records = Vec::with_capacity(rule.outputs.len());
        // The bytes of the small outputs, recorded inside the action entry.
        let mut inline = BTreeMap::new();
        let mut missing = Vec::new();
        // Outputs that changed while they were read (someone else wrote them).
        let mut changed = Vec::new();
        for output in &rule.outputs {
            let path = &output.value;
            let stat = match self.host.stat(path) {
                Ok(Some(stat)) if stat.kind == crate::host::FileKind::File => stat,
                Ok(_) => {
                    missing.push(path.clone());
                    continue;
                }
                Err(e) => {
                    self.fail(
                        id,
                        running.reasons,
                        io_failure(&format!("checking {path}"), e),
                        stdout,
                        stderr,
                        Some(running.started_ns),
                    );
                    return;
                }
            };
            let ours = written.iter().position(|(p, _)| p == path);
            let bytes = match ours.map(|i| written.swap_remove(i).1) {
                Some(bytes) => Ok(bytes),
                None => self.host.read(path),
            };
            let bytes = match bytes {
                Ok(bytes) => bytes,
                Err(e) => {
                    self.fail(
                        id,
                        running.reasons,
                        io_failure(&format!("reading {path}"), e),
                        stdout,
                        stderr,
                        Some(running.started_ns),
                    );
                    return;
                }
            };
            let digest = Digest::of(&bytes);
            let size = bytes.len() as u64;
            if rule.cache && !matches!(self.host.stat(path), Ok(Some(after)) if after == stat) {
                changed.push(path.clone());
            }
            if rule.cache {
                if let Err(e) = self.store.keep(&mut inline, digest, bytes) {
                    self.fail(
                        id,
                        running.reasons,
                        io_failure("writing to the store", e),
                        stdout,
                        stderr,
                        Some(running.started_ns),
                    );
                    return;
                }
            }
            self.state.record(path, &stat, digest, now);
            records.push(OutputRecord {
                path: path.clone(),
                digest,
                size,
                executable: stat.executable,
            });
        }
        if !missing.is_empty() {
            let failure = Failure::MissingOutputs { paths: missing };
            self.fail(
                id,
                running.reasons,
                failure,
                stdout,
                stderr,
                Some(running.started_ns),
            );
            return;
        }
        if rule.cache {
            changed.extend(settled::changed_during_run(
                &mut self.state,
                self.host,
                rule,
                &running.key_input,
                self.host.now_ns(),
            ));
            changed.extend(settled::appeared_during_run(
                self.host,
                rule,
                &running.key_input,
                &self.walk_looks,
                self.walked_at,
            ));
        }
        if rule.cache && changed.is_empty() {
            let entry = ActionEntry {
                rule: rule.name.value.clone(),
                outputs: records.clone(),
                stdout: stdout.clone(),
                stderr: stderr.clone(),
                key_input: Some(running.key_input),
                inline,
            };
            if let Err(e) = self.store.put_action(&running.key, &entry) {
                self.fail(
                    id,
                    running.reasons,
                    io_failure("writing to the store", e),
                    stdout,
                    stderr,
                    Some(running.started_ns),
                );
                return;
            }
            self.queue_upload(&running.key, &entry);
            self.state.set_rule(
                &rule.name.value,
                RuleRecord {
                    key: running.key,
                    outputs: records.clone(),
                    reasons: running.reasons.clone(),
                    has_logs: !(stdout.is_empty() && stderr.is_empty()),
                },
            );
        } else if !rule.cache {
            self.state.remove_rule(&rule.name.value);
        }
        // (A file it keyed on changed while it ran: its outputs stay, what it
        // made of what it read, but nothing says they belong to the key, so
        // the next run builds it again. The last good run's record stays, as
        // after a failure: it names other outputs, so it is never taken for
        // these.)
        self.produced[id.index()] = Some(Produced::Known(records));
        self.report(
            id,
            RuleStatus::Ran,
            running.reasons,
            stdout,
            stderr,
            None,
            Some(running.started_ns),
            Some(running.key),
        );
        if !changed.is_empty() {
            self.summary.unrecorded += 1;
            if let Some(Event::Finished(report)) = self.events.back_mut() {
                report.changed_during_run = changed;
            }
        }
    }

    /// Checks a cached result's outputs on disk and restores the ones that
    /// differ, from the result recorded under `key`. `Ok(None)` when an
    /// output's stored bytes are missing or corrupt.
    ///
    /// Only a hit on the last run's own key (`same_as_last`) blames the
    /// outputs: then a differing output was touched by someone else. On any
    /// other hit the outputs on disk are the last run's, for other inputs,
    /// and the reasons already name what changed.
    fn try_restore(
        &mut self,
        key: &Digest,
        entry: &ActionEntry,
        mut reasons: Vec<Reason>,
        same_as_last: bool,
    ) -> Result<Option<(RuleStatus, Vec<Reason>)>, Failure> {
        let now = self.host.now_ns();
        let mut to_restore = Vec::new();
        for output in &entry.outputs {
            let current = self
                .state
                .digest_output(self.host, &output.path, now)
                .map_err(|e| io_failure(&format!("reading {}", output.path), e))?;
            let blame = match current {
                Ok(Some(d)) if d.digest == output.digest => continue,
                // A symlink is replaced by the file, never followed.
                Ok(Some(_)) | Err(Symlink) => Reason::OutputModified {
                    path: output.path.clone(),
                },
                Ok(None) => Reason::OutputMissing {
                    path: output.path.clone(),
                },
            };
            if same_as_last {
                reasons.push(blame);
            }
            to_restore.push(output);
        }
        if to_restore.is_empty() {
            let status = if reasons.is_empty() {
                RuleStatus::Fresh
            } else {
                // Seen before and the outputs already match (e.g. the same
                // bytes were produced for other inputs): nothing to write.
                RuleStatus::Restored
            };
            return Ok(Some((status, reasons)));
        }
        // Every output's bytes must be there before anything is written.
        let blobs = match self.store.outputs(key, Some(entry), &to_restore) {
            Ok(Some(blobs)) => blobs,
            Ok(None) => return Ok(None),
            Err(e) => return Err(io_failure("reading the store", e)),
        };
        if self.options.dry_run {
            return Ok(Some((RuleStatus::WouldRestore, reasons)));
        }
        for (output, bytes) in to_restore.into_iter().zip(blobs) {
            self.host
                .write_atomic(&output.path, &bytes, output.executable)
                .map_err(|e| io_failure(&format!("restoring {}", output.path), e))?;
            if let Ok(Some(stat)) = self.host.stat(&output.path) {
                self.state.record(&output.path, &stat, output.digest, now);
            }
        }
        Ok(Some((RuleStatus::Restored, reasons)))
    }

    /// What changed since the rule's last successful run, against what went
    /// into its key (kept in the action entry of the last record's key).
    fn reasons_since_last(&self, rule: &str, key_input: &ActionKeyInput) -> Vec<Reason> {
        let last = self
            .state
            .rules
            .get(rule)
            .and_then(|record| self.store.get_action(&record.key).ok().flatten())
            .and_then(|entry| entry.key_input);
        match last {
            Some(old) => diff(&old, key_input),
            None => vec![Reason::NeverBuilt],
        }
    }

    /// Logs of the cached result, replayed on a hit (empty when none).
    fn replayed_logs(&self, key: &Digest) -> (String, String) {
        match self.store.get_action(key) {
            Ok(Some(entry)) => (entry.stdout, entry.stderr),
            _ => (String::new(), String::new()),
        }
    }

    /// Everything that enters a rule's key.
    fn key_input(
        &mut self,
        id: RuleId,
        upstream: Vec<(WorkspacePath, Digest)>,
    ) -> Result<ActionKeyInput, Failure> {
        let rule = self.rule(id);
        let definition = self.pipeline.definitions[id.index()];
        let now = self.host.now_ns();
        let mut inputs = Vec::new();
        for path in self.resolve_inputs(rule)? {
            match self.state.digest(self.host, &path, now) {
                Ok(Some(d)) => inputs.push((path, d.digest)),
                Ok(None) => {}
                Err(e) => return Err(io_failure(&format!("reading input {path}"), e)),
            }
        }
        let env = self
            .env_names(rule)
            .into_iter()
            .map(|name| {
                let digest = env_value_digest(self.host.env_var(&name).as_deref());
                (name, digest)
            })
            .collect();
        let mut tools = Vec::new();
        for tool in self.pipeline.tools.iter().chain(&rule.tools) {
            let version = self
                .tool_versions
                .entry(tool.version_argv.clone())
                .or_insert_with(|| self.host.tool_version(&tool.version_argv))
                .clone();
            match version {
                Ok(v) => tools.push((tool.name.value.clone(), v)),
                Err(message) => {
                    return Err(Failure::Tool {
                        name: tool.name.value.clone(),
                        message,
                    })
                }
            }
        }
        Ok(ActionKeyInput {
            definition,
            inputs,
            upstream,
            env,
            tools,
        })
    }

    /// The declared env names a rule sees: pipeline-wide, then its own.
    fn env_names(&self, rule: &Rule) -> Vec<String> {
        let mut names: Vec<String> = self
            .pipeline
            .env
            .iter()
            .chain(&rule.env)
            .map(|e| e.value.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The child environment: the allowlisted host variables plus the
    /// declared ones, nothing else.
    fn child_env(&self, rule: &Rule) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for name in ENV_ALLOWLIST {
            if let Some(value) = self.host.env_var(name) {
                env.insert(name.to_string(), value);
            }
        }
        for name in self.env_names(rule) {
            if let Some(value) = self.host.env_var(&name) {
                env.insert(name, value);
            }
        }
        env
    }

    /// The files a rule's input patterns match, sorted and de-duplicated.
    fn resolve_inputs(&mut self, rule: &Rule) -> Result<Vec<WorkspacePath>, Failure> {
        let mut found = BTreeSet::new();
        for pattern in &rule.inputs {
            if let Some(literal) = &pattern.value.literal {
                found.insert(literal.clone());
                continue;
            }
            let matcher = walk::compile_glob(&pattern.value.glob).map_err(|e| Failure::Io {
                message: format!("invalid glob `{}`: {e}", pattern.value.glob),
            })?;
            if self.walked.is_none() {
                let bases: Vec<Option<WorkspacePath>> = self
                    .pipeline
                    .rules
                    .iter()
                    .flat_map(|r| &r.inputs)
                    .filter(|p| p.value.literal.is_none())
                    .map(|p| walk::glob_base(&p.value.glob))
                    .collect();
                self.walked_at = self.host.now_ns();
                let mut looks = Vec::new();
                let files = walk::walk_looking(self.host, &bases, &mut |l| looks.push(l))
                    .map_err(|e| io_failure("listing the project's files", e))?;
                self.walk_looks = looks;
                self.walked = Some(files);
            }
            let walked = self.walked.as_deref().unwrap_or(&[]);
            found.extend(
                walked
                    .iter()
                    .filter(|p| matcher.is_match(p.as_str()))
                    .cloned(),
            );
            found.extend(
                self.pipeline
                    .rules
                    .iter()
                    .flat_map(|r| &r.outputs)
                    .filter(|o| matcher.is_match(o.value.as_str()))
                    .map(|o| o.value.clone()),
            );
        }
        // Outputs of this very rule are never its inputs.
        for output in &rule.outputs {
            found.remove(&output.value);
        }
        Ok(found.into_iter().collect())
    }

    /// Dry run: the rule would run, so its outputs are unknown.
    fn complete_unknown(&mut self, id: RuleId, reasons: Vec<Reason>, key: Option<Digest>) {
        self.produced[id.index()] = Some(Produced::Unknown);
        self.report(
            id,
            RuleStatus::WouldRun,
            reasons,
            String::new(),
            String::new(),
            None,
            None,
            key,
        );
    }

    fn fail(
        &mut self,
        id: RuleId,
        reasons: Vec<Reason>,
        failure: Failure,
        stdout: String,
        stderr: String,
        started_ns: Option<u64>,
    ) {
        if started_ns.is_some() {
            self.put_back_last_good(id);
        }
        self.report(
            id,
            RuleStatus::Failed,
            reasons,
            stdout,
            stderr,
            Some(failure),
            started_ns,
            None,
        );
    }

    /// After a rule that started has failed: its declared outputs go back to
    /// what its last successful run wrote (from the store), and whatever the
    /// failed run wrote goes. The project is then the last good build, as
    /// the rules after it (not started) left it; an output with no copy in
    /// the store (`cache #false`, never built) stays removed. Best effort:
    /// the failure is what gets reported.
    fn put_back_last_good(&mut self, id: RuleId) {
        let rule = self.rule(id);
        let record = self.state.rules.get(&rule.name.value);
        let last: BTreeMap<&WorkspacePath, &OutputRecord> = record
            .map(|record| record.outputs.iter().map(|o| (&o.path, o)).collect())
            .unwrap_or_default();
        // Its small outputs are inside its action entry: read it once.
        let stored = record
            .filter(|r| r.outputs.iter().any(|o| crate::store::is_inline(o.size)))
            .and_then(|r| self.store.get_action(&r.key).ok().flatten());
        let now = self.host.now_ns();
        let mut restored = Vec::new();
        for output in &rule.outputs {
            let path = &output.value;
            // The last good bytes replace the file in one step, so it is
            // never missing meanwhile; without them it goes.
            let last_good = match (last.get(path), record.map(|r| r.key)) {
                (Some(record), Some(key)) => self
                    .store
                    .outputs(&key, stored.as_ref(), &[record])
                    .ok()
                    .flatten()
                    .map(|mut bytes| (record, bytes.remove(0))),
                _ => None,
            };
            match last_good {
                Some((record, bytes))
                    if self
                        .host
                        .write_atomic(path, &bytes, record.executable)
                        .is_ok() =>
                {
                    restored.push((path.clone(), record.digest));
                }
                _ => {
                    let _ = self.host.remove_file(path);
                }
            }
        }
        for (path, digest) in restored {
            if let Ok(Some(stat)) = self.host.stat(&path) {
                self.state.record(&path, &stat, digest, now);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        id: RuleId,
        status: RuleStatus,
        reasons: Vec<Reason>,
        stdout: String,
        stderr: String,
        failure: Option<Failure>,
        started_ns: Option<u64>,
        key: Option<Digest>,
    ) {
        match status {
            RuleStatus::Fresh => self.summary.fresh += 1,
            RuleStatus::Restored => self.summary.restored += 1,
            RuleStatus::Ran => self.summary.ran += 1,
            RuleStatus::Failed => self.summary.failed += 1,
            RuleStatus::WouldRun => self.summary.would_run += 1,
            RuleStatus::WouldRestore => self.summary.would_restore += 1,
        }
        let outcome = if status == RuleStatus::Failed {
            Outcome::Failed
        } else {
            Outcome::Succeeded
        };
        self.scheduler
            .handle_completed(self.rank[id.index()], outcome);
        let warns = matches!(self.rule(id).action, Action::Builtin { .. })
            && matches!(
                status,
                RuleStatus::Ran | RuleStatus::Fresh | RuleStatus::Restored
            )
            && !stdout.is_empty();
        if warns {
            self.summary.warned.push(id);
        }
        self.events.push_back(Event::Finished(RuleReport {
            rule: id,
            status,
            reasons,
            stdout,
            stderr,
            failure,
            started_ns,
            finished_ns: self.host.now_ns(),
            key,
            changed_during_run: Vec::new(),
            warns,
        }));
    }
}

fn io_failure(doing: &str, error: std::io::Error) -> Failure {
    Failure::Io {
        message: format!("{doing}: {error}"),
    }
}

/// Whether a build that decides only the rules of `decide` has what it
/// needs of the others: each is cacheable (a rule that always runs is never
/// vouched for by a witness), and each a decided rule depends on has a
/// record, whose outputs stand for what it produced.
fn skipped_are_recorded(
    pipeline: &Pipeline,
    deps: &[Vec<usize>],
    decide: &[bool],
    state: &State,
) -> bool {
    pipeline
        .rules
        .iter()
        .zip(decide)
        .all(|(r, d)| *d || r.cache)
        && deps
            .iter()
            .zip(decide)
            .filter(|(_, d)| **d)
            .all(|(rule_deps, _)| {
                rule_deps.iter().all(|&dep| {
                    decide[dep] || state.rules.contains_key(&pipeline.rules[dep].name.value)
                })
            })
}

/// The files a build of the selected rules will stat: their literal inputs
/// and their outputs, each once (for [`State::prefetch`]).
fn files_to_check<'p>(pipeline: &'p Pipeline, selected: &[bool]) -> Vec<&'p WorkspacePath> {
    let mut seen = FxHashSet::default();
    for (rule, _) in pipeline.rules.iter().zip(selected).filter(|(_, s)| **s) {
        let inputs = rule.inputs.iter().filter_map(|i| i.value.literal.as_ref());
        seen.extend(inputs.chain(rule.outputs.iter().map(|o| &o.value)));
    }
    seen.into_iter().collect()
}

/// `rank[rule] = position in topological order`.
fn rank_by_order(order: &[RuleId], n: usize) -> Vec<usize> {
    let mut rank = vec![0; n];
    for (pos, id) in order.iter().enumerate() {
        rank[id.index()] = pos;
    }
    rank
}

/// Re-expresses rule-indexed dependency lists in topological slots, so the
/// scheduler (which hands out the lowest ready slot first) follows the order.
fn reindex(deps: &[Vec<usize>], rank: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); deps.len()];
    for (rule, rule_deps) in deps.iter().enumerate() {
        out[rank[rule]] = rule_deps.iter().map(|d| rank[*d]).collect();
    }
    out
}

fn permute(selected: &[bool], order: &[RuleId]) -> Vec<bool> {
    order.iter().map(|id| selected[id.index()]).collect()
}
