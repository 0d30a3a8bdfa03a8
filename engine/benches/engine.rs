//! Criterion benches of the engine's hot paths on a no-op run.
//!
//! `cargo bench -p cloesce-engine` (a group: `cargo bench -p cloesce-engine -- noop_build`).
//!
//! Pipelines are generated like the peer benchmark's workloads (`bench/gen.py`):
//! one rule per input file, every rule of a group of 100 also reading its
//! group head's output. Rules are built-ins (`bench/hash`, defined here) so a
//! first build runs inline, without processes, and the no-op builds measured
//! afterwards are exactly what `cloesce run` does when nothing changed.
//!
//! - `pipeline/parse/N`: KDL parse + lowering + checks of an N-rule file.
//! - `pipeline/cached/N`: the same pipeline read back from `.cloesce/pipeline`.
//! - `graph/N`: the graph (edges, cycle check, order) of an N-rule pipeline.
//! - `key`: one action key (5 inputs, 3 upstream outputs).
//! - `stat_cache/{memory,disk}`: the stat-cache check of 1,000 files.
//! - `store/get_action_{hit,miss}`: action-cache lookups on disk.
//! - `noop_build/N`: a whole no-op `Build` (state load, decisions, save) of N
//!   rules over a real temp project.

use std::hint::black_box;
use std::time::Duration;

use cloesce::native::NativeHost;
use cloesce_engine::build::{Build, BuildOptions, Poll};
use cloesce_engine::builtin::{
    Builtin, BuiltinFailure, BuiltinOutput, BuiltinRegistry, BuiltinRequest,
};
use cloesce_engine::fingerprint::{ActionKeyInput, Digest};
use cloesce_engine::graph::Graph;
use cloesce_engine::host::Host;
use cloesce_engine::pipeline::{
    load, load_cached, pipeline_key, LoadOptions, Pipeline, SourceFile,
};
use cloesce_engine::state::State;
use cloesce_engine::store::{ActionEntry, OutputRecord, Store};
use cloesce_engine::testing::MemoryHost;
use cloesce_engine::WorkspacePath;
use criterion::{criterion_group, criterion_main, Criterion};

/// Writes the digest of its inputs to its one output.
struct HashBuiltin;

impl Builtin for HashBuiltin {
    fn name(&self) -> &'static str {
        "bench/hash"
    }
    fn version(&self) -> u32 {
        1
    }
    fn description(&self) -> &'static str {
        "hashes its inputs into its output (benchmarks)"
    }
    fn run(&self, request: &BuiltinRequest<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let mut hasher = blake3::Hasher::new();
        for (path, bytes) in request.inputs {
            hasher.update(path.as_str().as_bytes());
            hasher.update(bytes);
        }
        let text = hasher.finalize().to_hex().to_string().into_bytes();
        Ok(BuiltinOutput {
            files: request
                .outputs
                .iter()
                .map(|o| (o.clone(), text.clone()))
                .collect(),
            log: String::new(),
        })
    }
}

fn registry() -> BuiltinRegistry {
    let mut registry = BuiltinRegistry::new();
    registry.register(Box::new(HashBuiltin));
    registry
}

fn input(k: usize) -> String {
    format!("src/d{:02}/i{k:05}.txt", k / 100)
}

fn output(k: usize) -> String {
    format!("out/d{:02}/o{k:05}.txt", k / 100)
}

/// An n-rule pipeline in groups of 100 (see the module doc).
fn pipeline_text(n: usize) -> String {
    let mut kdl = String::from("cloesce version=1\n");
    for k in 0..n {
        let head = k / 100 * 100;
        kdl.push_str(&format!("rule \"r{k:05}\" {{\n    inputs \"{}\"", input(k)));
        if k != head {
            kdl.push_str(&format!(" \"{}\"", output(head)));
        }
        kdl.push_str(&format!("\n    outputs \"{}\"\n", output(k)));
        if k != head {
            kdl.push_str(&format!("    deps \"r{head:05}\"\n"));
        }
        kdl.push_str("    builtin \"bench/hash\"\n}\n");
    }
    kdl
}

fn options<'a>(text: &str, builtins: &'a BuiltinRegistry) -> LoadOptions<'a> {
    LoadOptions {
        user: Some(SourceFile::new("cloesce.kdl", text)),
        library: &[],
        builtins,
    }
}

fn path(p: &str) -> WorkspacePath {
    WorkspacePath::new(p).expect("valid bench path")
}

/// A temp project with n input files.
fn temp_project(n: usize) -> (tempfile::TempDir, NativeHost) {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = NativeHost::new(dir.path().to_path_buf());
    for k in 0..n {
        let body = format!("input {k}\n").repeat(16);
        host.write_atomic(&path(&input(k)), body.as_bytes(), false)
            .expect("write input");
    }
    (dir, host)
}

/// Runs a build to the end; every rule here is a built-in, so no job spawns.
fn build_all(host: &dyn Host, pipeline: &Pipeline, graph: &Graph, builtins: &BuiltinRegistry) {
    let mut build = Build::new(host, pipeline, graph, builtins, BuildOptions::default());
    match build.poll() {
        Poll::Done => {}
        Poll::Spawn(job) => panic!("bench rules are built-ins, got a job {}", job.rule),
        Poll::Wait => panic!("nothing runs, so nothing to wait for"),
    }
    while build.poll_event().is_some() {}
    let summary = build.finish().expect("state saved");
    assert!(summary.success(), "{summary:?}");
    black_box(summary);
}

