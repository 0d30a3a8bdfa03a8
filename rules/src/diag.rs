//! Diagnostics shared by every rule.
//!
//! [`RuleDiagnostic`] is one miette diagnostic with a dynamic `code`, a
//! message, a `help` line, and, when the problem sits in a file we read, that
//! file as a `NamedSource` (named by its workspace path) plus a labelled span.
//! Rules collect these and return them all at once in a `BuiltinFailure`.

use std::fmt;

use cloesce_engine::builtin::BuiltinFailure;
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// One problem found by a rule (boxed: it travels in `Result`s).
#[derive(Debug)]
pub struct RuleDiagnostic(Box<Inner>);

#[derive(Debug)]
struct Inner {
    code: String,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    label: Option<(usize, usize, String)>,
}

impl RuleDiagnostic {
    /// A diagnostic with the code `cloesce::<area>::<name>` (give the full code).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        RuleDiagnostic(Box::new(Inner {
            code: code.to_string(),
            message: message.into(),
            help: None,
            source: None,
            label: None,
        }))
    }

    /// Adds the `help` line that says how to fix the problem.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    /// Points the diagnostic at `start..end` of `text`, the file `name`.
    pub fn with_span(
        mut self,
        name: &str,
        text: &str,
        start: usize,
        end: usize,
        label: impl Into<String>,
    ) -> Self {
        let start = start.min(text.len());
        let end = end.clamp(start, text.len());
        self.0.source = Some(NamedSource::new(name, text.to_string()));
        self.0.label = Some((start, end - start, label.into()));
        self
    }

    /// The code, e.g. `cloesce::model::duplicate_model`.
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for RuleDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for RuleDiagnostic {}

impl Diagnostic for RuleDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.0.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (start, len, label) = self.0.label.as_ref()?;
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some(label.clone()),
            *start,
            *len,
        ))))
    }
}

/// Wraps a list of diagnostics as a rule failure.
pub fn failure(diagnostics: Vec<RuleDiagnostic>) -> BuiltinFailure {
    BuiltinFailure {
        diagnostics: diagnostics.into_iter().map(miette::Report::new).collect(),
    }
}

/// Shorthand for a failure with a single diagnostic.
pub fn fail(diagnostic: RuleDiagnostic) -> BuiltinFailure {
    failure(vec![diagnostic])
}
