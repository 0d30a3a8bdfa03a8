//! The build state machine over `MemoryHost`, with a fake driver that
//! "runs" jobs by interpreting their argv in memory. These tests observe what
//! actually ran (the driver's log), not the engine's own summary.

use std::cell::RefCell;

use cloesce_engine::build::{Build, BuildOptions, Event, Poll, RuleStatus, Summary};
use cloesce_engine::builtin::BuiltinRegistry;
use cloesce_engine::explain::Reason;
use cloesce_engine::fingerprint::Digest;
use cloesce_engine::graph::Graph;
use cloesce_engine::host::Host;
use cloesce_engine::job::{Completion, ExitStatus};
use cloesce_engine::pipeline::*;
use cloesce_engine::state::{State, COARSE_RACY_WINDOW_NS};
use cloesce_engine::store::INLINE_MAX;
use cloesce_engine::testing::MemoryHost;
use cloesce_engine::witness;
use cloesce_engine::WorkspacePath;

fn span() -> Span {
    Span {
        source: SourceId(0),
        span: (0, 0).into(),
    }
}

fn spanned<T>(value: T) -> Spanned<T> {
    Spanned {
        value,
        span: span(),
    }
}

/// A `run` rule: argv `["concat", out, in...]` writes the inputs' text,
/// joined, to `out`; `["fail"]` exits 1; `["nothing"]` writes nothing.
fn rule(name: &str, argv: &[&str], inputs: &[&str], outputs: &[&str]) -> Rule {
    Rule {
        name: spanned(name.to_string()),
        span: span(),
        description: None,
        action: Action::Run {
            argv: spanned(argv.iter().map(|s| s.to_string()).collect()),
        },
        inputs: inputs
            .iter()
            .map(|g| {
                spanned(InputPattern {
                    glob: g.to_string(),
                    literal: cloesce_engine::walk::is_literal(g)
                        .then(|| WorkspacePath::new(g).unwrap()),
                })
            })
            .collect(),
        outputs: outputs
            .iter()
            .map(|o| spanned(WorkspacePath::new(o).unwrap()))
            .collect(),
        deps: vec![],
        env: vec![],
        tools: vec![],
        cache: true,
    }
}

fn pipeline(rules: Vec<Rule>) -> Pipeline {
    Pipeline::new(
        vec![SourceFile::new("cloesce.kdl", "")],
        vec![],
        vec![],
        rules,
        &BuiltinRegistry::new(),
    )
}

/// Edges: (dependency, dependent).
fn graph(n: usize, edges: &[(u32, u32)]) -> Graph {
    let mut deps = vec![Vec::new(); n];
    let mut dependents = vec![Vec::new(); n];
    for &(from, to) in edges {
        deps[to as usize].push(RuleId(from));
        dependents[from as usize].push(RuleId(to));
    }
    Graph {
        deps,
        dependents,
        order: (0..n as u32).map(RuleId).collect(),
        edges: vec![],
    }
}

struct Run {
    summary: Summary,
    ran: Vec<String>,
    statuses: Vec<(String, RuleStatus, Vec<Reason>)>,
    /// Per rule reported with files changed while it ran: those files.
    changed: Vec<(String, Vec<String>)>,
    /// Rules counted fresh without being decided (see `dirty.rs`).
    skipped: usize,
}

impl Run {
    fn note(&mut self, p: &Pipeline, event: Event) {
        if let Event::Finished(r) = event {
            let name = p.rules[r.rule.index()].name.value.clone();
            if !r.changed_during_run.is_empty() {
                let paths = r.changed_during_run.iter().map(|p| p.to_string());
                self.changed.push((name.clone(), paths.collect()));
            }
            self.statuses.push((name, r.status, r.reasons));
        }
    }
}

fn build(host: &MemoryHost, p: &Pipeline, g: &Graph, options: BuildOptions) -> Run {
    build_with(host, p, g, options, &|_| {})
}

/// [`build`] starting from a state read (and stats taken) beforehand.
fn build_from(host: &MemoryHost, p: &Pipeline, g: &Graph, state: State) -> Run {
    run_build(host, p, g, keyed(), &|_| {}, Some(state))
}

/// [`build`], calling `while_running` with each job's rule name after the
/// job did its work and before it is reported finished (an edit there is an
/// edit while the rule runs).
fn build_with(
    host: &MemoryHost,
    p: &Pipeline,
    g: &Graph,
    options: BuildOptions,
    while_running: &dyn Fn(&str),
) -> Run {
    run_build(host, p, g, options, while_running, None)
}

fn run_build(
    host: &MemoryHost,
    p: &Pipeline,
    g: &Graph,
    options: BuildOptions,
    while_running: &dyn Fn(&str),
    state: Option<State>,
) -> Run {
    run_build_changes(host, p, g, options, while_running, state, None)
}

fn run_build_changes(
    host: &MemoryHost,
    p: &Pipeline,
    g: &Graph,
    options: BuildOptions,
    while_running: &dyn Fn(&str),
    state: Option<State>,
    changes: Option<witness::Changes>,
) -> Run {
    let builtins = BuiltinRegistry::new();
    let ran = RefCell::new(Vec::new());
    let mut b = Build::with_changes(host, p, g, &builtins, options, state, changes);
    let mut pending = Vec::new();
    let mut run = Run {
        summary: Summary::default(),
        ran: Vec::new(),
        statuses: Vec::new(),
        changed: Vec::new(),
        skipped: b.skipped(),
    };
    loop {
        match b.poll() {
            Poll::Spawn(job) => pending.push(job),
            Poll::Wait => {
                let job = pending.remove(0);
                ran.borrow_mut().push(job.rule.clone());
                let status = match job.argv[0].as_str() {
                    "concat" => {
                        let mut text = String::new();
                        for input in &job.argv[2..] {
                            text.push_str(&host.get(input).unwrap_or_default());
                        }
                        host.put(&job.argv[1], &text);
                        ExitStatus::Code(0)
                    }
                    // ["sidecar", out, side, in...]: writes "ok" to `out` and
                    // the inputs' text to `side`, which the rule does not declare.
                    "sidecar" => {
                        let mut text = String::new();
                        for input in &job.argv[3..] {
                            text.push_str(&host.get(input).unwrap_or_default());
                        }
                        host.put(&job.argv[1], "ok");
                        host.put(&job.argv[2], &text);
                        ExitStatus::Code(0)
                    }
                    "nothing" => ExitStatus::Code(0),
                    _ => ExitStatus::Code(1),
                };
                while_running(&job.rule);
                b.handle_completed(Completion {
                    id: job.id,
                    status,
                    stdout: b"out".to_vec(),
                    stderr: vec![],
                });
            }
            Poll::Done => break,
        }
        while let Some(e) = b.poll_event() {
            run.note(p, e);
        }
    }
    while let Some(e) = b.poll_event() {
        run.note(p, e);
    }
    run.summary = b.finish().unwrap();
    run.ran = ran.into_inner();
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    run
}

