//! How deep the KDL parser would recurse on a document, measured without
//! recursing, so that a hostile `cloesce.kdl` gets a diagnostic with a span
//! instead of overflowing the stack (natively and in WebAssembly's 1 MiB).
//!
//! The `kdl` crate's parser recurses once per
//! - `{` block (a node's children),
//! - `/-` that directly follows another `/-` (each parses what follows it as
//!   a node or an entry, which may start with a `/-` again),
//! - `/*` inside a block comment, and once per *piece* of a block comment:
//!   every `*`, every `/` and every run of other text between them.
//!
//! [`for_parser`] walks the text once, skipping strings (quoted, multi-line
//! and raw) and `//` comments. Every *closed* block comment is blanked out
//! (each of its bytes but line breaks becomes a space: the same length, so
//! every span still points at the user's text). KDL treats a block comment
//! as white space, so the parser reads the same document, and a comment of
//! any length or nesting costs it nothing. What is left is bounded: more
//! than [`MAX_NESTING`] levels, where each open `{` and each chained `/-`
//! counts one, is refused with the first place past the limit; so is an
//! *unclosed* block comment (the parser does walk that one) nested more than
//! [`MAX_NESTING`] deep or with more than [`MAX_COMMENT_MARKS`] `*` and `/`
//! characters. Real pipelines nest two or three levels. The limits keep the
//! worst accepted document well inside a 1 MiB stack in a release build and
//! a 2 MiB one in a debug build (`rules/tests/hostile.rs` parses it on the
//! latter).

use std::borrow::Cow;

/// The most levels a pipeline file may nest: `{` blocks, chained `/-` and
/// `/*` comments that are never closed each count one.
pub const MAX_NESTING: usize = 32;

/// The most `*` and `/` characters a block comment that is never closed
/// (with the comments nested in it) may hold.
pub const MAX_COMMENT_MARKS: usize = 128;

/// What went past a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excess {
    /// A `{` opened past [`MAX_NESTING`].
    Blocks,
    /// A `/*` opened past [`MAX_NESTING`], in a comment never closed.
    Comments,
    /// A `/-` chained past [`MAX_NESTING`].
    Slashdashes,
    /// A `*` or `/` past [`MAX_COMMENT_MARKS`] in a block comment never
    /// closed.
    LongComment,
}

/// Where a document goes past a limit, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// The byte offset of the character that went past the limit.
    pub at: usize,
    pub excess: Excess,
}

impl TooDeep {
    /// The diagnostic's message.
    pub fn message(&self) -> String {
        match self.excess {
            Excess::Blocks => format!("blocks are nested more than {MAX_NESTING} levels deep"),
            Excess::Comments => format!(
                "`/*` comments that are never closed are nested more than {MAX_NESTING} levels deep"
            ),
            Excess::Slashdashes => format!("more than {MAX_NESTING} `/-` follow one another"),
            Excess::LongComment => format!(
                "a `/*` comment that is never closed holds more than {MAX_COMMENT_MARKS} `*` and `/` characters"
            ),
        }
    }

    /// The bytes to underline: the `{`, `/-`, `/*`, `*` or `/`.
    pub fn width(&self) -> usize {
        match self.excess {
            Excess::Blocks | Excess::LongComment => 1,
            Excess::Comments | Excess::Slashdashes => 2,
        }
    }

    /// The label at [`TooDeep::at`].
    pub fn label(&self) -> &'static str {
        match self.excess {
            Excess::LongComment => "comment too long from here",
            _ => "nested too deep here",
        }
    }

    /// How to fix it.
    pub fn help(&self) -> String {
        let levels = format!(
            "a pipeline may nest {MAX_NESTING} levels (each `{{`, `/*` and chained `/-` counts one)"
        );
        match self.excess {
            Excess::Blocks => format!(
                "{levels}; a pipeline needs `rule {{ … }}` inside `use {{ … }}` at most: remove the extra `{{ }}` levels"
            ),
            Excess::Comments => format!(
                "close each `/*` with `*/`: a closed comment may be as long and as deeply nested as you like ({levels})"
            ),
            Excess::Slashdashes => format!(
                "{levels}; one `/-` comments out the node, argument or block after it: remove the others"
            ),
            Excess::LongComment => {
                "close the comment with `*/`: a closed comment may be as long as you like".to_string()
            }
        }
    }
}

