//! A small JSONC reader and editor that keeps comments and formatting.
//!
//! [`parse`] builds a tree of values with byte spans (comments `//` and
//! `/* */` and trailing commas are accepted). The editing functions splice
//! text into the original string, so everything the user wrote stays as it
//! was; callers re-parse after each edit. [`to_value`] gives a plain
//! `serde_json::Value` for reading and for format conversion.
//!
//! # Why not `jsonc-parser`
//!
//! dprint's `jsonc-parser` (0.34, feature `cst`) was tried in its place
//! (issue #16): `wrangler.rs`'s `Jsonc` config over `CstRootNode`, with
//! `CstObject::append`, `CstArray::append` and `CstObjectProp::set_value`.
//! It does not keep the generated configs byte-identical: four of the nine
//! wrangler tests' snapshots changed (natively; the wasm32 build was not
//! tried, as the native output already differs):
//!
//! - an array of objects is written `[{ … }]` (the bracket and the brace on
//!   one line), where the user's and our style is `[`, newline, `{`;
//! - appending a member to an object written on one line
//!   (`{ "binding": "db", … } // one db`) spreads it over several lines;
//! - once the document has one trailing comma anywhere, it adds one after
//!   every new last member (`"compatibility_date": "…",`).
//!
//! None of these is configurable in 0.34, so the switch would rewrite
//! every user's existing `wrangler.jsonc` output (and change every cached
//! key's output). This module stays until the crate can insert in the
//! surrounding style.

use serde_json::Value;

/// A parsed JSONC value with its span in the text.
#[derive(Debug, Clone)]
pub enum Node {
    Object {
        start: usize,
        end: usize,
        members: Vec<Member>,
    },
    Array {
        start: usize,
        end: usize,
        items: Vec<Node>,
    },
    Scalar {
        start: usize,
        end: usize,
        value: Value,
    },
}

/// One `"key": value` of an object.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: String,
    pub key_start: usize,
    pub value: Node,
}

impl Node {
    pub fn start(&self) -> usize {
        match self {
            Node::Object { start, .. } | Node::Array { start, .. } | Node::Scalar { start, .. } => {
                *start
            }
        }
    }
    pub fn end(&self) -> usize {
        match self {
            Node::Object { end, .. } | Node::Array { end, .. } | Node::Scalar { end, .. } => *end,
        }
    }
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object { members, .. } => members.iter().find(|m| m.key == key).map(|m| &m.value),
            _ => None,
        }
    }
}

/// A parse error: message and byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    depth: usize,
}

/// Parses a JSONC document (one value, surrounded by optional trivia).
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.trivia()?;
    let node = p.value()?;
    p.trivia()?;
    if p.pos != p.bytes.len() {
        return Err(p.err("unexpected text after the document"));
    }
    Ok(node)
}

impl Parser<'_> {
    fn err(&self, message: &str) -> ParseError {
        ParseError {
            message: message.to_string(),
            offset: self.pos,
        }
    }

    /// Skips whitespace and comments.
    fn trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match self.bytes.get(self.pos) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'/') => match self.bytes.get(self.pos + 1) {
                    Some(b'/') => {
                        while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                            self.pos += 1;
                        }
                    }
                    Some(b'*') => {
                        let rest = &self.text[self.pos + 2..];
                        match rest.find("*/") {
                            Some(i) => self.pos += 2 + i + 2,
                            None => return Err(self.err("unterminated /* comment")),
                        }
                    }
                    _ => return Err(self.err("unexpected `/`")),
                },
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Node, ParseError> {
        if self.depth > 256 {
            return Err(self.err("nesting too deep"));
        }
        let start = self.pos;
        match self.bytes.get(self.pos) {
            Some(b'{') => {
                self.depth += 1;
                self.pos += 1;
                let mut members = Vec::new();
                loop {
                    self.trivia()?;
                    if self.bytes.get(self.pos) == Some(&b'}') {
                        self.pos += 1;
                        break;
                    }
                    let key_start = self.pos;
                    if self.bytes.get(self.pos) != Some(&b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let key = self.string()?;
                    self.trivia()?;
                    if self.bytes.get(self.pos) != Some(&b':') {
                        return Err(self.err("expected `:`"));
                    }
                    self.pos += 1;
                    self.trivia()?;
                    let value = self.value()?;
                    members.push(Member {
                        key,
                        key_start,
                        value,
                    });
                    self.trivia()?;
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return Err(self.err("expected `,` or `}`")),
                    }
                }
                self.depth -= 1;
                Ok(Node::Object {
                    start,
                    end: self.pos,
                    members,
                })
            }
            Some(b'[') => {
                self.depth += 1;
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.trivia()?;
                    if self.bytes.get(self.pos) == Some(&b']') {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.value()?);
                    self.trivia()?;
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {}
                        _ => return Err(self.err("expected `,` or `]`")),
                    }
                }
                self.depth -= 1;
                Ok(Node::Array {
                    start,
                    end: self.pos,
                    items,
                })
            }
            Some(b'"') => {
                let s = self.string()?;
                Ok(Node::Scalar {
                    start,
                    end: self.pos,
                    value: Value::String(s),
                })
            }
            Some(_) => {
                while self.pos < self.bytes.len()
                    && !matches!(
                        self.bytes[self.pos],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n' | b'/'
                    )
                {
                    self.pos += 1;
                }
                let raw = &self.text[start..self.pos];
                if raw.is_empty() {
                    return Err(self.err("expected a value"));
                }
                let value: Value = serde_json::from_str(raw).map_err(|_| ParseError {
                    message: format!("invalid value `{raw}`"),
                    offset: start,
                })?;
                Ok(Node::Scalar {
                    start,
                    end: self.pos,
                    value,
                })
            }
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.bytes.len() {
            match self.bytes[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    let raw = &self.text[start..self.pos.min(self.text.len())];
                    return serde_json::from_str(raw).map_err(|_| ParseError {
                        message: "invalid string".to_string(),
                        offset: start,
                    });
                }
                _ => self.pos += 1,
            }
        }
        Err(ParseError {
            message: "unterminated string".to_string(),
            offset: start,
        })
    }
}

