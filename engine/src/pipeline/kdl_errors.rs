//! The KDL parser's complaints, turned into errors a new user can act on.
//!
//! The `kdl` crate reports what its grammar expected (`Expected identifier
//! string`), which says little to someone who wrote KDL v1, the version most
//! examples on the web use. Two cases get rewritten here, the rest are kept:
//!
//! - **KDL v1 spellings**: `true`, `false`, `null`, `inf`, `-inf`, `nan` and
//!   `r"…"`/`r#"…"#` raw strings. The error names the v2 spelling and shows
//!   the line rewritten with it.
//! - **A missing `}`**: the parser reports the unclosed `{` and then the
//!   whole rest of the file as "not closed"; only the first is kept, and it
//!   names the node whose block is never closed. One `}` too many is named
//!   as such, not as "Expected end of document".

use miette::SourceSpan;

use super::error::PipelineError;
use super::SourceFile;

/// What an error says: message, label, help.
type Wording = (String, String, Option<String>);

/// The parser's message for a `{` that is never closed.
const UNCLOSED_BLOCK: &str = "No closing '}' for child block";
/// Its follow-up, spanning everything after the `{`.
const UNCLOSED_NODES: &str = "Closing '}' was not found after nodes";
/// Text after the last node; at a `}`, one too many.
const END_EXPECTED: &str = "Expected end of document";

/// Every problem of a document that is not valid KDL v2, one error each,
/// with a missing `}` reported once.
pub(super) fn syntax_errors(file: &SourceFile, error: kdl::KdlError) -> Vec<PipelineError> {
    let unclosed = error
        .diagnostics
        .iter()
        .any(|d| d.message.as_deref() == Some(UNCLOSED_BLOCK));
    let mut errors = Vec::new();
    // The end of the last v1 raw string named: the parser's complaints
    // inside it are the same mistake.
    let mut covered_to = 0;
    for d in error.diagnostics {
        let message = d.message.unwrap_or_else(|| "invalid KDL".to_string());
        if unclosed && message == UNCLOSED_NODES || d.span.offset() < covered_to {
            continue;
        }
        let mut span = d.span;
        let (message, label, help) = if message == UNCLOSED_BLOCK {
            unclosed_block(&file.text, span)
        } else if message == END_EXPECTED && spanned(&file.text, span) == "}" {
            (
                "this `}` closes no block".to_string(),
                "nothing to close".to_string(),
                Some("remove it, or add the `{` it was meant to close".to_string()),
            )
        } else if let Some((token, hint)) = kdl_v1(&file.text, span) {
            span = token;
            covered_to = token.offset() + token.len();
            hint
        } else {
            (
                message,
                d.label.unwrap_or_else(|| "here".to_string()),
                d.help,
            )
        };
        errors.push(PipelineError::Syntax {
            message,
            src: file.named_source(),
            span,
            label,
            help,
        });
    }
    errors
}

/// The text of `span` in `text` (empty when out of range).
fn spanned(text: &str, span: SourceSpan) -> &str {
    text.get(span.offset()..span.offset() + span.len())
        .unwrap_or("")
}

/// The line around `offset`, without its newline.
fn line_at(text: &str, offset: usize) -> (usize, &str) {
    let start = text
        .get(..offset)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |i| i + 1);
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    (start, text[start..end].trim_end_matches('\r'))
}

/// The error for a `{` that is never closed, naming its node.
fn unclosed_block(text: &str, span: SourceSpan) -> Wording {
    let (start, line) = line_at(text, span.offset());
    let head = line
        .get(..span.offset().saturating_sub(start))
        .unwrap_or("")
        .trim();
    let what = if head.is_empty() {
        "this block".to_string()
    } else {
        format!("the block of `{head}`")
    };
    (
        format!("{what} is never closed: its `{{` has no matching `}}`"),
        "opened here".to_string(),
        Some(format!(
            "add a `}}` on its own line after the last line of {what} (every `{{` needs a `}}`)"
        )),
    )
}

/// A KDL v1 spelling at `span`: its whole token and the error naming its
/// v2 spelling.
fn kdl_v1(text: &str, span: SourceSpan) -> Option<(SourceSpan, Wording)> {
    let (len, v2) = v2_spelling(text.get(span.offset()..)?, spanned(text, span))?;
    let found = text.get(span.offset()..span.offset() + len)?;
    let (start, line) = line_at(text, span.offset());
    let at = span.offset() - start;
    let rewritten = match line.get(at + len..) {
        Some(after) => format!("{}{v2}{after}", line.get(..at).unwrap_or("")),
        None => v2.clone(),
    };
    let what = if found.starts_with('r') {
        "a raw string"
    } else {
        "a keyword"
    };
    Some((
        (span.offset(), len).into(),
        (
            format!("`{found}` is KDL v1 syntax; cloesce.kdl is KDL v2, which writes {what} as `{v2}`"),
            format!("write `{v2}`"),
            Some(format!(
                "write `{}`; in KDL v2 `#true`, `#false`, `#null`, `#inf`, `#-inf` and `#nan` start with `#`, and raw strings are `#\"…\"#`",
                rewritten.trim()
            )),
        ),
    ))
}

/// The KDL v2 spelling of the KDL v1 keyword (the whole `token` the parser
/// flagged) or raw string (starting `rest`, the text from the flagged
/// spot on), with the v1 token's length.
fn v2_spelling(rest: &str, token: &str) -> Option<(usize, String)> {
    if matches!(token, "true" | "false" | "null" | "inf" | "-inf" | "nan") {
        return Some((token.len(), format!("#{token}")));
    }
    // v1 raw strings: r"…", r#"…"#, r##"…"##: the same hashes, without the r.
    let after_r = rest.strip_prefix('r')?;
    let hashes = after_r.len() - after_r.trim_start_matches('#').len();
    let body_and_rest = after_r[hashes..].strip_prefix('"')?;
    let close = format!("\"{}", "#".repeat(hashes));
    let body = &body_and_rest[..body_and_rest.find(&close)?];
    let len = 1 + hashes + 1 + body.len() + close.len();
    let fence = "#".repeat(hashes.max(1));
    Some((len, format!("{fence}\"{body}\"{fence}")))
}

#[cfg(test)]
mod tests {
    use super::v2_spelling;

    #[test]
    fn v1_spellings_get_their_v2_form() {
        let v2 = |rest: &str, token: &str| v2_spelling(rest, token).map(|(_, v2)| v2);
        assert_eq!(v2("false }", "false").as_deref(), Some("#false"));
        assert_eq!(v2("-inf", "-inf").as_deref(), Some("#-inf"));
        assert_eq!(v2(r#"r"a\b" x"#, "r").as_deref(), Some(r##"#"a\b"#"##));
        assert_eq!(
            v2_spelling(r##"r#"a"b"# "c""##, r#"r#"a"#),
            Some((8, r##"#"a"b"#"##.to_string()))
        );
        assert_eq!(v2("falsey", "falsey"), None);
        assert_eq!(v2("r x", "r"), None);
        assert_eq!(v2(r#"r"unterminated"#, "r"), None);
    }
}