/// The first place where `text` goes past a limit (see the module doc).
pub fn check(text: &str) -> Option<TooDeep> {
    for_parser(text).err()
}

/// The text to give the KDL parser: `text` with its closed block comments
/// blanked out, or the first place where it goes past a limit (see the
/// module doc).
pub fn for_parser(text: &str) -> Result<Cow<'_, str>, TooDeep> {
    let bytes = text.as_bytes();
    let too_deep = |at, excess| Err(TooDeep { at, excess });
    // Closed block comments, to blank out.
    let mut comments: Vec<(usize, usize)> = Vec::new();
    // Levels held by enclosing blocks (each `{` plus the `/-` chain before it).
    let mut held: Vec<usize> = Vec::new();
    let mut outer = 0usize;
    let mut chain = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b';' => {}
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = line_end(bytes, i);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let comment = block_comment(bytes, i, outer + chain);
                match (comment.end, comment.excess) {
                    (Some(end), _) => {
                        comments.push((i, end));
                        i = end;
                    }
                    (None, Some(excess)) => return Err(excess),
                    (None, None) => i = bytes.len(),
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                chain += 1;
                if outer + chain > MAX_NESTING {
                    return too_deep(i, Excess::Slashdashes);
                }
                i += 2;
                continue;
            }
            b'{' => {
                let levels = chain + 1;
                if outer + levels > MAX_NESTING {
                    return too_deep(i, Excess::Blocks);
                }
                held.push(levels);
                outer += levels;
                chain = 0;
            }
            b'}' => {
                outer -= held.pop().unwrap_or(0);
                chain = 0;
            }
            b'"' | b'#' => {
                chain = 0;
                i = string_end(bytes, i);
                continue;
            }
            _ => chain = 0,
        }
        i += 1;
    }
    if comments.is_empty() {
        return Ok(Cow::Borrowed(text));
    }
    let mut blanked = bytes.to_vec();
    for (start, end) in comments {
        for b in &mut blanked[start..end] {
            if !matches!(*b, b'\n' | b'\r') {
                *b = b' ';
            }
        }
    }
    // Only whole comments, which lie between characters, became ASCII.
    Ok(Cow::Owned(
        String::from_utf8(blanked).expect("blanking whole comments keeps UTF-8"),
    ))
}

/// The offset of the newline ending the `//` comment at `start` (or the end).
fn line_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |n| start + n)
}

/// The offset just past the string starting at `start`: `"…"` (with `\`
/// escapes), `"""…"""`, and their raw forms `#"…"#`, `##"""…"""##`. A `#`
/// that opens no string (`#true`, `#null`) is skipped; an unclosed string
/// runs to the end.
pub(super) fn string_end(bytes: &[u8], start: usize) -> usize {
    let hashes = bytes[start..].iter().take_while(|b| **b == b'#').count();
    let open = start + hashes;
    if bytes.get(open) != Some(&b'"') {
        return open.max(start + 1);
    }
    let quotes: &[u8] = if bytes[open..].starts_with(b"\"\"\"") {
        b"\"\"\""
    } else {
        b"\""
    };
    let mut i = open + quotes.len();
    while i < bytes.len() {
        if hashes == 0 && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i..].starts_with(quotes) {
            let after = i + quotes.len();
            let closing_hashes = bytes[after..]
                .iter()
                .take(hashes)
                .take_while(|b| **b == b'#')
                .count();
            if closing_hashes == hashes {
                return after + hashes;
            }
        }
        i += 1;
    }
    bytes.len()
}

/// A block comment, walked once.
pub(super) struct BlockComment {
    /// The offset just past its closing `*/`; `None` when never closed.
    pub end: Option<usize>,
    /// The first place where it goes past a limit.
    pub excess: Option<TooDeep>,
}

