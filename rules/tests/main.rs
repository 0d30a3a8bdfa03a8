//! The integration tests of cloesce-rules, one module per area.

mod common;

// Whole-pipeline snapshots of the fixtures, and determinism.
mod pipeline;
// Every rejection of the model language, with its rendered message.
mod rejections;
// The generated SQL applies to sqlite and every view can be queried.
mod sqlite;
// The wrangler merge: formats, comments, paths.
mod wrangler;
// The generated TypeScript type-checks under tsc --strict (opt-in).
#[cfg(unix)]
mod tsc;
// The same bytes in wasm32 as natively (needs the wasm probe and node).
mod wasm;
// Migrations: step by step equals all at once, rows survive (sqlite3).
mod migrations;
// extract with a memo agrees with extract without one.
mod memo;
// Fuzz regressions; very large and very deep inputs.
mod hostile;