/// a.txt -> A (a.out) -> B (b.out, also reads b.txt)
fn chain() -> (MemoryHost, Pipeline, Graph) {
    let host = MemoryHost::new();
    host.put("a.txt", "a");
    host.put("b.txt", "b");
    let p = pipeline(vec![
        rule("A", &["concat", "a.out", "a.txt"], &["a.txt"], &["a.out"]),
        rule(
            "B",
            &["concat", "b.out", "a.out", "b.txt"],
            &["a.out", "b.txt"],
            &["b.out"],
        ),
    ]);
    let g = graph(2, &[(0, 1)]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    (host, p, g)
}

#[test]
fn first_run_runs_all_then_noop_runs_nothing_and_hashes_nothing() {
    let (host, p, g) = chain();
    let first = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(first.ran, vec!["A", "B"]);
    assert_eq!(host.get("b.out").as_deref(), Some("ab"));
    // Outputs hashed right after they were written are "racy" and are
    // hashed once more by the next run; after that nothing is hashed.
    let second = build(&host, &p, &g, BuildOptions::default());
    assert!(second.ran.is_empty());
    assert_eq!(second.summary.fresh, 2);
    host.reads.borrow_mut().clear();
    let third = build(&host, &p, &g, BuildOptions::default());
    assert!(third.ran.is_empty());
    assert_eq!(third.summary.fresh, 2);
    let reads: Vec<String> = host.reads.borrow().iter().map(|p| p.to_string()).collect();
    assert!(
        reads.iter().all(|r| r.starts_with(".cloesce/")),
        "a no-op hashed project files: {reads:?}"
    );
}

#[test]
fn an_undeclared_write_is_seen_by_a_later_rule() {
    // Stats taken up front (State::prefetch) must not hide a file that a
    // rule which ran earlier in the same build rewrote without declaring it.
    let host = MemoryHost::new();
    host.put("a.txt", "a");
    let p = pipeline(vec![
        rule(
            "A",
            &["sidecar", "a.out", "gen.txt", "a.txt"],
            &["a.txt"],
            &["a.out"],
        ),
        rule(
            "B",
            &["concat", "b.out", "gen.txt"],
            &["gen.txt"],
            &["b.out"],
        ),
    ]);
    let g = graph(2, &[(0, 1)]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, &p, &g, BuildOptions::default());
    build(&host, &p, &g, BuildOptions::default()); // settles racy entries
    host.put("a.txt", "z");
    let run = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(run.ran, vec!["A", "B"]);
    assert_eq!(host.get("b.out").as_deref(), Some("z"));
}

#[test]
fn rules_decided_beside_a_running_job_stat_each_file_once() {
    // A edits; B and C do not depend on it. They are decided while A's job
    // runs, from the stats taken before it started (State::prefetch), so no
    // project file is stat-ed twice.
    let host = MemoryHost::new();
    for name in ["a", "b", "c"] {
        host.put(&format!("{name}.txt"), name);
    }
    let p = pipeline(
        ["a", "b", "c"]
            .iter()
            .map(|n| {
                let (out, input) = (format!("{n}.out"), format!("{n}.txt"));
                rule(
                    &n.to_uppercase(),
                    &["concat", &out, &input],
                    &[&input],
                    &[&out],
                )
            })
            .collect(),
    );
    let g = graph(3, &[]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, &p, &g, BuildOptions::default());
    build(&host, &p, &g, BuildOptions::default()); // settles racy entries
    host.put("a.txt", "a2");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    host.stats.borrow_mut().clear();
    let options = BuildOptions {
        jobs: 2,
        ..BuildOptions::default()
    };
    let run = build(&host, &p, &g, options);
    assert_eq!(run.ran, vec!["A"]);
    assert_eq!(run.summary.fresh, 2);
    let stats = host.stats.borrow();
    for name in ["b.txt", "b.out", "c.txt", "c.out"] {
        let times = stats.iter().filter(|s| s.as_str() == name).count();
        assert_eq!(times, 1, "{name} was stat-ed {times} times: {stats:?}");
    }
}

#[test]
fn a_file_no_rule_reads_any_more_leaves_the_stat_cache() {
    // The state's files are stat-ed up front by every run that decides
    // (State::prefetch_recorded): a file that left the pipeline must leave
    // them too, or every later run would stat it.
    let (host, p, g) = chain();
    build(&host, &p, &g, BuildOptions::default());
    build(&host, &p, &g, BuildOptions::default());
    let only_a = pipeline(vec![rule(
        "A",
        &["concat", "a.out", "a.txt"],
        &["a.txt"],
        &["a.out"],
    )]);
    let g1 = graph(1, &[]);
    let recorded = |host: &MemoryHost| -> Vec<String> {
        host.stats.borrow_mut().clear();
        State::load(host).prefetch_recorded(host);
        host.stats.borrow().iter().map(|p| p.to_string()).collect()
    };
    assert!(recorded(&host).contains(&"b.txt".to_string()));
    // A build of named rules decides only some: it keeps the others.
    let targeted = BuildOptions {
        targets: vec![RuleId(0)],
        ..BuildOptions::default()
    };
    build(&host, &only_a, &g1, targeted);
    assert!(recorded(&host).contains(&"b.txt".to_string()));
    // A build that decides every rule drops them.
    build(&host, &only_a, &g1, BuildOptions::default());
    let left = recorded(&host);
    assert!(
        !left.iter().any(|p| p == "b.txt" || p == "b.out"),
        "{left:?}"
    );
    assert!(left.contains(&"a.txt".to_string()), "{left:?}");
}

#[test]
fn touch_without_change_runs_nothing() {
    let (host, p, g) = chain();
    build(&host, &p, &g, BuildOptions::default());
    host.touch("a.txt");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let run = build(&host, &p, &g, BuildOptions::default());
    assert!(run.ran.is_empty());
}

#[test]
fn edit_runs_downstream_and_revert_restores_without_running() {
    let (host, p, g) = chain();
    build(&host, &p, &g, BuildOptions::default());
    host.put("a.txt", "A2");
    let edited = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(edited.ran, vec!["A", "B"]);
    assert_eq!(host.get("b.out").as_deref(), Some("A2b"));
    let (_, _, reasons) = &edited.statuses[0];
    assert!(matches!(&reasons[0], Reason::InputChanged { path, .. } if path.as_str() == "a.txt"));
    host.put("a.txt", "a");
    let reverted = build(&host, &p, &g, BuildOptions::default());
    assert!(reverted.ran.is_empty(), "revert ran {:?}", reverted.ran);
    assert_eq!(reverted.summary.restored, 2);
    assert_eq!(host.get("b.out").as_deref(), Some("ab"));
}

#[test]
fn early_cutoff_stops_at_identical_output() {
    let host = MemoryHost::new();
    host.put("x.txt", "x");
    host.put("y.txt", "y");
    // A copies only x.txt, but also reads y.txt: editing y.txt reruns A,
    // which reproduces the same a.out, so B does not run.
    let p = pipeline(vec![
        rule(
            "A",
            &["concat", "a.out", "x.txt"],
            &["x.txt", "y.txt"],
            &["a.out"],
        ),
        rule("B", &["concat", "b.out", "a.out"], &["a.out"], &["b.out"]),
    ]);
    let g = graph(2, &[(0, 1)]);
    build(&host, &p, &g, BuildOptions::default());
    host.put("y.txt", "y2");
    let run = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(run.ran, vec!["A"]);
}

#[test]
fn deleted_or_modified_output_is_restored_without_running() {
    let (host, p, g) = chain();
    build(&host, &p, &g, BuildOptions::default());
    host.remove_file(&WorkspacePath::new("a.out").unwrap())
        .unwrap();
    host.put("b.out", "tampered");
    let run = build(&host, &p, &g, BuildOptions::default());
    assert!(run.ran.is_empty());
    assert_eq!(host.get("a.out").as_deref(), Some("a"));
    assert_eq!(host.get("b.out").as_deref(), Some("ab"));
    assert_eq!(run.summary.restored, 2);
}

fn store_files(host: &MemoryHost, kind: &str) -> Vec<String> {
    let prefix = format!(".cloesce/{kind}/");
    host.paths()
        .into_iter()
        .filter(|p| p.starts_with(&prefix))
        .collect()
}

#[test]
fn corrupt_blob_is_detected_and_the_rule_reruns() {
    let (host, p, g) = chain();
    // Over INLINE_MAX bytes: a.out is a blob of its own.
    let big = "a".repeat(INLINE_MAX as usize + 1);
    host.put("a.txt", &big);
    build(&host, &p, &g, BuildOptions::default());
    let blobs = store_files(&host, "cas");
    assert!(!blobs.is_empty());
    for path in blobs {
        host.put(&path, "garbage");
    }
    host.remove_file(&WorkspacePath::new("a.out").unwrap())
        .unwrap();
    let run = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(run.ran, vec!["A"]);
    assert_eq!(host.get("a.out").as_deref(), Some(big.as_str()));
    let (_, _, reasons) = &run.statuses[0];
    assert!(reasons.contains(&Reason::CacheEntryUnusable), "{reasons:?}");
}

#[test]
fn a_small_output_damaged_inside_its_action_entry_is_not_restored() {
    let (host, p, g) = chain();
    build(&host, &p, &g, BuildOptions::default());
    assert!(
        store_files(&host, "cas").is_empty(),
        "small outputs live inside their action entries"
    );
    let packs = store_files(&host, "ac");
    assert_eq!(packs.len(), 1, "one store file for the run");
    let path = WorkspacePath::new(&packs[0]).unwrap();
    let mut bytes = host.read(&path).unwrap();
    let scan = cloesce_engine::pack::scan(&bytes).unwrap();
    assert_eq!(scan.records.len(), 2, "an entry per rule, in the pack");
    // The last byte of an entry is the last byte of its last small output.
    for slot in &scan.records {
        bytes[(slot.offset + slot.len as u64 - 1) as usize] ^= 1;
    }
    host.write_atomic(&path, &bytes, false).unwrap();
    host.remove_file(&WorkspacePath::new("a.out").unwrap())
        .unwrap();
    host.put("b.out", "tampered");
    let run = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(run.ran, vec!["A", "B"], "nothing damaged was restored");
    assert_eq!(host.get("a.out").as_deref(), Some("a"));
    assert_eq!(host.get("b.out").as_deref(), Some("ab"));
    for (_, _, reasons) in &run.statuses {
        assert!(reasons.contains(&Reason::CacheEntryUnusable), "{reasons:?}");
    }
}

#[test]
fn corrupt_state_and_action_entries_start_over_quietly() {
    let (host, p, g) = chain();
    build(&host, &p, &g, BuildOptions::default());
    host.put(".cloesce/state", "cloesce-state v999\n...");
    let run = build(&host, &p, &g, BuildOptions::default());
    assert!(run.ran.is_empty(), "the action cache still answers");
    for path in host.paths() {
        if path.starts_with(".cloesce/ac/") {
            host.put(&path, "cloesce-action v2\n{not json");
        }
    }
    host.put(".cloesce/state", "");
    let run = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(run.ran, vec!["A", "B"]);
}

#[test]
fn failure_records_nothing_and_fail_fast_skips_dependents() {
    let host = MemoryHost::new();
    host.put("a.txt", "a");
    let p = pipeline(vec![
        rule("A", &["fail"], &["a.txt"], &["a.out"]),
        rule("B", &["concat", "b.out", "a.out"], &["a.out"], &["b.out"]),
        rule("C", &["concat", "c.out", "a.txt"], &["a.txt"], &["c.out"]),
    ]);
    let g = graph(3, &[(0, 1)]);
    let run = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(run.ran, vec!["A"]);
    assert_eq!(run.summary.failed, 1);
    assert_eq!(run.summary.not_started.len(), 2);
    let again = build(
        &host,
        &p,
        &g,
        BuildOptions {
            keep_going: true,
            ..Default::default()
        },
    );
    assert_eq!(
        again.ran,
        vec!["A", "C"],
        "a failure recorded nothing, so A runs again"
    );
}

#[test]
fn missing_declared_output_is_a_failure() {
    let host = MemoryHost::new();
    host.put("a.txt", "a");
    let p = pipeline(vec![rule("A", &["nothing"], &["a.txt"], &["a.out"])]);
    let run = build(&host, &p, &graph(1, &[]), BuildOptions::default());
    assert_eq!(run.summary.failed, 1);
    assert_eq!(run.statuses[0].1, RuleStatus::Failed);
}

#[test]
fn declared_env_reruns_only_its_rule_and_undeclared_env_nothing() {
    let (host, mut p, g) = chain();
    p.rules[1].env.push(spanned("MODE".to_string()));
    build(&host, &p, &g, BuildOptions::default());
    host.set_env("UNDECLARED", "1");
    assert!(build(&host, &p, &g, BuildOptions::default()).ran.is_empty());
    host.set_env("MODE", "prod");
    let run = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(run.ran, vec!["B"]);
    assert_eq!(
        run.statuses[1].2,
        vec![Reason::EnvChanged {
            name: "MODE".into()
        }]
    );
}

#[test]
fn tool_version_change_reruns_the_rules_that_declare_it() {
    let (host, mut p, g) = chain();
    p.rules[0].tools.push(Tool {
        name: spanned("node".to_string()),
        version_argv: vec!["node".into(), "--version".into()],
    });
    host.set_env("TOOL_VERSION_node", "v20");
    build(&host, &p, &g, BuildOptions::default());
    host.set_env("TOOL_VERSION_node", "v22");
    let run = build(&host, &p, &g, BuildOptions::default());
    // A reruns; its output is identical, so B is cut off.
    assert_eq!(run.ran, vec!["A"]);
}

#[test]
fn cache_false_always_runs_and_no_cache_flag_runs_everything() {
    let (host, mut p, g) = chain();
    p.rules[1].cache = false;
    build(&host, &p, &g, BuildOptions::default());
    assert_eq!(build(&host, &p, &g, BuildOptions::default()).ran, vec!["B"]);
    let forced = build(
        &host,
        &p,
        &g,
        BuildOptions {
            no_cache: true,
            ..Default::default()
        },
    );
    assert_eq!(forced.ran, vec!["A", "B"]);
}

#[test]
fn dry_run_changes_nothing() {
    let (host, p, g) = chain();
    let dry = build(
        &host,
        &p,
        &g,
        BuildOptions {
            dry_run: true,
            ..Default::default()
        },
    );
    assert!(dry.ran.is_empty());
    assert_eq!(dry.summary.would_run, 2);
    assert_eq!(host.get("a.out"), None);
    assert_eq!(host.get(".cloesce/state"), None);
    assert_eq!(
        dry.statuses[1].2,
        vec![Reason::DependencyRuns { rule: "A".into() }]
    );
}

#[test]
fn targets_build_only_their_closure() {
    let (host, p, g) = chain();
    let run = build(
        &host,
        &p,
        &g,
        BuildOptions {
            targets: vec![RuleId(0)],
            ..Default::default()
        },
    );
    assert_eq!(run.ran, vec!["A"]);
}

#[test]
fn globs_match_walked_files_and_declared_outputs() {
    let host = MemoryHost::new();
    host.put("src/one.txt", "1");
    host.put("src/two.txt", "2");
    host.put(".gitignore", "gen/\n");
    let p = pipeline(vec![
        rule(
            "gen",
            &["concat", "gen/g.txt", "src/one.txt"],
            &["src/one.txt"],
            &["gen/g.txt"],
        ),
        rule(
            "all",
            &["concat", "all.out"],
            &["src/*.txt", "gen/*.txt"],
            &["all.out"],
        ),
    ]);
    let g = graph(2, &[(0, 1)]);
    build(&host, &p, &g, BuildOptions::default());
    let state = cloesce_engine::state::State::load(&host);
    let entry = cloesce_engine::store::Store::new(&host)
        .get_action(&state.rules.get("all").unwrap().key)
        .unwrap()
        .expect("the last record's action entry");
    let key_input = entry.key_input.expect("the entry keeps its key input");
    assert_eq!(key_input.key(), state.rules.get("all").unwrap().key);
    let inputs: Vec<String> = key_input
        .inputs
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    assert_eq!(inputs, vec!["gen/g.txt", "src/one.txt", "src/two.txt"]);
    host.put("src/three.txt", "3");
    let run = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(run.ran, vec!["all"]);
    assert_eq!(
        run.statuses[1].2,
        vec![Reason::InputAdded {
            path: WorkspacePath::new("src/three.txt").unwrap()
        }]
    );
}

/// A freed job slot is refilled before the finished job is recorded, so that
/// hashing and storing a result overlaps the next process; the result is
/// still recorded before the build ends, and a failure is reported at once.
#[test]
fn a_freed_slot_is_refilled_before_the_finished_job_is_recorded() {
    let host = MemoryHost::new();
    host.put("a.txt", "a");
    host.put("b.txt", "b");
    let p = pipeline(vec![
        rule("A", &["concat", "a.out", "a.txt"], &["a.txt"], &["a.out"]),
        rule("B", &["concat", "b.out", "b.txt"], &["b.txt"], &["b.out"]),
    ]);
    let g = graph(2, &[]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let builtins = BuiltinRegistry::new();
    let options = BuildOptions {
        jobs: 1,
        ..BuildOptions::default()
    };
    let mut b = Build::new(&host, &p, &g, &builtins, options);
    let finished = |b: &mut Build| {
        let mut names = Vec::new();
        while let Some(e) = b.poll_event() {
            if let Event::Finished(r) = e {
                names.push(p.rules[r.rule.index()].name.value.clone());
            }
        }
        names
    };
    let Poll::Spawn(a) = b.poll() else {
        panic!("A starts")
    };
    assert!(matches!(b.poll(), Poll::Wait));
    host.put("a.out", "a");
    b.handle_completed(Completion {
        id: a.id,
        status: ExitStatus::Code(0),
        stdout: vec![],
        stderr: vec![],
    });
    // B starts first; A is not recorded yet.
    let Poll::Spawn(job_b) = b.poll() else {
        panic!("B starts in A's slot")
    };
    assert!(finished(&mut b).is_empty());
    // Nothing else can start: A is recorded now.
    assert!(matches!(b.poll(), Poll::Wait));
    assert_eq!(finished(&mut b), vec!["A"]);
    b.handle_completed(Completion {
        id: job_b.id,
        status: ExitStatus::Code(1),
        stdout: vec![],
        stderr: vec![],
    });
    assert_eq!(finished(&mut b), vec!["B"]);
    assert!(matches!(b.poll(), Poll::Done));
    let summary = b.finish().unwrap();
    assert_eq!((summary.ran, summary.failed), (1, 1));
    // A's result is in the store: the next build restores nothing and runs
    // only B.
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let next = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(next.ran, vec!["B"]);
}

// ---- the witness (`witness.rs`): a run-level answer for all-fresh builds ----

const KEY: Digest = Digest([7; 32]);

fn keyed() -> BuildOptions {
    BuildOptions {
        pipeline_key: Some(KEY),
        ..Default::default()
    }
}

/// What the saved witness answers for the pipeline `key`.
fn answer(host: &MemoryHost, key: &Digest) -> Option<usize> {
    match witness::check(host, key) {
        witness::Checked::AllFresh(rules) => Some(rules),
        witness::Checked::Build(_) => None,
    }
}

#[test]
fn an_all_fresh_build_leaves_a_witness_that_answers_the_next_run() {
    let (host, p, g) = chain();
    build(&host, &p, &g, keyed());
    assert_eq!(
        answer(&host, &KEY),
        None,
        "a build that ran rules leaves no witness"
    );
    let fresh = build(&host, &p, &g, keyed());
    assert_eq!(fresh.summary.fresh, 2);
    assert_eq!(answer(&host, &KEY), Some(2));
    assert_eq!(answer(&host, &Digest([8; 32])), None, "another pipeline");
    // Any change to what the keys read voids it.
    host.touch("b.txt");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    assert_eq!(answer(&host, &KEY), None);
    // The build that decides (all fresh: only a touch) writes a new one.
    assert_eq!(build(&host, &p, &g, keyed()).summary.fresh, 2);
    assert_eq!(answer(&host, &KEY), Some(2));
    // A deleted output voids it, and the build that restores it removes it.
    host.remove_file(&WorkspacePath::new("a.out").unwrap())
        .unwrap();
    assert_eq!(answer(&host, &KEY), None);
    assert_eq!(build(&host, &p, &g, keyed()).summary.restored, 1);
    assert!(host.get(".cloesce/witness").is_none());
    // Losing the state voids it too: a build would restore, not find fresh.
    assert_eq!(build(&host, &p, &g, keyed()).summary.fresh, 2);
    assert_eq!(answer(&host, &KEY), Some(2));
    host.remove_file(&WorkspacePath::new(".cloesce/state").unwrap())
        .unwrap();
    assert_eq!(answer(&host, &KEY), None);
}

#[test]
fn a_witness_that_says_no_hands_over_the_stats_it_took_and_the_build_uses_them() {
    let (host, p, g) = chain();
    build(&host, &p, &g, keyed());
    build(&host, &p, &g, keyed());
    assert_eq!(answer(&host, &KEY), Some(2));
    host.put("b.txt", "b2");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    host.stats.borrow_mut().clear();
    let witness::Checked::Build(taken) = witness::check(&host, &KEY) else {
        panic!("an edited input must void the witness");
    };
    // Every path of the failed batch, each with the stat just taken.
    let b_txt = taken
        .iter()
        .find(|(path, _)| path.as_str() == "b.txt")
        .expect("b.txt was checked");
    let size = b_txt.1.as_ref().unwrap().as_ref().unwrap().size;
    assert_eq!(size, 2, "the stat of the edited file, not the recorded one");
    for (path, _) in &taken {
        let times = host.stats.borrow().iter().filter(|p| *p == path).count();
        assert_eq!(times, 1, "{path} stat-ed {times} times by the check");
    }
    // A build given them stats none of those paths again.
    let mut state = State::load(&host);
    state.prefetch_taken(taken.into_iter());
    host.stats.borrow_mut().clear();
    let run = build_from(&host, &p, &g, state);
    assert_eq!(run.ran, vec!["B"]);
    let again: Vec<String> = host.stats.borrow().iter().map(|p| p.to_string()).collect();
    let times = |name: &str| again.iter().filter(|p| *p == name).count();
    // a.txt decided A from the stat handed over; b.txt is stat-ed only by
    // the check after B ran (settled.rs), which never trusts an earlier one.
    assert_eq!((times("a.txt"), times("b.txt")), (0, 1), "{again:?}");
    assert_eq!(host.get("b.out").as_deref(), Some("ab2"));
}

#[test]
fn no_witness_after_a_target_build_or_a_dry_run_and_globs_are_vouched_by_their_folders() {
    let host = MemoryHost::new();
    host.put("src/x.txt", "x");
    host.put(".gitignore", "*.tmp\n");
    let p = pipeline(vec![rule(
        "G",
        &["concat", "g.out"],
        &["src/*.txt"],
        &["g.out"],
    )]);
    let g = graph(1, &[]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, &p, &g, keyed());
    assert_eq!(build(&host, &p, &g, keyed()).summary.fresh, 1);
    assert_eq!(answer(&host, &KEY), Some(1), "the walk is vouched for");
    // A new file the glob matches changes its folder: void, and G runs.
    host.put("src/y.txt", "y");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    assert_eq!(answer(&host, &KEY), None);
    assert_eq!(build(&host, &p, &g, keyed()).ran, vec!["G"]);
    build(&host, &p, &g, keyed());
    assert_eq!(answer(&host, &KEY), Some(1));
    // So does a change of `.gitignore` (it could hide or reveal a match).
    host.put(".gitignore", "src/y.txt\n");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    assert_eq!(answer(&host, &KEY), None);
    // (G's inputs are {x} again, as in the first build: restored.)
    assert_eq!(build(&host, &p, &g, keyed()).summary.restored, 1);
    build(&host, &p, &g, keyed());
    assert_eq!(answer(&host, &KEY), Some(1));
    // And a removed one.
    host.remove_file(&WorkspacePath::new("src/x.txt").unwrap())
        .unwrap();
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    assert_eq!(answer(&host, &KEY), None);
    assert_eq!(build(&host, &p, &g, keyed()).ran, vec!["G"]);

    let (host, p, g) = chain();
    build(&host, &p, &g, keyed());
    let one = BuildOptions {
        targets: vec![RuleId(0)],
        ..keyed()
    };
    assert_eq!(build(&host, &p, &g, one).summary.fresh, 1);
    assert!(host.get(".cloesce/witness").is_none());
    build(&host, &p, &g, keyed());
    assert!(host.get(".cloesce/witness").is_some());
    let dry = BuildOptions {
        dry_run: true,
        ..keyed()
    };
    host.put("a.txt", "changed");
    build(&host, &p, &g, dry);
    assert!(
        host.get(".cloesce/witness").is_some(),
        "a dry run changes nothing, the witness included"
    );
    assert_eq!(answer(&host, &KEY), None);
}

/// The witness may only ever say "all fresh" when a build would find every
/// rule fresh: random edits, touches, deletions, new files, env and tool
/// changes, with and without time passing (racy entries), checked against
/// the build that follows each one.
#[test]
fn the_witness_agrees_with_the_build_under_random_changes() {
    let (host, mut p, _) = chain();
    // B also reads c.txt, which does not exist at first, and declares MODE.
    if let Some(rule) = p.rules.get_mut(1) {
        rule.inputs.push(spanned(InputPattern {
            glob: "c.txt".into(),
            literal: Some(WorkspacePath::new("c.txt").unwrap()),
        }));
        rule.env.push(spanned("MODE".to_string()));
    }
    p.rules[0].tools.push(Tool {
        name: spanned("node".to_string()),
        version_argv: vec!["node".into(), "--version".into()],
    });
    // G reads a glob, so the build walks the project.
    let mut rules = std::mem::take(&mut p.rules);
    rules.push(rule("G", &["concat", "g.out"], &["src/*.txt"], &["g.out"]));
    let p = pipeline(rules);
    let g = graph(3, &[(0, 1)]);
    host.set_env("TOOL_VERSION_node", "v20");
    let mut seed = 0x5EED_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut answered, mut declined) = (0, 0);
    for _ in 0..600 {
        match next(14) {
            10 => host.put(
                ["src/x.txt", "src/y.txt", "src/sub/z.txt"][next(3) as usize],
                "s",
            ),
            11 => {
                let path = ["src/x.txt", "src/y.txt", "src/sub/z.txt"][next(3) as usize];
                host.remove_file(&WorkspacePath::new(path).unwrap())
                    .unwrap();
            }
            12 => host.put(
                ".gitignore",
                ["", "src/y.txt\n", "sub/\n"][next(3) as usize],
            ),
            13 => host.touch("src/x.txt"),
            0 => host.put("a.txt", ["a", "A2"][next(2) as usize]),
            1 => host.touch(["a.txt", "b.txt", "a.out", "b.out"][next(4) as usize]),
            2 => {
                let path = ["a.out", "b.out", "c.txt"][next(3) as usize];
                host.remove_file(&WorkspacePath::new(path).unwrap())
                    .unwrap();
            }
            3 => host.put("c.txt", "c"),
            4 => host.set_env("MODE", ["dev", "prod"][next(2) as usize]),
            5 => host.set_env("TOOL_VERSION_node", ["v20", "v22"][next(2) as usize]),
            6 => host.put("b.out", "tampered"),
            _ => {}
        }
        if next(2) == 0 {
            host.advance(COARSE_RACY_WINDOW_NS * 2);
        }
        let answer = answer(&host, &KEY);
        let run = build(&host, &p, &g, keyed());
        if let Some(rules) = answer {
            answered += 1;
            assert!(
                run.ran.is_empty() && run.summary.fresh == rules && rules == 3,
                "the witness said {rules} fresh, the build: {:?}",
                run.statuses
            );
        } else {
            declined += 1;
        }
    }
    // Both answers occur, so the property was exercised both ways.
    assert!(answered > 50 && declined > 50, "{answered} / {declined}");
}

/// The outputs and their bytes of a clean build of `sources` (path, text).
fn clean_build(sources: &[(&str, &str)], p: &Pipeline, g: &Graph) -> Vec<(String, Option<String>)> {
    let host = MemoryHost::new();
    for (path, text) in sources {
        host.put(path, text);
    }
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, p, g, BuildOptions::default());
    outputs_of(&host, p)
}

