//! cloesce's integration tests: one binary, one module per area. Every test
//! makes a temporary project, runs the real `cloesce` binary in it, and
//! observes what actually happened (a log each rule appends to, the files on
//! disk), not only what cloesce says.

mod common;

// `cloesce run` on hand-written pipelines: order, parallelism, failures.
mod run;
// Incremental builds: no-op, touch, edit, revert, restore, env, lock, crashes.
mod incremental;
// The command line itself: graph, explain, clean, cache, errors.
mod commands;
// Developer experience: doctor, init, completions, help, progress, --json
// schema, --watch.
mod dx;
// Fault injection: kill -9, killed rules, Ctrl-C, broken and corrupted stores,
// concurrent runs.
mod faults;
// Paths, symlinks, encodings, hermeticity.
mod security;
// Error quality: every class names its cause and a fix; no panic on any
// input of the fuzz corpora.
mod errors;
// D1 migrations: first run, drift, migrate and its refusals (goldens).
mod migrate;
// The remote cache against a real turborepo-remote-cache server.
mod remote;
// Golden output: the exact text of run for fresh, restored, ran and failed
// rules, explanations and the messages of issue #16.
mod golden;
