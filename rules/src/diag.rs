//! Diagnostics shared by every rule.
//!
//! [`RuleDiagnostic`] is one miette diagnostic with a dynamic `code`, a
//! message, a `help` line, and, when the problem sits in a file we read, that
//! file as a [`Source`] (named by its workspace path) plus a labelled span.
//! Rules collect these and return them all at once in a `BuiltinFailure`.
//!
//! A bad file must cost time and memory linear in its size, however many
//! problems it has: every diagnostic of one file shares that file's text
//! (a [`Source`] is an `Arc`), and [`failure`] shows at most
//! [`SHOWN_PER_CAUSE`] diagnostics of one code, then one line saying how
//! many more there are.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use cloesce_engine::builtin::BuiltinFailure;
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// A file diagnostics point into, shared by all of them (cheap to clone).
pub type Source = NamedSource<Arc<str>>;

/// The [`Source`] for the file `name` holding `text`.
pub fn source(name: &str, text: impl Into<Arc<str>>) -> Source {
    NamedSource::new(name, text.into())
}

/// The most diagnostics of one code a failure shows.
pub const SHOWN_PER_CAUSE: usize = 10;

/// One problem found by a rule (boxed: it travels in `Result`s).
#[derive(Debug)]
pub struct RuleDiagnostic(Box<Inner>);

#[derive(Debug)]
struct Inner {
    code: String,
    message: String,
    help: Option<String>,
    source: Option<Source>,
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

    /// Points the diagnostic at `start..end` of `source` (shared, not copied).
    pub fn with_span(
        mut self,
        source: &Source,
        start: usize,
        end: usize,
        label: impl Into<String>,
    ) -> Self {
        let len = source.inner().len();
        let start = start.min(len);
        let end = end.clamp(start, len);
        self.0.source = Some(source.clone());
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

/// Wraps a list of diagnostics as a rule failure, in their order, keeping
/// the first [`SHOWN_PER_CAUSE`] of each code; the rest of a code become one
/// diagnostic after them: "… and N more like this".
pub fn failure(diagnostics: Vec<RuleDiagnostic>) -> BuiltinFailure {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut shown = Vec::new();
    for d in diagnostics {
        let count = seen.entry(d.code().to_string()).or_default();
        *count += 1;
        if *count <= SHOWN_PER_CAUSE {
            shown.push(miette::Report::new(d));
        }
    }
    for (code, count) in seen {
        if count > SHOWN_PER_CAUSE {
            let more = count - SHOWN_PER_CAUSE;
            shown.push(miette::Report::new(
                RuleDiagnostic::new(&code, format!("… and {more} more like this ({code})"))
                    .with_help(format!(
                        "{SHOWN_PER_CAUSE} of {count} are shown above; fix those and run again to see the rest"
                    )),
            ));
        }
    }
    BuiltinFailure { diagnostics: shown }
}

/// Shorthand for a failure with a single diagnostic.
pub fn fail(diagnostic: RuleDiagnostic) -> BuiltinFailure {
    failure(vec![diagnostic])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_of_one_file_share_its_text() {
        let file = source("m.ts", "x".repeat(1 << 20));
        let a = RuleDiagnostic::new("c", "a").with_span(&file, 1, 2, "here");
        let b = RuleDiagnostic::new("c", "b").with_span(&file, 3, 4, "here");
        let text = |d: &RuleDiagnostic| Arc::as_ptr(d.0.source.as_ref().unwrap().inner());
        assert_eq!(text(&a), Arc::as_ptr(file.inner()));
        assert_eq!(text(&a), text(&b));
    }

    #[test]
    fn a_failure_shows_ten_of_a_cause_and_counts_the_rest() {
        let mut all: Vec<RuleDiagnostic> = (0..16_000)
            .map(|i| RuleDiagnostic::new("cloesce::model::unknown_decorator", format!("d{i}")))
            .collect();
        all.insert(5, RuleDiagnostic::new("cloesce::model::other", "other"));
        let shown: Vec<String> = failure(all)
            .diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(shown.len(), 12);
        assert_eq!(shown[..5], ["d0", "d1", "d2", "d3", "d4"]);
        assert_eq!(shown[5], "other");
        assert_eq!(shown[10], "d9");
        assert_eq!(
            shown[11],
            "… and 15990 more like this (cloesce::model::unknown_decorator)"
        );
    }
}