fn outputs_of(host: &MemoryHost, p: &Pipeline) -> Vec<(String, Option<String>)> {
    p.rules
        .iter()
        .flat_map(|r| &r.outputs)
        .map(|o| (o.value.to_string(), host.get(o.value.as_str())))
        .collect()
}

#[test]
fn an_input_edited_while_its_rule_runs_is_not_recorded_and_a_revert_runs_again() {
    // Issue 12, part 1: a.txt holds "b" when A's key is computed and "c"
    // once A has run. Recording A would map key("b") to outputs of "c".
    let (host, p, g) = chain();
    build(&host, &p, &g, BuildOptions::default());
    host.put("a.txt", "b");
    let edit = |rule: &str| {
        if rule == "A" {
            host.put("a.txt", "c");
        }
    };
    let during = build_with(&host, &p, &g, BuildOptions::default(), &edit);
    assert_eq!(during.ran, vec!["A", "B"]);
    assert_eq!(
        during.changed,
        vec![("A".to_string(), vec!["a.txt".to_string()])]
    );
    assert_eq!(during.summary.unrecorded, 1);
    let next = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(
        next.ran,
        vec!["A", "B"],
        "A was not recorded, so it runs again"
    );
    host.put("a.txt", "b");
    let reverted = build(&host, &p, &g, BuildOptions::default());
    assert!(
        reverted.ran.contains(&"A".to_string()),
        "key(b) must not be a hit"
    );
    assert_eq!(
        outputs_of(&host, &p),
        clean_build(&[("a.txt", "b"), ("b.txt", "b")], &p, &g)
    );
}

