//! Rendering diagnostics for the terminal: colour only when asked for (a
//! terminal without `NO_COLOR`, or `--color always`), plain text otherwise.
//! Every text of a diagnostic (message, labels, help, related ones) has its
//! control characters escaped ([`cloesce_engine::shown`]) on the way, so a
//! rule name or argument cannot send the terminal an escape sequence.

use std::fmt;

use cloesce_engine::shown::shown_lines;
use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, Severity, SourceCode,
};

/// Renders diagnostics with a fixed colour choice.
#[derive(Debug, Clone, Copy)]
pub struct Renderer {
    pub color: bool,
}

impl Renderer {
    /// One diagnostic (and its related ones) with code frames.
    pub fn diagnostic(&self, diagnostic: &dyn Diagnostic) -> String {
        let theme = if self.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let escaped = Escaped::new(diagnostic);
        let mut out = String::new();
        if handler.render_report(&mut out, &escaped).is_err() {
            out = format!("error: {escaped}\n");
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    /// `text` in bold red (an error word), or plain.
    pub fn error_word(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// `text` dimmed, or plain.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    /// `text` in green, or plain.
    pub fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// `text` in yellow, or plain.
    pub fn warn(&self, text: &str) -> String {
        self.paint("33", text)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
}

/// A diagnostic whose texts are shown with control characters escaped; its
/// source code and spans are the original's.
struct Escaped<'a> {
    inner: &'a dyn Diagnostic,
    message: String,
    related: Vec<Escaped<'a>>,
    cause: Option<Box<Escaped<'a>>>,
}

impl<'a> Escaped<'a> {
    fn new(inner: &'a dyn Diagnostic) -> Self {
        Escaped {
            inner,
            message: shown_lines(&inner.to_string()).into_owned(),
            related: inner
                .related()
                .map(|related| related.map(Escaped::new).collect())
                .unwrap_or_default(),
            cause: inner.diagnostic_source().map(|d| Box::new(Escaped::new(d))),
        }
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Escaped<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

impl Diagnostic for Escaped<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let code = self.inner.code()?.to_string();
        Some(Box::new(shown_lines(&code).into_owned()))
    }

    fn severity(&self) -> Option<Severity> {
        self.inner.severity()
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let help = self.inner.help()?.to_string();
        Some(Box::new(shown_lines(&help).into_owned()))
    }

    fn url<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.url()
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.inner.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let labels = self.inner.labels()?.map(|label| {
            let text = label.label().map(|l| shown_lines(l).into_owned());
            if label.primary() {
                LabeledSpan::new_primary_with_span(text, *label.inner())
            } else {
                LabeledSpan::new_with_span(text, *label.inner())
            }
        });
        Some(Box::new(labels.collect::<Vec<_>>().into_iter()))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.cause.as_deref().map(|d| d as &dyn Diagnostic)
    }
}