/// Walks the block comment (`/* */`, nesting) that starts at `start`, inside
/// `levels` levels of nesting.
pub(super) fn block_comment(bytes: &[u8], start: usize, levels: usize) -> BlockComment {
    let mut depth = 0usize;
    let mut marks = 0usize;
    let mut excess = None;
    let mut i = start;
    while i < bytes.len() {
        let step = if bytes[i..].starts_with(b"/*") {
            depth += 1;
            if excess.is_none() && levels + depth > MAX_NESTING {
                excess = Some(TooDeep {
                    at: i,
                    excess: Excess::Comments,
                });
            }
            2
        } else if bytes[i..].starts_with(b"*/") {
            depth -= 1;
            if depth == 0 {
                return BlockComment {
                    end: Some(i + 2),
                    excess,
                };
            }
            2
        } else {
            1
        };
        if matches!(bytes[i], b'*' | b'/') {
            marks += step;
            if excess.is_none() && marks > MAX_COMMENT_MARKS {
                excess = Some(TooDeep {
                    at: i,
                    excess: Excess::LongComment,
                });
            }
        }
        i += step;
    }
    BlockComment { end: None, excess }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excess(text: &str) -> Option<Excess> {
        check(text).map(|t| t.excess)
    }

    #[test]
    fn each_kind_of_nesting_counts_and_they_add_up() {
        assert_eq!(excess(&"{ ".repeat(32)), None);
        assert_eq!(excess(&"{ ".repeat(33)), Some(Excess::Blocks));
        assert_eq!(excess(&format!("x {}y", "/- ".repeat(32))), None);
        assert_eq!(
            excess(&format!("x {}y", "/- ".repeat(33))),
            Some(Excess::Slashdashes)
        );
        // An unclosed comment reaches the parser: its nesting counts.
        assert_eq!(excess(&"/*".repeat(32)), None);
        assert_eq!(excess(&"/*".repeat(33)), Some(Excess::Comments));
        // 16 blocks, then 16 chained `/-`, then an unclosed comment: 33 levels.
        let mixed = format!("{}{}/* ", "{ ".repeat(16), "/- ".repeat(16));
        assert_eq!(excess(&mixed), Some(Excess::Comments));
        // A closed one is blanked out, however deep.
        let closed = format!("{}{}", "/*".repeat(5_000), "*/".repeat(5_000));
        assert_eq!(excess(&closed), None);
        // A closed block gives its levels back; a token breaks a chain.
        let closed = format!("{}{}", "{ } ".repeat(100), "/- x ".repeat(100));
        assert_eq!(excess(&closed), None);
    }

    #[test]
    fn unclosed_comments_are_counted_by_their_marks_and_closed_ones_are_free() {
        let stars = |n| format!("/*{}", "*".repeat(n));
        assert_eq!(excess(&stars(MAX_COMMENT_MARKS - 2)), None);
        assert_eq!(excess(&stars(MAX_COMMENT_MARKS)), Some(Excess::LongComment));
        // Text without marks costs nothing, however long.
        assert_eq!(excess(&format!("/* {}", "words\n".repeat(100_000))), None);
        // A closed doc comment of any length is blanked out.
        let doc = format!("/**\n{} */\nx", " * a line\n".repeat(5_000));
        assert_eq!(excess(&doc), None);
    }

    #[test]
    fn closed_comments_become_spaces_of_the_same_length() {
        let text = "a /* b /* ü */ c */ \"/* kept */\" // /* kept\r\n/*\r\n*/ d";
        let blanked = for_parser(text).unwrap();
        assert_eq!(blanked.len(), text.len());
        assert_eq!(
            blanked,
            "a                    \"/* kept */\" // /* kept\r\n  \r\n   d"
        );
        // Nothing to blank: the text itself.
        assert!(matches!(for_parser("a \"/*\""), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn strings_and_line_comments_hide_everything() {
        let inside = "{ /* /- ".repeat(100);
        for text in [
            format!("x \"{inside}\""),
            format!("x \"\"\"\n\"{inside}\n\"\"\""),
            format!("x #\"\"{inside}\"#"),
            format!("x ##\"\"\"\n\"#{inside}\n\"\"\"##"),
            format!("x \"\\\"{inside}\""),
            format!("// {inside}\nx"),
        ] {
            assert_eq!(check(&text), None, "{text}");
        }
        // What follows a string is seen again.
        let after = format!("x \"a\" #true {}", "{ ".repeat(33));
        assert_eq!(excess(&after), Some(Excess::Blocks));
    }

    #[test]
    fn the_span_points_at_the_character_past_the_limit() {
        let text = format!("cloesce version=1\n{}x\n", "/- ".repeat(2100));
        let at = check(&text).unwrap().at;
        assert_eq!(at, "cloesce version=1\n".len() + 3 * 32);
        assert_eq!(&text[at..at + 2], "/-");
    }
}
