//! # cloesce-rules
//!
//! The Cloesce compiler as built-in rules of the cloesce engine, and the
//! embedded default pipeline (`cloesce:default`) that wires them together.
//! Each built-in is a pure function from input bytes to output bytes plus
//! diagnostics, so it gives the same bytes natively and in WebAssembly.

use cloesce_engine::builtin::BuiltinRegistry;

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
    BuiltinRegistry::new()
}