/// The plain value of a node (comments dropped).
pub fn to_value(node: &Node) -> Value {
    match node {
        Node::Scalar { value, .. } => value.clone(),
        Node::Array { items, .. } => Value::Array(items.iter().map(to_value).collect()),
        Node::Object { members, .. } => {
            let mut map = serde_json::Map::new();
            for m in members {
                map.insert(m.key.clone(), to_value(&m.value));
            }
            Value::Object(map)
        }
    }
}

/// The indentation (spaces/tabs) of the line holding `pos`.
fn indent_at(text: &str, pos: usize) -> &str {
    let line_start = text[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = &text[line_start..];
    let n = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..n]
}

/// The unit of indentation the document uses (a tab, or 2 or 4 spaces).
fn indent_unit(text: &str) -> String {
    for line in text.lines() {
        if line.starts_with('\t') {
            return "\t".to_string();
        }
        let n = line.len() - line.trim_start_matches(' ').len();
        if n > 0 && !line.trim().is_empty() {
            return " ".repeat(n.min(8));
        }
    }
    "\t".to_string()
}

/// Renders `value` as JSON indented with `unit`, nested at `base`.
pub fn render(value: &Value, unit: &str, base: &str) -> String {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let inner = format!("{base}{unit}");
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{inner}{}: {}",
                        Value::String(k.clone()),
                        render(v, unit, &inner)
                    )
                })
                .collect();
            format!("{{\n{}\n{base}}}", items.join(",\n"))
        }
        Value::Array(items) if !items.is_empty() => {
            let inner = format!("{base}{unit}");
            let items: Vec<String> = items
                .iter()
                .map(|v| format!("{inner}{}", render(v, unit, &inner)))
                .collect();
            format!("[\n{}\n{base}]", items.join(",\n"))
        }
        other => other.to_string(),
    }
}

/// Where a new entry goes after the last one of a container: the position
/// for a missing comma (if any), the position right after the entry (and its
/// comma), and the end of the line when only a `//` comment follows there.
fn after_last(text: &str, last_end: usize) -> (Option<usize>, usize, Option<usize>) {
    let bytes = text.as_bytes();
    let mut i = last_end;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    let comma = if bytes.get(i) == Some(&b',') {
        i += 1;
        None
    } else {
        i = last_end;
        Some(last_end)
    };
    let mut j = i;
    while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
        j += 1;
    }
    let line_end = if text[j..].starts_with("//") {
        let e = text[j..].find('\n').map(|n| j + n).unwrap_or(text.len());
        Some(if e > 0 && bytes.get(e - 1) == Some(&b'\r') {
            e - 1
        } else {
            e
        })
    } else {
        None
    };
    (comma, i, line_end)
}