#[test]
fn an_upstream_output_or_a_missing_literal_input_changed_while_running_is_not_recorded() {
    let (host, p, g) = chain();
    build(&host, &p, &g, BuildOptions::default());
    host.put("b.txt", "B2");
    // B reads a.out (A's output): something rewrites it while B runs.
    let edit = |rule: &str| {
        if rule == "B" {
            host.put("a.out", "x");
        }
    };
    let during = build_with(&host, &p, &g, BuildOptions::default(), &edit);
    assert_eq!(
        during.changed,
        vec![("B".to_string(), vec!["a.out".to_string()])]
    );

    // A literal input missing when the key was computed appears meanwhile.
    let host = MemoryHost::new();
    host.put("a.txt", "a");
    let p = pipeline(vec![rule(
        "A",
        &["concat", "a.out", "a.txt", "opt.txt"],
        &["a.txt", "opt.txt"],
        &["a.out"],
    )]);
    let g = graph(1, &[]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let edit = |_: &str| host.put("opt.txt", "late");
    let during = build_with(&host, &p, &g, BuildOptions::default(), &edit);
    assert_eq!(
        during.changed,
        vec![("A".to_string(), vec!["opt.txt".to_string()])]
    );
    host.remove_file(&WorkspacePath::new("opt.txt").unwrap())
        .unwrap();
    let next = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(next.ran, vec!["A"]);
    assert_eq!(host.get("a.out").as_deref(), Some("a"));
}

#[test]
fn a_touch_while_running_that_keeps_the_bytes_still_records() {
    let (host, p, g) = chain();
    let touch = |rule: &str| {
        if rule == "A" {
            host.touch("a.txt");
        }
    };
    let during = build_with(&host, &p, &g, BuildOptions::default(), &touch);
    assert!(during.changed.is_empty());
    assert_eq!(during.summary.unrecorded, 0);
    let next = build(&host, &p, &g, BuildOptions::default());
    assert!(next.ran.is_empty());
}

#[test]
fn a_file_a_glob_input_matches_added_while_running_is_not_recorded() {
    let host = MemoryHost::new();
    host.put("src/a.txt", "a");
    host.put("src/keep.md", "not matched");
    let p = pipeline(vec![rule(
        "all",
        &["concat", "all.out", "src/a.txt", "src/b.txt"],
        &["src/*.txt"],
        &["all.out"],
    )]);
    let g = graph(1, &[]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, &p, &g, BuildOptions::default());
    // A file the glob does not match changes the folder, not the result.
    host.put("src/a.txt", "a2");
    let edit = |_: &str| host.put("src/other.md", "x");
    let during = build_with(&host, &p, &g, BuildOptions::default(), &edit);
    assert!(during.changed.is_empty(), "{:?}", during.changed);
    assert_eq!(during.summary.unrecorded, 0);
    // One it matches is an input the key did not have.
    host.put("src/a.txt", "a3");
    let edit = |_: &str| host.put("src/b.txt", "late");
    let during = build_with(&host, &p, &g, BuildOptions::default(), &edit);
    assert_eq!(
        during.changed,
        vec![("all".to_string(), vec!["src/b.txt".to_string()])]
    );
    host.remove_file(&WorkspacePath::new("src/b.txt").unwrap())
        .unwrap();
    let next = build(&host, &p, &g, BuildOptions::default());
    assert_eq!(
        next.ran,
        vec!["all"],
        "key(a3) without b.txt was not recorded"
    );
    assert_eq!(host.get("all.out").as_deref(), Some("a3"));
}

/// Builds the chain's rule A with a remote cache that always misses, with
/// `while_running` called while A runs; returns the keys queued for upload.
fn uploads_of_a_remote_build(
    host: &MemoryHost,
    p: &Pipeline,
    g: &Graph,
    while_running: &dyn Fn(),
) -> Vec<Digest> {
    let builtins = BuiltinRegistry::new();
    let options = BuildOptions {
        targets: vec![RuleId(0)],
        ..BuildOptions::default()
    };
    let mut b = Build::new(host, p, g, &builtins, options);
    b.enable_remote(false);
    loop {
        while let Some((id, _)) = b.poll_fetch() {
            b.handle_fetched(id, None);
        }
        match b.poll() {
            Poll::Spawn(job) => {
                host.put(&job.argv[1], &host.get(&job.argv[2]).unwrap_or_default());
                while_running();
                b.handle_completed(Completion {
                    id: job.id,
                    status: ExitStatus::Code(0),
                    stdout: vec![],
                    stderr: vec![],
                });
            }
            Poll::Wait => {}
            Poll::Done => break,
        }
    }
    let mut uploads = Vec::new();
    while let Some((key, _)) = b.poll_upload() {
        uploads.push(key);
    }
    b.finish().unwrap();
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    uploads
}

#[test]
fn a_result_whose_input_changed_while_running_is_not_uploaded() {
    let (host, p, g) = chain();
    assert_eq!(uploads_of_a_remote_build(&host, &p, &g, &|| {}).len(), 1);
    host.put("a.txt", "edited");
    let uploads = uploads_of_a_remote_build(&host, &p, &g, &|| host.put("a.txt", "again"));
    assert!(uploads.is_empty(), "uploaded {uploads:?}");
}

// ---- a built-in's log stands (warnings and notes, shown on every run) ----

/// `test/copy`: copies its one input to its one output; logs a warning
/// while the input starts with "warn", fails while it says "fail", and
/// returns no file while it says "none".
struct TestCopy;

impl cloesce_engine::builtin::Builtin for TestCopy {
    fn name(&self) -> &'static str {
        "test/copy"
    }
    fn version(&self) -> u32 {
        1
    }
    fn description(&self) -> &'static str {
        "copy, warning about \"warn\", failing on \"fail\", returning nothing on \"none\""
    }
    fn run(
        &self,
        request: &cloesce_engine::builtin::BuiltinRequest<'_>,
    ) -> Result<cloesce_engine::builtin::BuiltinOutput, cloesce_engine::builtin::BuiltinFailure>
    {
        let bytes = request.inputs[0].1.clone();
        match bytes.as_slice() {
            b"fail" => return Err(miette::miette!("the input says fail").into()),
            b"none" => return Ok(Default::default()),
            _ => {}
        }
        let log = if bytes.starts_with(b"warn") {
            "warning: the input says warn\n".to_string()
        } else {
            String::new()
        };
        Ok(cloesce_engine::builtin::BuiltinOutput {
            files: vec![(request.outputs[0].clone(), bytes)],
            log,
        })
    }
}

