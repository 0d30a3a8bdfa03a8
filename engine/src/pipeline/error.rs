//! The problems a pipeline can have, as miette diagnostics.
//!
//! Every [`PipelineError`] carries the [`NamedSource`] of the document it was
//! found in (the user's `cloesce.kdl` or a library such as `cloesce:default`),
//! a label on the offending node or entry, a `code(cloesce::pipeline::…)` and a
//! help that says how to fix it. When a problem involves two places in two
//! different documents (a rule in `cloesce.kdl` that clashes with one in
//! `cloesce:default`), the second place is a related [`Note`] carrying its own
//! source, so each renders against its own text.

use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceSpan};

/// The source code a diagnostic renders against.
pub type Src = NamedSource<Arc<str>>;

/// A secondary location, possibly in another document ("first declared here").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(severity(Advice))]
pub struct Note {
    pub message: String,
    #[source_code]
    pub src: Src,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
}

/// One problem in a pipeline file.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PipelineError {
    /// The document is not valid KDL 2 (one per diagnostic `kdl` reported).
    #[error("{message}")]
    #[diagnostic(code(cloesce::pipeline::syntax))]
    Syntax {
        message: String,
        #[source_code]
        src: Src,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: Option<String>,
    },

    /// There is no `cloesce version=1` node at all.
    #[error("the pipeline does not start with `cloesce version=1`")]
    #[diagnostic(
        code(cloesce::pipeline::missing_version),
        help("make `cloesce version=1` the first node of the file")
    )]
    MissingVersion {
        #[source_code]
        src: Src,
        #[label("expected `cloesce version=1` before this")]
        span: Option<SourceSpan>,
    },

    /// A `cloesce` header that is not the first node.
    #[error("`cloesce` must be the first node of the file")]
    #[diagnostic(
        code(cloesce::pipeline::header_not_first),
        help("move `cloesce version=1` to the top of the file, and write it only once")
    )]
    HeaderNotFirst {
        #[source_code]
        src: Src,
        #[label("not the first node")]
        span: SourceSpan,
    },

    /// `cloesce version=N` with N other than [`FORMAT_VERSION`](super::FORMAT_VERSION).
    #[error("unsupported version {version}; this cloesce reads version 1")]
    #[diagnostic(
        code(cloesce::pipeline::unsupported_version),
        help("write `cloesce version=1`, or upgrade cloesce if this file was written for a newer one")
    )]
    UnsupportedVersion {
        version: String,
        #[source_code]
        src: Src,
        #[label("version {version}")]
        span: SourceSpan,
    },

    /// A node name that is not allowed where it was written.
    #[error("unknown node `{name}` {context}")]
    #[diagnostic(code(cloesce::pipeline::unknown_node))]
    UnknownNode {
        name: String,
        /// "at the top level", "in rule `x`".
        context: String,
        #[source_code]
        src: Src,
        #[label("unknown node")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A `key=value` property the node does not accept.
    #[error("`{node}` has no property `{name}`")]
    #[diagnostic(code(cloesce::pipeline::unknown_property))]
    UnknownProperty {
        node: String,
        name: String,
        #[source_code]
        src: Src,
        #[label("unknown property")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// Too few or too many arguments.
    #[error("{message}")]
    #[diagnostic(code(cloesce::pipeline::bad_arguments))]
    BadArguments {
        message: String,
        #[source_code]
        src: Src,
        #[label("here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A `{ … }` block on a node that takes none.
    #[error("`{node}` does not take a `{{ … }}` block")]
    #[diagnostic(
        code(cloesce::pipeline::unexpected_block),
        help("remove the block; `{node}` takes only its arguments")
    )]
    UnexpectedBlock {
        node: String,
        #[source_code]
        src: Src,
        #[label("unexpected block")]
        span: SourceSpan,
    },

    /// A value of the wrong KDL type, such as `cache "no"`.
    #[error("{what} must be {expected}, found {found}")]
    #[diagnostic(code(cloesce::pipeline::wrong_type))]
    WrongType {
        what: String,
        expected: &'static str,
        found: &'static str,
        #[source_code]
        src: Src,
        #[label("{found}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A field written twice where only one is allowed (`description`, `cache`…).
    #[error("`{node}` is written twice in {context}")]
    #[diagnostic(code(cloesce::pipeline::duplicate_field), help("keep one `{node}`"))]
    DuplicateField {
        node: String,
        context: String,
        #[source_code]
        src: Src,
        #[label("written again here")]
        span: SourceSpan,
        #[label("first written here")]
        first: SourceSpan,
    },

    /// A rule with neither `builtin` nor `run`.
    #[error("rule `{rule}` has nothing to do")]
    #[diagnostic(
        code(cloesce::pipeline::missing_action),
        help("add `builtin \"NAME\"` to run a built-in rule, or `run \"PROG\" \"ARG\"…` to run a program")
    )]
    MissingAction {
        rule: String,
        #[source_code]
        src: Src,
        #[label("no `builtin` or `run`")]
        span: SourceSpan,
    },

    /// A rule with both `builtin` and `run`.
    #[error("rule `{rule}` has both `builtin` and `run`")]
    #[diagnostic(
        code(cloesce::pipeline::both_actions),
        help(
            "a rule does one thing: keep `builtin` or `run`, and move the other into its own rule"
        )
    )]
    BothActions {
        rule: String,
        #[source_code]
        src: Src,
        #[label("builtin")]
        builtin: SourceSpan,
        #[label("run")]
        run: SourceSpan,
    },

    /// `run` with no program.
    #[error("`run` in rule `{rule}` has no program")]
    #[diagnostic(
        code(cloesce::pipeline::empty_run),
        help("write the argv as strings: `run \"tsc\" \"--noEmit\"`")
    )]
    EmptyRun {
        rule: String,
        #[source_code]
        src: Src,
        #[label("empty argv")]
        span: SourceSpan,
    },

    /// A `run` argument no process can be given: it holds a NUL.
    #[error("argument {index} of `run` in rule `{rule}` holds a NUL character")]
    #[diagnostic(
        code(cloesce::pipeline::invalid_argument),
        help("a process argument ends at a NUL, so the command would not get what is written here: remove the `\\u{{0}}`")
    )]
    InvalidArgument {
        rule: String,
        /// 0 is the program.
        index: usize,
        #[source_code]
        src: Src,
        #[label("holds a NUL")]
        span: SourceSpan,
    },

    /// Two rules with one name.
    #[error("two rules are named `{name}`")]
    #[diagnostic(
        code(cloesce::pipeline::duplicate_rule),
        help(
            "rename one of them; rule names are how `deps` and `cloesce run RULE` refer to rules"
        )
    )]
    DuplicateRule {
        name: String,
        #[source_code]
        src: Src,
        #[label("declared again here")]
        span: SourceSpan,
        #[label("first declared here")]
        first: Option<SourceSpan>,
        #[related]
        notes: Vec<Note>,
    },

    /// `deps "x"` where no rule is called `x`.
    #[error("rule `{rule}` depends on `{dep}`, which is not a rule")]
    #[diagnostic(code(cloesce::pipeline::unknown_dep))]
    UnknownDep {
        rule: String,
        dep: String,
        #[source_code]
        src: Src,
        #[label("no rule named `{dep}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// Two rules declare the same output.
    #[error("`{path}` is an output of both `{first_rule}` and `{rule}`")]
    #[diagnostic(
        code(cloesce::pipeline::duplicate_output),
        help("each output belongs to exactly one rule: remove it from one of them, or write it to another path")
    )]
    DuplicateOutput {
        path: String,
        rule: String,
        first_rule: String,
        #[source_code]
        src: Src,
        #[label("also declared by `{rule}`")]
        span: SourceSpan,
        #[label("declared by `{first_rule}`")]
        first: Option<SourceSpan>,
        #[related]
        notes: Vec<Note>,
    },

    /// An absolute input or output path.
    #[error("{what} `{path}` is absolute")]
    #[diagnostic(
        code(cloesce::pipeline::absolute_path),
        help("write it relative to the project root (the folder holding cloesce.kdl); absolute paths would break the cache when the project moves")
    )]
    AbsolutePath {
        what: &'static str,
        path: String,
        #[source_code]
        src: Src,
        #[label("absolute")]
        span: SourceSpan,
    },

    /// An input or output that climbs out of the project with `..`.
    #[error("{what} `{path}` leaves the project")]
    #[diagnostic(
        code(cloesce::pipeline::escaping_path),
        help("every input and output must stay inside the project: remove the `..` (a `..` may not follow a wildcard either)")
    )]
    EscapingPath {
        what: &'static str,
        path: String,
        #[source_code]
        src: Src,
        #[label("escapes with `..`")]
        span: SourceSpan,
    },

    /// An input or output that is empty or otherwise not a path.
    #[error("{what} `{path}` is not a valid path: {reason}")]
    #[diagnostic(
        code(cloesce::pipeline::invalid_path),
        help("write a file path relative to the project root, such as `src/index.ts`")
    )]
    InvalidPath {
        what: &'static str,
        path: String,
        reason: String,
        #[source_code]
        src: Src,
        #[label("invalid path")]
        span: SourceSpan,
    },

    /// An input glob `globset` cannot compile.
    #[error("invalid glob `{glob}`: {reason}")]
    #[diagnostic(
        code(cloesce::pipeline::invalid_glob),
        help("globs use `*` (within a folder), `**` (any depth), `?`, `[abc]` and `{{a,b}}`; check the brackets and braces")
    )]
    InvalidGlob {
        glob: String,
        reason: String,
        #[source_code]
        src: Src,
        #[label("invalid glob")]
        span: SourceSpan,
    },

    /// An output written as a glob.
    #[error("output `{path}` is a glob")]
    #[diagnostic(
        code(cloesce::pipeline::output_glob),
        help("outputs are exact file paths; list each file the rule writes")
    )]
    OutputGlob {
        path: String,
        #[source_code]
        src: Src,
        #[label("contains `*` or `?`")]
        span: SourceSpan,
    },

    /// `builtin "x"` where the engine knows no such built-in.
    #[error("unknown built-in `{name}`")]
    #[diagnostic(code(cloesce::pipeline::unknown_builtin))]
    UnknownBuiltin {
        name: String,
        #[source_code]
        src: Src,
        #[label("not a built-in")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// `builtin "x" key="…"` where `x` takes no setting `key`.
    #[error("built-in `{builtin}` has no setting `{name}`")]
    #[diagnostic(code(cloesce::pipeline::unknown_setting))]
    UnknownSetting {
        builtin: String,
        name: String,
        #[source_code]
        src: Src,
        #[label("unknown setting")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// `use "x"` where no library pipeline is called `x`.
    #[error("unknown library pipeline `{name}`")]
    #[diagnostic(code(cloesce::pipeline::unknown_library))]
    UnknownLibrary {
        name: String,
        #[source_code]
        src: Src,
        #[label("no such pipeline")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// The same library used twice.
    #[error("`{name}` is used twice")]
    #[diagnostic(
        code(cloesce::pipeline::duplicate_use),
        help("use each library once and put all its settings in one block")
    )]
    DuplicateUse {
        name: String,
        #[source_code]
        src: Src,
        #[label("used again here")]
        span: SourceSpan,
        #[label("first used here")]
        first: Option<SourceSpan>,
    },

    /// A `use` block setting a param the library does not declare.
    #[error("`{library}` has no param `{name}`")]
    #[diagnostic(code(cloesce::pipeline::unknown_param))]
    UnknownParam {
        library: String,
        name: String,
        #[source_code]
        src: Src,
        #[label("unknown param")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A param declared twice in one document.
    #[error("param `{name}` is declared twice")]
    #[diagnostic(
        code(cloesce::pipeline::duplicate_param),
        help("keep one `param \"{name}\"`")
    )]
    DuplicateParam {
        name: String,
        #[source_code]
        src: Src,
        #[label("declared again here")]
        span: SourceSpan,
        #[label("first declared here")]
        first: SourceSpan,
    },

    /// `${x}` where no param `x` is declared (yet).
    #[error("`${{{name}}}` refers to an unknown param")]
    #[diagnostic(code(cloesce::pipeline::undefined_param))]
    UndefinedParam {
        name: String,
        #[source_code]
        src: Src,
        #[label("`{name}` is not declared")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A malformed `${…}` reference.
    #[error("{message}")]
    #[diagnostic(
        code(cloesce::pipeline::bad_reference),
        help("write `${{NAME}}` to insert a param, or `$${{` for a literal `${{`")
    )]
    BadReference {
        message: String,
        #[source_code]
        src: Src,
        #[label("here")]
        span: SourceSpan,
    },

    /// A rule, param or environment variable name that cannot be used.
    #[error("{what} `{name}` is not valid: {reason}")]
    #[diagnostic(code(cloesce::pipeline::invalid_name), help("{fix}"))]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
        fix: &'static str,
        #[source_code]
        src: Src,
        #[label("invalid name")]
        span: SourceSpan,
    },

    /// No `cloesce.kdl` was given and the embedded default is missing.
    #[error("there is no `cloesce.kdl` and no library pipeline named `{name}`")]
    #[diagnostic(
        code(cloesce::pipeline::missing_library),
        help("this is a bug in cloesce, please report it; meanwhile, write a `cloesce.kdl`")
    )]
    MissingLibrary { name: String },

    /// Rules that depend on each other in a loop.
    #[error("rules depend on each other in a cycle: {path}")]
    #[diagnostic(code(cloesce::pipeline::cycle))]
    Cycle {
        /// `a → b → c → a`, where `x → y` means `y` needs `x`.
        path: String,
        #[source_code]
        src: Src,
        #[label(collection)]
        labels: Vec<LabeledSpan>,
        #[help]
        help: String,
        #[related]
        notes: Vec<Note>,
    },
}

/// Every problem found in one pass.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the pipeline has {} problem(s)", errors.len())]
#[diagnostic(code(cloesce::pipeline::invalid))]
pub struct PipelineErrors {
    #[related]
    pub errors: Vec<PipelineError>,
}

impl PipelineErrors {
    pub fn new(errors: Vec<PipelineError>) -> Self {
        PipelineErrors { errors }
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The `code` of each error, in order: handy for tests and JSON output.
    pub fn codes(&self) -> Vec<String> {
        use miette::Diagnostic;
        self.errors
            .iter()
            .map(|e| e.code().map(|c| c.to_string()).unwrap_or_default())
            .collect()
    }
}
