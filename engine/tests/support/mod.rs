//! Shared test helpers: fake built-ins named like the real ones, the embedded
//! default pipeline, and plain-text rendering of diagnostics.

#![allow(dead_code)]

use cloesce_engine::builtin::{
    Builtin, BuiltinFailure, BuiltinOutput, BuiltinRegistry, BuiltinRequest,
};
use cloesce_engine::pipeline::{load, LoadOptions, Pipeline, PipelineErrors, SourceFile};

/// The embedded default pipeline, as the CLI ships it.
pub const DEFAULT_KDL: &str = include_str!("../../../rules/src/default.kdl");

/// The library pipelines tests can `use`.
pub const LIBRARY: &[(&str, &str)] = &[("cloesce:default", DEFAULT_KDL)];

/// A built-in that only has a name and settings (never run by these tests).
struct Fake {
    name: &'static str,
    settings: &'static [&'static str],
}

impl Builtin for Fake {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> u32 {
        1
    }
    fn description(&self) -> &'static str {
        "a fake built-in for tests"
    }
    fn settings(&self) -> &'static [&'static str] {
        self.settings
    }
    fn run(&self, _: &BuiltinRequest<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        Ok(BuiltinOutput::default())
    }
}

/// Fakes of the real built-ins, with the settings `default.kdl` uses.
pub fn registry() -> BuiltinRegistry {
    let mut registry = BuiltinRegistry::new();
    for (name, settings) in [
        ("cloesce/extract", &["models"][..]),
        ("cloesce/validate", &[][..]),
        ("cloesce/d1", &["migrations"][..]),
        (
            "cloesce/wrangler",
            &["main", "migrations", "migrations_dir", "tsconfig"][..],
        ),
        ("cloesce/workers", &["api_route"][..]),
        ("cloesce/client", &["domain"][..]),
    ] {
        registry.register(Box::new(Fake { name, settings }));
    }
    registry
}

/// Loads `text` as the user's `cloesce.kdl` (or no file when `None`).
pub fn load_text(text: Option<&str>) -> Result<Pipeline, PipelineErrors> {
    let registry = registry();
    load(&LoadOptions {
        user: text.map(|t| SourceFile::new("cloesce.kdl", t)),
        library: LIBRARY,
        builtins: &registry,
    })
}

/// Renders a diagnostic as stable plain text.
///
/// N.B. miette 7.6's narratable handler treats the last line of each snippet
/// as the end of the file, so it also prints every *later* label against
/// that line, with impossible columns ("columns 12 to 11"). Those phantom
/// lines are dropped here; every real label is still printed at its own line.
pub fn narrate(diagnostic: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    miette::NarratableReportHandler::new()
        .render_report(&mut out, diagnostic)
        .expect("rendering into a String cannot fail");
    out.lines()
        .filter(|line| !is_phantom_label(line))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// `    label at line N, columns A to B: …` with B < A.
fn is_phantom_label(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("    label at line ") else {
        return false;
    };
    let Some((_, cols)) = rest.split_once(", columns ") else {
        return false;
    };
    let Some((start, rest)) = cols.split_once(" to ") else {
        return false;
    };
    let end = rest.split(':').next().unwrap_or_default();
    matches!((start.parse::<usize>(), end.parse::<usize>()), (Ok(a), Ok(b)) if b < a)
}