/// One `test/copy` rule, in.txt → out.txt.
fn test_copy() -> (BuiltinRegistry, Pipeline, Graph) {
    let mut builtins = BuiltinRegistry::new();
    builtins.register(Box::new(TestCopy));
    let mut copy = rule("copy", &[], &["in.txt"], &["out.txt"]);
    copy.action = Action::Builtin {
        name: spanned("test/copy".to_string()),
        settings: Default::default(),
    };
    let p = Pipeline::new(
        vec![SourceFile::new("cloesce.kdl", "")],
        vec![],
        vec![],
        vec![copy],
        &builtins,
    );
    (builtins, p, graph(1, &[]))
}

/// Builds a pipeline of built-in rules (they all finish inside one `poll`):
/// each rule's status and log, and the summary.
fn build_builtins(
    host: &MemoryHost,
    p: &Pipeline,
    g: &Graph,
    builtins: &BuiltinRegistry,
) -> (Vec<(RuleStatus, bool, String)>, Summary) {
    let mut b = Build::new(host, p, g, builtins, keyed());
    let poll = b.poll();
    assert!(matches!(poll, Poll::Done), "built-ins only, yet {poll:?}");
    let mut reports = Vec::new();
    while let Some(event) = b.poll_event() {
        if let Event::Finished(r) = event {
            reports.push((r.status, r.warns, r.stdout));
        }
    }
    let summary = b.finish().unwrap();
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    (reports, summary)
}

