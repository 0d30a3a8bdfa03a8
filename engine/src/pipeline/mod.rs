//! The pipeline: `cloesce.kdl` lowered into typed rules that keep their spans.
//!
//! [`load`] parses the user's file (and any library pipeline it `use`s, such
//! as the embedded `cloesce:default`) with the `kdl` crate, checks it, and
//! returns a [`Pipeline`], or *every* problem found as one
//! [`PipelineErrors`]. Every node keeps a [`Span`] so later stages (the
//! graph's cycle check, a failing rule's report) can point back into the file
//! that declared it.
//!
//! Inside: `load` decides which documents to read and in what order;
//! `lower` turns one KDL document into rules, with `rule` for `rule` nodes
//! and `syntax` for the checks every node shares; `check` finds problems
//! across rules; `params` substitutes `${NAME}`; `paths` checks globs and
//! output paths; `suggest` says "did you mean"; `error` holds the
//! diagnostics and `kdl_errors` rewrites the KDL parser's. The format is documented in `docs/pipeline.md`.

mod cache;
mod check;
mod chunked;
mod error;
mod kdl_errors;
mod load;
mod lower;
mod params;
mod paths;
mod rule;
pub(crate) mod suggest;
mod syntax;

use std::collections::BTreeMap;
use std::sync::Arc;

use miette::SourceSpan;
use serde::{Deserialize, Serialize};

use crate::builtin::BuiltinRegistry;
use crate::fingerprint::{rule_definition_digest, Digest};
use crate::path::WorkspacePath;

pub use cache::{load_cached, pipeline_key};
pub use error::{Note, PipelineError, PipelineErrors, Src};
pub(crate) use load::source_src;
pub use load::{load, LoadOptions, DEFAULT_LIBRARY};
pub use lower::remote_cache_settings;
pub use suggest::closest as did_you_mean;

/// The file format version this engine reads (`cloesce version=1`).
pub const FORMAT_VERSION: u32 = 1;

/// Index of a [`SourceFile`] in [`Pipeline::sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceId(pub u16);

/// A KDL document the pipeline was read from: the user's `cloesce.kdl` or an
/// embedded library pipeline such as `cloesce:default`.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// What diagnostics call it: `cloesce.kdl`, `cloesce:default`.
    pub name: String,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// This file as miette source code, named so a code frame says where it is.
    pub fn named_source(&self) -> miette::NamedSource<Arc<str>> {
        miette::NamedSource::new(self.name.clone(), self.text.clone())
    }
}

/// Where something was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub source: SourceId,
    pub span: SourceSpan,
}

/// A value with the span it was written at. Spans never take part in
/// equality: two rules written identically in different places are equal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// A loaded, checked pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The documents it came from; [`SourceId`] indexes this.
    pub sources: Vec<SourceFile>,
    /// Pipeline-wide `env` names: seen by every rule and part of every key.
    pub env: Vec<Spanned<String>>,
    /// Pipeline-wide `tool`s: their versions enter every key.
    pub tools: Vec<Tool>,
    /// Rules in declaration order (library rules first, in `use` order).
    pub rules: Vec<Rule>,
    /// Each rule's definition digest, in the same order: computed once when
    /// the pipeline is checked (and kept in its cache), so a run does not
    /// hash every rule's command again.
    pub definitions: Vec<Digest>,
}

impl Pipeline {
    /// A pipeline of checked parts; computes the rules' definition digests.
    pub fn new(
        sources: Vec<SourceFile>,
        env: Vec<Spanned<String>>,
        tools: Vec<Tool>,
        rules: Vec<Rule>,
        builtins: &BuiltinRegistry,
    ) -> Pipeline {
        let definitions = rules
            .iter()
            .map(|rule| rule_definition_digest(rule, builtins))
            .collect();
        Pipeline {
            sources,
            env,
            tools,
            rules,
            definitions,
        }
    }

    pub fn source(&self, id: SourceId) -> &SourceFile {
        &self.sources[id.0 as usize]
    }

    /// The rule called `name`.
    pub fn rule(&self, name: &str) -> Option<(RuleId, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.name.value == name)
            .map(|(i, r)| (RuleId(i as u32), r))
    }
}

/// Index of a rule in [`Pipeline::rules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleId(pub u32);

impl RuleId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One `rule "NAME" { … }` node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub name: Spanned<String>,
    /// The whole rule node.
    pub span: Span,
    pub description: Option<String>,
    pub action: Action,
    /// Input globs (relative to the project root), in written order.
    pub inputs: Vec<Spanned<InputPattern>>,
    /// Declared outputs, in written order.
    pub outputs: Vec<Spanned<WorkspacePath>>,
    /// Explicit `deps`, in written order.
    pub deps: Vec<Spanned<String>>,
    /// The rule's own `env` names (pipeline-wide ones are in [`Pipeline::env`]).
    pub env: Vec<Spanned<String>>,
    /// The rule's own `tool`s.
    pub tools: Vec<Tool>,
    /// `cache #false` makes this false: the rule always runs.
    pub cache: bool,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// `builtin "NAME" key="value"…`
    Builtin {
        name: Spanned<String>,
        settings: BTreeMap<String, String>,
    },
    /// `run "PROG" "ARG"…`: an argv, never a shell string.
    Run { argv: Spanned<Vec<String>> },
}

/// One input glob. A pattern without glob metacharacters is a plain path and
/// is checked with one `stat` instead of a directory walk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredPattern", into = "StoredPattern")]
pub struct InputPattern {
    /// The glob as written, normalised: `/` separators, no `.` or empty
    /// segments, `a/../b` collapsed to `b`.
    pub glob: String,
    /// `Some` when the pattern is a literal path.
    pub literal: Option<WorkspacePath>,
}

/// How `.cloesce/pipeline` keeps an [`InputPattern`]: a literal path is
/// stored once (its glob is the same text), which halves the strings a
/// no-op run reads back for a pipeline of plain paths.
#[derive(Serialize, Deserialize)]
enum StoredPattern {
    Literal(WorkspacePath),
    Glob {
        glob: String,
        literal: Option<WorkspacePath>,
    },
}

impl From<InputPattern> for StoredPattern {
    fn from(p: InputPattern) -> Self {
        match p.literal {
            Some(literal) if literal.as_str() == p.glob => StoredPattern::Literal(literal),
            literal => StoredPattern::Glob {
                glob: p.glob,
                literal,
            },
        }
    }
}

impl From<StoredPattern> for InputPattern {
    fn from(p: StoredPattern) -> Self {
        match p {
            StoredPattern::Literal(literal) => InputPattern {
                glob: literal.as_str().to_string(),
                literal: Some(literal),
            },
            StoredPattern::Glob { glob, literal } => InputPattern { glob, literal },
        }
    }
}

impl InputPattern {
    /// Compiles the glob with the engine's matching rules: `*` and `?` stay
    /// within one folder, `**` crosses folders, case-sensitive.
    pub fn matcher(&self) -> Result<crate::glob::GlobMatcher, globset::Error> {
        paths::compile_glob(&self.glob)
    }

    /// True when `path` is matched by this pattern (equality for a literal).
    pub fn matches(&self, path: &WorkspacePath) -> bool {
        match &self.literal {
            Some(literal) => literal == path,
            None => self.matcher().is_ok_and(|m| m.is_match(path.as_str())),
        }
    }
}

/// A declared tool: `tool "node"` or `tool "node" version="node -v"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: Spanned<String>,
    /// The command whose trimmed stdout is the version (default `NAME --version`).
    pub version_argv: Vec<String>,
}
