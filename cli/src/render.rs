//! Rendering diagnostics for the terminal: colour only when asked for (a
//! terminal without `NO_COLOR`, or `--color always`), plain text otherwise.

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

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
        let mut out = String::new();
        if handler.render_report(&mut out, diagnostic).is_err() {
            out = format!("error: {diagnostic}\n");
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