#[test]
fn a_builtins_log_stands_on_fresh_and_restored_runs_and_keeps_the_witness_away() {
    let (builtins, p, g) = test_copy();
    let host = MemoryHost::new();
    let warning = "warning: the input says warn\n".to_string();
    host.put("in.txt", "warn");
    host.advance(COARSE_RACY_WINDOW_NS * 2);

    let (reports, summary) = build_builtins(&host, &p, &g, &builtins);
    assert_eq!(reports, vec![(RuleStatus::Ran, true, warning.clone())]);
    assert_eq!(summary.warned, vec![RuleId(0)]);
    // Fresh: the log again, and no witness while it stands.
    for _ in 0..2 {
        let (reports, summary) = build_builtins(&host, &p, &g, &builtins);
        assert_eq!(reports, vec![(RuleStatus::Fresh, true, warning.clone())]);
        assert_eq!(summary.warned, vec![RuleId(0)]);
        assert_eq!(answer(&host, &KEY), None);
    }
    // Without the cause: no log, and the all-fresh run leaves a witness.
    host.put("in.txt", "fine");
    let (reports, _) = build_builtins(&host, &p, &g, &builtins);
    assert_eq!(reports, vec![(RuleStatus::Ran, false, String::new())]);
    let (reports, summary) = build_builtins(&host, &p, &g, &builtins);
    assert_eq!(reports, vec![(RuleStatus::Fresh, false, String::new())]);
    assert!(summary.warned.is_empty());
    assert_eq!(answer(&host, &KEY), Some(1));
    // Restored after a revert: the stored log comes back with the outputs.
    host.put("in.txt", "warn");
    let (reports, summary) = build_builtins(&host, &p, &g, &builtins);
    assert_eq!(reports, vec![(RuleStatus::Restored, true, warning)]);
    assert_eq!(summary.warned, vec![RuleId(0)]);
    assert!(host.get(".cloesce/witness").is_none());
}

// ---- a built-in's outputs are never missing while it reruns ----

#[test]
fn a_rerunning_builtin_replaces_its_outputs_in_place_and_a_failed_one_puts_back_the_last_good() {
    let (builtins, p, g) = test_copy();
    let host = MemoryHost::new();
    host.put("in.txt", "one");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let (reports, _) = build_builtins(&host, &p, &g, &builtins);
    assert_eq!(reports[0].0, RuleStatus::Ran);

    // A watcher of out.txt (`wrangler dev` of a generated file) must never
    // find it missing: each run replaces it, never removes it first.
    for (input, status, out) in [
        ("two", RuleStatus::Ran, "two"),
        ("fail", RuleStatus::Failed, "two"),
        ("three", RuleStatus::Ran, "three"),
        ("one", RuleStatus::Restored, "one"),
    ] {
        host.removed.borrow_mut().clear();
        host.put("in.txt", input);
        let (reports, _) = build_builtins(&host, &p, &g, &builtins);
        assert_eq!(reports[0].0, status, "after in.txt = {input}");
        assert_eq!(
            host.get("out.txt").as_deref(),
            Some(out),
            "after in.txt = {input}"
        );
        // (Of the project's files: a build that ran rules leaves
        // `.cloesce/ran-witness`, which the next build removes first.)
        let removed: Vec<String> = host
            .removed
            .borrow()
            .iter()
            .map(|p| p.to_string())
            .filter(|p| !p.starts_with(".cloesce/"))
            .collect();
        assert_eq!(removed, Vec::<String>::new(), "after in.txt = {input}");
    }

    // A declared output the built-in does not return is missing, not stale:
    // the rule fails, and the last good bytes come back.
    host.put("in.txt", "none");
    let (reports, _) = build_builtins(&host, &p, &g, &builtins);
    assert_eq!(reports[0].0, RuleStatus::Failed);
    assert_eq!(host.get("out.txt").as_deref(), Some("one"));
}

#[test]
fn a_builtin_that_returns_no_file_for_an_output_never_built_leaves_none() {
    let (builtins, p, g) = test_copy();
    let host = MemoryHost::new();
    host.put("in.txt", "none");
    host.put("out.txt", "written by hand, before any build");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let (reports, _) = build_builtins(&host, &p, &g, &builtins);
    assert_eq!(reports[0].0, RuleStatus::Failed);
    assert_eq!(
        host.get("out.txt"),
        None,
        "a stale file must not look built"
    );
}