/// Inserts `new` after the last entry, adding the comma it needs. A new
/// line goes after a trailing `//` comment; same-line text never does.
fn insert_after(text: &str, last_end: usize, new: &str) -> String {
    let (comma, after, line_end) = after_last(text, last_end);
    let at = if new.starts_with('\n') {
        line_end.unwrap_or(after)
    } else {
        after
    };
    let mut out = text.to_string();
    out.insert_str(at, new);
    if let Some(c) = comma {
        out.insert(c, ',');
    }
    out
}

/// Adds `"key": value` at the end of the object `obj` (which must be in `text`).
pub fn insert_member(text: &str, obj: &Node, key: &str, value: &Value) -> String {
    let Node::Object {
        start,
        end,
        members,
    } = obj
    else {
        return text.to_string();
    };
    let unit = indent_unit(text);
    let key_json = Value::String(key.to_string());
    match members.last() {
        Some(last) => {
            let indent = indent_at(text, last.key_start).to_string();
            let same_line = !text[*start..last.key_start].contains('\n');
            let body = format!("{key_json}: {}", render(value, &unit, &indent));
            let new = if same_line {
                format!(" {body}")
            } else {
                format!("\n{indent}{body}")
            };
            insert_after(text, last.value.end(), &new)
        }
        None => {
            let base = indent_at(text, *start).to_string();
            let inner = format!("{base}{unit}");
            let close = end - 1;
            let new = format!(
                "\n{inner}{key_json}: {}\n{base}",
                render(value, &unit, &inner)
            );
            let mut out = text.to_string();
            // Drop the whitespace between the braces, keep any comments.
            let between = &text[start + 1..close];
            if between.trim().is_empty() {
                out.replace_range(start + 1..close, &new);
            } else {
                out.insert_str(close, &new);
            }
            out
        }
    }
}

/// Appends `value` to the array `arr`.
pub fn push_item(text: &str, arr: &Node, value: &Value) -> String {
    let Node::Array { start, end, items } = arr else {
        return text.to_string();
    };
    let unit = indent_unit(text);
    match items.last() {
        Some(last) => {
            let indent = indent_at(text, last.start()).to_string();
            let same_line = !text[*start..last.start()].contains('\n');
            let body = render(value, &unit, &indent);
            let new = if same_line {
                format!(" {body}")
            } else {
                format!("\n{indent}{body}")
            };
            insert_after(text, last.end(), &new)
        }
        None => {
            let base = indent_at(text, *start).to_string();
            let inner = format!("{base}{unit}");
            let close = end - 1;
            let new = format!("\n{inner}{}\n{base}", render(value, &unit, &inner));
            let mut out = text.to_string();
            if text[start + 1..close].trim().is_empty() {
                out.replace_range(start + 1..close, &new);
            } else {
                out.insert_str(close, &new);
            }
            out
        }
    }
}

/// Replaces a node's text with `value`.
pub fn replace(text: &str, node: &Node, value: &Value) -> String {
    let mut out = text.to_string();
    out.replace_range(node.start()..node.end(), &value.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_when_inserting() {
        let text = "{\n\t// the name\n\t\"name\": \"x\", // trailing\n\t/* block */\n}\n";
        let root = parse(text).unwrap();
        let out = insert_member(text, &root, "main", &Value::String("workers.ts".into()));
        assert_eq!(out, "{\n\t// the name\n\t\"name\": \"x\", // trailing\n\t\"main\": \"workers.ts\"\n\t/* block */\n}\n");
        let out2 = "{ \"a\": 1 // c\n}";
        let root = parse(out2).unwrap();
        assert_eq!(
            insert_member(out2, &root, "b", &Value::Bool(true)),
            "{ \"a\": 1, \"b\": true // c\n}"
        );
    }

    #[test]
    fn inserts_into_empty_containers() {
        let text = "{}";
        let root = parse(text).unwrap();
        let out = insert_member(text, &root, "a", &serde_json::json!([{"b": 1}]));
        assert_eq!(out, "{\n\t\"a\": [\n\t\t{\n\t\t\t\"b\": 1\n\t\t}\n\t]\n}");
        let root = parse(&out).unwrap();
        let arr = root.get("a").unwrap();
        let out = push_item(&out, arr, &serde_json::json!(2));
        assert_eq!(
            to_value(&parse(&out).unwrap()),
            serde_json::json!({"a": [{"b": 1}, 2]})
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            "",
            "{",
            "{\"a\"}",
            "[1,",
            "/* x",
            "\"abc",
            "{\"a\": 1} x",
            "tru",
            "{\"\\",
            "\u{e9}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