fn bench_pipeline(c: &mut Criterion) {
    let builtins = registry();
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let text = pipeline_text(n);
        group.bench_function(format!("parse/{n}"), |b| {
            b.iter(|| load(&options(&text, &builtins)).expect("valid pipeline"))
        });
        let host = MemoryHost::new();
        {
            let o = options(&text, &builtins);
            load_cached(&host, &o, pipeline_key(&o), true)
        }
        .expect("valid pipeline");
        group.bench_function(format!("cached/{n}"), |b| {
            b.iter(|| {
                let o = options(&text, &builtins);
                load_cached(&host, &o, pipeline_key(&o), false).expect("cached")
            })
        });
    }
    group.finish();
}

fn bench_graph(c: &mut Criterion) {
    let builtins = registry();
    let mut group = c.benchmark_group("graph");
    group.sample_size(20);
    for n in [1_000, 10_000] {
        let pipeline = load(&options(&pipeline_text(n), &builtins)).expect("valid pipeline");
        group.bench_function(format!("{n}"), |b| {
            b.iter(|| Graph::build(&pipeline).expect("acyclic"))
        });
    }
    group.finish();
}

fn bench_key(c: &mut Criterion) {
    let files = |prefix: &str, n: usize| -> Vec<(WorkspacePath, Digest)> {
        (0..n)
            .map(|i| {
                let p = format!("{prefix}/f{i}.txt");
                (path(&p), Digest::of(p.as_bytes()))
            })
            .collect()
    };
    let input = ActionKeyInput {
        definition: Digest::of(b"definition"),
        inputs: files("src", 5),
        upstream: files("out", 3),
        env: Vec::new(),
        tools: Vec::new(),
    };
    c.bench_function("key", |b| b.iter(|| black_box(&input).key()));
}

/// The stat-cache check of n files: a fresh `State` (as each run loads it)
/// asked for every file's digest, none of them changed.
fn stat_check(host: &dyn Host, paths: &[WorkspacePath], now_ns: u64) {
    let mut state = State::load(host);
    for p in paths {
        black_box(state.digest(host, p, now_ns).expect("stat"));
    }
}

fn bench_stat_cache(c: &mut Criterion) {
    const N: usize = 1_000;
    let paths: Vec<WorkspacePath> = (0..N).map(|k| path(&input(k))).collect();
    let mut group = c.benchmark_group("stat_cache");

    let memory = MemoryHost::new();
    for p in &paths {
        memory.put(p.as_str(), "contents\n");
    }
    memory.advance(10_000_000_000); // past the racy window
    let mut state = State::load(&memory);
    for p in &paths {
        state.digest(&memory, p, memory.now_ns()).expect("hash");
    }
    state.save(&memory).expect("save");
    group.bench_function("memory/1000", |b| {
        b.iter(|| stat_check(&memory, &paths, memory.now_ns()))
    });

    let (_dir, disk) = temp_project(N);
    // Past the racy window, so the recorded entries are trusted.
    std::thread::sleep(Duration::from_millis(200));
    let mut state = State::load(&disk);
    for p in &paths {
        state.digest(&disk, p, disk.now_ns()).expect("hash");
    }
    state.save(&disk).expect("save");
    group.bench_function("disk/1000", |b| {
        b.iter(|| stat_check(&disk, &paths, disk.now_ns()))
    });
    group.finish();
}

fn bench_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = NativeHost::new(dir.path().to_path_buf());
    let store = Store::new(&host);
    let keys: Vec<Digest> = (0..100u32).map(|i| Digest::of(&i.to_le_bytes())).collect();
    for (i, key) in keys.iter().enumerate() {
        let bytes = format!("output {i}\n").into_bytes();
        let digest = Digest::of(&bytes);
        let mut entry = ActionEntry {
            rule: format!("r{i}"),
            outputs: vec![OutputRecord {
                path: path(&output(i)),
                digest,
                size: bytes.len() as u64,
                executable: false,
            }],
            stdout: String::new(),
            stderr: String::new(),
            key_input: None,
            inline: Default::default(),
        };
        store
            .keep(&mut entry.inline, digest, bytes)
            .expect("keep output");
        store.put_action(key, &entry).expect("put action");
    }
    let missing = Digest::of(b"never stored");
    let mut group = c.benchmark_group("store");
    group.bench_function("get_action_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % keys.len();
            store.get_action(&keys[i]).expect("read").expect("hit")
        })
    });
    group.bench_function("get_action_miss", |b| {
        b.iter(|| store.get_action(&missing).expect("read"))
    });
    group.finish();
}

fn bench_noop_build(c: &mut Criterion) {
    let builtins = registry();
    let mut group = c.benchmark_group("noop_build");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for n in [1_000, 10_000] {
        let (_dir, host) = temp_project(n);
        let pipeline = load(&options(&pipeline_text(n), &builtins)).expect("valid pipeline");
        let graph = Graph::build(&pipeline).expect("acyclic");
        build_all(&host, &pipeline, &graph, &builtins);
        // Past the racy window, then one build that re-hashes the racy files
        // and records them as trusted: what a user's second run does.
        std::thread::sleep(Duration::from_millis(200));
        build_all(&host, &pipeline, &graph, &builtins);
        group.bench_function(format!("{n}"), |b| {
            b.iter(|| build_all(&host, &pipeline, &graph, &builtins))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_pipeline,
    bench_graph,
    bench_key,
    bench_stat_cache,
    bench_store,
    bench_noop_build
);
criterion_main!(benches);