// ---- a witness that names what changed (`dirty.rs`): decide only that ----

/// What `cloesce run` does: the witness check, then a build of every rule
/// that, when the check named every changed file, decides only their rules.
/// Returns the run and whether the check could name the changes.
fn build_via_witness(host: &MemoryHost, p: &Pipeline, g: &Graph) -> (Run, bool) {
    build_via_witness_with(host, p, g, &|_| {})
}

/// [`build_via_witness`], calling `while_running` as [`build_with`] does.
fn build_via_witness_with(
    host: &MemoryHost,
    p: &Pipeline,
    g: &Graph,
    while_running: &dyn Fn(&str),
) -> (Run, bool) {
    let (taken, rest) = match witness::check_for_changes(host, &KEY) {
        witness::Answer::AllFresh(rules) => {
            let run = build(host, p, g, keyed());
            assert!(
                run.ran.is_empty() && run.summary.fresh == rules,
                "the witness said {rules} fresh, the build: {:?}",
                run.statuses
            );
            return (run, false);
        }
        witness::Answer::Build { taken, rest } => (taken, rest),
    };
    let mut state = State::load(host);
    state.prefetch_taken(taken.into_iter());
    let changes = rest.and_then(|rest| rest.finish(host));
    let named = changes.is_some();
    if !named {
        state.prefetch_recorded(host);
    }
    let run = run_build_changes(host, p, g, keyed(), while_running, Some(state), changes);
    (run, named)
}

/// a.txt -> A -> B (also b.txt); c.txt -> C, apart.
fn two_groups() -> (MemoryHost, Pipeline, Graph) {
    let (host, p, _) = chain();
    host.put("c.txt", "c");
    let mut rules = p.rules;
    rules.push(rule(
        "C",
        &["concat", "c.out", "c.txt"],
        &["c.txt"],
        &["c.out"],
    ));
    let p = pipeline(rules);
    let g = graph(3, &[(0, 1)]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, &p, &g, keyed());
    build(&host, &p, &g, keyed());
    assert_eq!(answer(&host, &KEY), Some(3));
    (host, p, g)
}

fn sources_of(host: &MemoryHost) -> Vec<(String, String)> {
    ["a.txt", "b.txt", "c.txt"]
        .iter()
        .filter_map(|p| host.get(p).map(|t| (p.to_string(), t)))
        .collect()
}

/// The build after a witness matches a clean build, and a build deciding
/// every rule afterwards finds them all fresh (nothing was left stale).
fn assert_clean(host: &MemoryHost, p: &Pipeline, g: &Graph) {
    let sources = sources_of(host);
    let sources: Vec<(&str, &str)> = sources
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    assert_eq!(outputs_of(host, p), clean_build(&sources, p, g));
    let full = build(host, p, g, keyed());
    assert!(
        full.ran.is_empty() && full.summary.restored == 0,
        "a full build after it: {:?}",
        full.statuses
    );
}

fn decided(run: &Run) -> Vec<&str> {
    run.statuses
        .iter()
        .map(|(name, ..)| name.as_str())
        .collect()
}

#[test]
fn an_edited_input_is_decided_alone_and_the_other_rules_are_not_even_stat_ed() {
    let (host, p, g) = two_groups();
    host.put("b.txt", "B2");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    host.stats.borrow_mut().clear();
    let (run, named) = build_via_witness(&host, &p, &g);
    assert!(named);
    assert_eq!(run.ran, vec!["B"]);
    assert_eq!(decided(&run), ["B"], "only B has an event");
    assert_eq!((run.skipped, run.summary.fresh, run.summary.ran), (2, 2, 1));
    // The check stats every path once; the build none of A's and C's.
    let stats: Vec<String> = host.stats.borrow().iter().map(|p| p.to_string()).collect();
    for path in ["a.txt", "c.txt", "c.out"] {
        let times = stats.iter().filter(|p| *p == path).count();
        assert_eq!(times, 1, "{path}: {stats:?}");
    }
    assert_eq!(host.get("b.out").as_deref(), Some("aB2"));
    // It left a witness: B's files are racy, so the next check names them.
    let (next, named) = build_via_witness(&host, &p, &g);
    assert!(named);
    assert_eq!(decided(&next), ["B"]);
    assert!(next.ran.is_empty());
    // That one found B fresh (its files hashed anew, not racy now).
    assert_eq!(answer(&host, &KEY), Some(3));
    assert_clean(&host, &p, &g);
}

#[test]
fn the_edit_loop_edit_run_edit_run_decides_only_the_edited_rules() {
    let (host, p, g) = two_groups();
    for (i, text) in ["1", "2", "3"].iter().enumerate() {
        host.put("c.txt", text);
        host.advance(COARSE_RACY_WINDOW_NS * 2);
        let (run, named) = build_via_witness(&host, &p, &g);
        assert!(named, "edit {i}: the build before left a witness");
        assert_eq!(run.ran, vec!["C"]);
        assert_eq!(decided(&run), ["C"]);
        assert_eq!(host.get("c.out").as_deref(), Some(*text));
    }
    assert_clean(&host, &p, &g);
}

#[test]
fn upstream_edits_outputs_deleted_or_edited_two_groups_and_reverts_are_decided() {
    let (host, p, g) = two_groups();
    // An upstream input: its rule and the one downstream.
    host.put("a.txt", "A2");
    let (run, named) = build_via_witness(&host, &p, &g);
    assert!(named);
    assert_eq!(run.ran, vec!["A", "B"]);
    assert_eq!(decided(&run), ["A", "B"]);
    assert_clean(&host, &p, &g);
    build(&host, &p, &g, keyed());
    // An output deleted: restored.
    host.remove_file(&WorkspacePath::new("b.out").unwrap())
        .unwrap();
    let (run, named) = build_via_witness(&host, &p, &g);
    assert!(named);
    assert_eq!(decided(&run), ["B"]);
    assert_eq!(run.summary.restored, 1);
    assert_clean(&host, &p, &g);
    build(&host, &p, &g, keyed());
    // An output edited by hand: restored, and what reads it decided.
    host.put("a.out", "tampered");
    let (run, named) = build_via_witness(&host, &p, &g);
    assert!(named);
    assert_eq!(decided(&run), ["A", "B"]);
    assert_eq!(host.get("a.out").as_deref(), Some("A2"));
    assert_clean(&host, &p, &g);
    build(&host, &p, &g, keyed());
    // Inputs of two groups.
    host.put("b.txt", "B3");
    host.put("c.txt", "C3");
    let (run, named) = build_via_witness(&host, &p, &g);
    assert!(named);
    assert_eq!(run.ran, vec!["B", "C"]);
    assert_clean(&host, &p, &g);
    build(&host, &p, &g, keyed());
    // Edited, then the edit reverted: decided, fresh.
    host.put("b.txt", "x");
    host.put("b.txt", "B3");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let (run, named) = build_via_witness(&host, &p, &g);
    assert!(named);
    assert_eq!(decided(&run), ["B"]);
    assert!(run.ran.is_empty());
    assert_eq!(answer(&host, &KEY), Some(3));
}

