//! # cloesce-rules
//!
//! The Cloesce compiler as built-in rules of the cloesce engine, and the
//! embedded default pipeline (`cloesce:default`) that wires them together.
//! Each built-in is a pure function from input bytes to output bytes plus
//! diagnostics, so it gives the same bytes natively and in WebAssembly.
//!
//! ## Brief overview
//! * [`extract`]: `*.cloesce.ts` → [`ir::CloesceAst`] (`cidl.json`).
//! * [`validate`]: the semantic checks every generator runs first.
//! * [`d1`]: the full schema (SQL) and the drift against the migrations.
//! * [`schema`]: tables, junction tables and views as data, and their SQL.
//! * [`migrate`]: the next migration, from one schema to another.
//! * [`history`]: the migrations folder and its snapshots, checked.
//! * [`wrangler`]: the user's wrangler config merged with what cloesce needs.
//! * [`workers`]: the Worker entry point that calls the `cloesce` runtime.
//! * [`client`]: the typed fetch client.
//! * [`tsconfig`]: whether the project's tsconfig lets wrangler bundle the models.

use cloesce_engine::builtin::{BuiltinFailure, BuiltinRegistry, BuiltinRequest};
use cloesce_engine::path::WorkspacePath;

pub mod client;
mod convert;
pub mod d1;
pub mod diag;
pub mod extract;
pub mod history;
pub mod ir;
mod jsonc;
mod loaded;
mod memo_bytes;
pub mod migrate;
mod paths;
mod pretty;
pub mod schema;
pub mod tsconfig;
pub mod validate;
pub mod workers;
pub mod wrangler;

/// The embedded default pipeline, in the public pipeline format.
pub const DEFAULT_PIPELINE: &str = include_str!("default.kdl");

/// The name a `use` node gives the default pipeline.
pub const DEFAULT_PIPELINE_NAME: &str = "cloesce:default";

/// Library pipelines that `use` can name.
pub fn library() -> &'static [(&'static str, &'static str)] {
    &[(DEFAULT_PIPELINE_NAME, DEFAULT_PIPELINE)]
}

/// Every built-in rule this crate provides.
pub fn registry() -> BuiltinRegistry {
    let mut registry = BuiltinRegistry::new();
    registry.register(Box::new(extract::Extract));
    registry.register(Box::new(validate::Validate));
    registry.register(Box::new(d1::D1));
    registry.register(Box::new(wrangler::Wrangler));
    registry.register(Box::new(workers::Workers));
    registry.register(Box::new(client::Client));
    registry
}

/// The rule's one declared output, or a failure saying it needs exactly one.
pub(crate) fn single_output(request: &BuiltinRequest<'_>) -> Result<WorkspacePath, BuiltinFailure> {
    match request.outputs {
        [one] => Ok(one.clone()),
        other => Err(diag::fail(
            diag::RuleDiagnostic::new(
                "cloesce::pipeline::outputs",
                format!(
                    "rule `{}` must declare exactly one output, it declares {}",
                    request.rule,
                    other.len()
                ),
            )
            .with_help("declare one output path in the rule's `outputs`"),
        )),
    }
}
