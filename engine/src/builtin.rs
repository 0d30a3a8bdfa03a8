//! Built-in rules: pure functions from input bytes to output bytes.
//!
//! A pipeline rule written `builtin "cloesce/extract"` runs inside the engine
//! instead of spawning a process. A built-in never touches the file system:
//! the engine reads its inputs through the `Host`, hands it the bytes, and
//! writes what it returns. That makes built-ins hermetic and byte-identical on
//! every OS and in WebAssembly. The `cloesce-rules` crate implements the
//! Cloesce compiler as built-ins; this module is the extension point it uses.

use std::collections::BTreeMap;
use std::fmt;

use crate::path::WorkspacePath;

/// Everything a built-in may look at.
#[derive(Debug)]
pub struct BuiltinRequest<'a> {
    /// The rule's name in the pipeline (for messages).
    pub rule: &'a str,
    /// The files the rule's `inputs` matched, sorted by path.
    pub inputs: &'a [(WorkspacePath, Vec<u8>)],
    /// The rule's declared outputs: the built-in must return exactly these.
    pub outputs: &'a [WorkspacePath],
    /// The properties written on the `builtin` node (`builtin "x" domain="…"`).
    pub settings: &'a BTreeMap<String, String>,
}

/// What a successful built-in produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BuiltinOutput {
    /// One entry per declared output.
    pub files: Vec<(WorkspacePath, Vec<u8>)>,
    /// Warnings and notes, nothing else: shown under the rule's line whenever
    /// the rule runs, is fresh or is restored (the log is stored with the
    /// result), until a run returns none (see `build::RuleReport::warns`).
    pub log: String,
}

/// A built-in's failure: every problem found, each a rendered-ready diagnostic
/// (spans into the model files it read).
pub struct BuiltinFailure {
    pub diagnostics: Vec<miette::Report>,
}

impl fmt::Debug for BuiltinFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.diagnostics.iter().map(|d| d.to_string()))
            .finish()
    }
}

impl From<miette::Report> for BuiltinFailure {
    fn from(report: miette::Report) -> Self {
        BuiltinFailure {
            diagnostics: vec![report],
        }
    }
}

/// A built-in rule.
pub trait Builtin: Send + Sync {
    /// The name written in pipelines, e.g. `cloesce/extract`.
    fn name(&self) -> &'static str;
    /// Bumped whenever the built-in's output for the same input may change;
    /// it enters every key of the rules that use it.
    fn version(&self) -> u32;
    /// One line for `graph` and help.
    fn description(&self) -> &'static str;
    /// The settings the `builtin` node accepts (others are rejected at load).
    fn settings(&self) -> &'static [&'static str] {
        &[]
    }
    /// Runs the rule.
    fn run(&self, request: &BuiltinRequest<'_>) -> Result<BuiltinOutput, BuiltinFailure>;
    /// Runs the rule given the memo its last successful run returned (if the
    /// engine still has it), and returns its output plus a memo for the next
    /// run (see [`crate::memo`]). The output must be exactly what
    /// [`Builtin::run`] gives for the same request, whatever the memo holds,
    /// and the memo's format may only change together with
    /// [`Builtin::version`]. By default there is no memo.
    fn run_memo(
        &self,
        request: &BuiltinRequest<'_>,
        memo: Option<&[u8]>,
    ) -> Result<(BuiltinOutput, Option<Vec<u8>>), BuiltinFailure> {
        let _ = memo;
        self.run(request).map(|output| (output, None))
    }
}

/// The built-ins known to one engine instance, by name.
#[derive(Default)]
pub struct BuiltinRegistry {
    builtins: BTreeMap<&'static str, Box<dyn Builtin>>,
}

impl BuiltinRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a built-in; a later one with the same name replaces the earlier.
    pub fn register(&mut self, builtin: Box<dyn Builtin>) {
        self.builtins.insert(builtin.name(), builtin);
    }

    pub fn get(&self, name: &str) -> Option<&dyn Builtin> {
        self.builtins.get(name).map(|b| b.as_ref())
    }

    /// All names, sorted: used for "did you mean" and listings.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.builtins.keys().copied()
    }
}

impl fmt::Debug for BuiltinRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.builtins.keys()).finish()
    }
}