#[test]
fn a_new_glob_match_a_gitignore_an_env_value_or_a_tool_decides_every_rule() {
    let (host, mut p, _) = two_groups();
    let mut rules = std::mem::take(&mut p.rules);
    rules[2].env.push(spanned("MODE".to_string()));
    rules[0].tools.push(Tool {
        name: spanned("node".to_string()),
        version_argv: vec!["node".into(), "--version".into()],
    });
    rules.push(rule("G", &["concat", "g.out"], &["src/*.txt"], &["g.out"]));
    let p = pipeline(rules);
    let g = graph(4, &[(0, 1)]);
    host.set_env("TOOL_VERSION_node", "v20");
    host.put("src/x.txt", "x");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, &p, &g, keyed());
    build(&host, &p, &g, keyed());
    assert_eq!(answer(&host, &KEY), Some(4));
    let everything = |run: &Run, named: bool, what: &str| {
        assert!(!named, "{what}: every rule is decided");
        assert_eq!(run.skipped, 0, "{what}");
        assert_eq!(run.statuses.len(), 4, "{what}");
    };
    // An edit of a file the glob matches (this host, like an editor that
    // saves by renaming, changes its folder too: `dirty.rs`'s tests cover a
    // glob matching a changed file in place).
    host.put("src/x.txt", "x2");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let (run, named) = build_via_witness(&host, &p, &g);
    everything(&run, named, "an edit in a walked folder");
    assert_eq!(run.ran, vec!["G"]);
    build(&host, &p, &g, keyed());
    // A new file the glob matches: its folder changed.
    host.put("src/y.txt", "y");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let (run, named) = build_via_witness(&host, &p, &g);
    everything(&run, named, "a new match");
    assert_eq!(run.ran, vec!["G"]);
    build(&host, &p, &g, keyed());
    // A `.gitignore` (it may hide or reveal matches).
    host.put(".gitignore", "src/y.txt\n");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    let (run, named) = build_via_witness(&host, &p, &g);
    everything(&run, named, "a .gitignore");
    build(&host, &p, &g, keyed());
    // An environment value, a tool's version.
    host.set_env("MODE", "prod");
    let (run, named) = build_via_witness(&host, &p, &g);
    everything(&run, named, "an env value");
    assert_eq!(run.ran, vec!["C"]);
    build(&host, &p, &g, keyed());
    host.set_env("TOOL_VERSION_node", "v22");
    let (run, named) = build_via_witness(&host, &p, &g);
    everything(&run, named, "a tool");
    assert_eq!(run.ran, vec!["A"]);
    // An env change plus an edit: still every rule.
    build(&host, &p, &g, keyed());
    host.set_env("MODE", "dev");
    host.put("b.txt", "B9");
    let (run, named) = build_via_witness(&host, &p, &g);
    everything(&run, named, "an env value and an edit");
    assert_eq!(run.ran, vec!["B", "C"]);
}

/// Random edits, touches, deletions, hand-edited outputs, new glob matches,
/// env changes, with and without time passing: every build through the
/// witness (deciding only the changed files' rules when it can) leaves the
/// outputs a clean build makes, and a build deciding everything afterwards
/// finds nothing to do.
#[test]
fn builds_that_decide_only_what_changed_always_match_a_clean_build() {
    let (host, mut p, _) = two_groups();
    let mut rules = std::mem::take(&mut p.rules);
    rules[1].inputs.push(spanned(InputPattern {
        glob: "d.txt".into(),
        literal: Some(WorkspacePath::new("d.txt").unwrap()),
    }));
    rules[2].env.push(spanned("MODE".to_string()));
    // D reads B's and C's outputs; G a glob.
    rules.push(rule(
        "D",
        &["concat", "d.out", "b.out", "c.out"],
        &["b.out", "c.out"],
        &["d.out"],
    ));
    rules.push(rule("G", &["concat", "g.out"], &["src/*.txt"], &["g.out"]));
    let p = pipeline(rules);
    let g = graph(5, &[(0, 1), (1, 3), (2, 3)]);
    // (Another pipeline: its digest would void the witness; this test's
    // key is a constant.) A witness of 3 rules is not taken for 5.
    host.put("b.txt", "b1");
    let (taken, rest) = match witness::check_for_changes(&host, &KEY) {
        witness::Answer::Build { taken, rest } => (taken, rest),
        witness::Answer::AllFresh(_) => panic!("b.txt changed"),
    };
    let mut state = State::load(&host);
    state.prefetch_taken(taken.into_iter());
    let changes = rest.and_then(|rest| rest.finish(&host));
    assert!(changes.is_some());
    let run = run_build_changes(&host, &p, &g, keyed(), &|_| {}, Some(state), changes);
    // B (b.txt), C (it declares MODE now), D and G (new).
    assert_eq!((run.skipped, run.ran.len()), (0, 4), "{:?}", run.ran);
    build(&host, &p, &g, keyed());
    let mut seed = 0xD1_27_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut named_runs, mut skipped) = (0, 0);
    for round in 0..400 {
        for _ in 0..=next(2) {
            match next(12) {
                0 | 1 => host.put(
                    ["a.txt", "b.txt", "c.txt"][next(3) as usize],
                    ["1", "2"][next(2) as usize],
                ),
                2 => host.touch(["a.txt", "b.txt", "c.txt", "a.out", "d.out"][next(5) as usize]),
                3 => {
                    let path = ["a.out", "b.out", "c.out", "d.out", "d.txt"][next(5) as usize];
                    let _ = host.remove_file(&WorkspacePath::new(path).unwrap());
                }
                4 => host.put(["a.out", "c.out", "d.out"][next(3) as usize], "tampered"),
                5 => host.put("d.txt", "d"),
                6 => host.put(
                    ["src/x.txt", "src/y.txt"][next(2) as usize],
                    ["s", "t"][next(2) as usize],
                ),
                7 => host.set_env("MODE", ["dev", "prod"][next(2) as usize]),
                8 => {
                    // Edited, then put back.
                    let text = host.get("c.txt").unwrap_or_default();
                    host.put("c.txt", "tmp");
                    host.put("c.txt", &text);
                }
                _ => {}
            }
        }
        if next(2) == 0 {
            host.advance(COARSE_RACY_WINDOW_NS * 2);
        }
        let (run, named) = build_via_witness(&host, &p, &g);
        named_runs += usize::from(named);
        skipped += run.skipped;
        let mut sources = sources_of(&host);
        if let Some(d) = host.get("d.txt") {
            sources.push(("d.txt".into(), d));
        }
        for path in ["src/x.txt", "src/y.txt"] {
            if let Some(t) = host.get(path) {
                sources.push((path.into(), t));
            }
        }
        let sources: Vec<(&str, &str)> = sources
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            outputs_of(&host, &p),
            clean_build(&sources, &p, &g),
            "round {round}"
        );
        if next(3) == 0 {
            // Sometimes a full build in between (it finds nothing to do).
            let full = build(&host, &p, &g, keyed());
            assert!(
                full.ran.is_empty() && full.summary.restored == 0,
                "round {round}: {:?}",
                full.statuses
            );
        }
    }
    assert!(
        named_runs > 100 && skipped > 200,
        "{named_runs} / {skipped}"
    );
}

#[test]
fn a_file_a_job_adds_to_a_walked_folder_is_seen_by_the_rules_not_decided_too() {
    // X writes src/new.txt, which it does not declare; Y (after X) walks the
    // project; Z's glob matches the new file, but Z reads nothing X declares.
    let host = MemoryHost::new();
    host.put("x.txt", "1");
    host.put("src/a.txt", "a");
    host.put("lib/l.txt", "l");
    let p = pipeline(vec![
        rule(
            "X",
            &["sidecar", "x.out", "src/new.txt", "x.txt"],
            &["x.txt"],
            &["x.out"],
        ),
        rule(
            "Y",
            &["concat", "y.out", "x.out"],
            &["x.out", "lib/*.txt"],
            &["y.out"],
        ),
        rule("Z", &["concat", "z.out"], &["src/*.txt"], &["z.out"]),
    ]);
    let g = graph(3, &[(0, 1)]);
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, &p, &g, keyed());
    host.remove_file(&WorkspacePath::new("src/new.txt").unwrap())
        .unwrap();
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    build(&host, &p, &g, keyed());
    build(&host, &p, &g, keyed());
    assert_eq!(answer(&host, &KEY), Some(3));
    host.put("x.txt", "2");
    host.advance(COARSE_RACY_WINDOW_NS * 2);
    // X takes long: the walk (Y's) lists src/ well after X wrote into it,
    // so its stamp there is not racy.
    let slow = |rule: &str| {
        if rule == "X" {
            host.advance(COARSE_RACY_WINDOW_NS * 2);
        }
    };
    let (run, named) = build_via_witness_with(&host, &p, &g, &slow);
    assert!(named);
    assert_eq!(run.ran, vec!["X"]);
    assert_eq!(decided(&run), ["X", "Y"]);
    assert!(host.get("src/new.txt").is_some());
    // Z's key now holds src/new.txt: whatever the next run reads, it must
    // decide Z.
    let (next, _) = build_via_witness(&host, &p, &g);
    assert!(next.ran.contains(&"Z".to_string()), "{:?}", next.statuses);
}
