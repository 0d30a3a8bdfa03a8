//! Showing names and arguments that came from a user's files on a terminal.
//!
//! Rule names, argv, paths and env names are the user's strings and may hold
//! control characters: a NUL, an escape sequence that sets the terminal's
//! title (OSC) or its colours, a bidirectional override that reorders what
//! is read. Wherever cloesce shows such a string to a person (progress,
//! reports, `graph`, `explain`, errors) it goes through [`Shown`] /
//! [`shown`], which writes each such character as a visible escape (`\u{1b}`,
//! `\0`, `\n`). Machine output (`--json`) keeps the exact value: JSON escapes
//! control characters itself.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls, DEL,
/// and the bidirectional formatting characters.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character written as an escape; borrowed
/// (no copy) when there is none.
pub fn shown(text: &str) -> Cow<'_, str> {
    if text.chars().any(hidden) {
        Cow::Owned(Shown(text).to_string())
    } else {
        Cow::Borrowed(text)
    }
}

/// [`shown`] line by line: `text`'s own line breaks are layout and stay;
/// every other control character is escaped.
pub fn shown_lines(text: &str) -> Cow<'_, str> {
    if text.chars().any(|c| c != '\n' && hidden(c)) {
        Cow::Owned(text.split('\n').map(shown).collect::<Vec<_>>().join("\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Displays a string with its control characters escaped (see the module
/// doc): `format!("rule `{}`", Shown(&name))`.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\0' => f.write_str("\\0")?,
                '\t' => f.write_str("\\t")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                c if hidden(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(
            shown("a\0b\u{1b}]0;title\u{7}c\u{1b}[31mred\t\n\r\u{7f}\u{9b}\u{202e}x"),
            "a\\0b\\u{1b}]0;title\\u{7}c\\u{1b}[31mred\\t\\n\\r\\u{7f}\\u{9b}\\u{202e}x"
        );
    }

    #[test]
    fn shown_lines_keeps_line_breaks_only() {
        assert_eq!(shown_lines("a\u{1b}[2J\nb\tc\n"), "a\\u{1b}[2J\nb\\tc\n");
        assert!(matches!(shown_lines("a\nb\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in ["build", "gen/a b.txt", "ünïcödé ✓ 名前", "back\\slash"] {
            assert!(matches!(shown(text), Cow::Borrowed(t) if t == text));
        }
    }
}
