//! Parsing a document one top-level node at a time, to bound memory.
//!
//! The `kdl` crate keeps every entry with its formatting (eight strings, two
//! identifiers and spans, ~400 bytes before any text), so a whole parsed
//! 10,000-rule `cloesce.kdl` (2.2 MB of text) holds ~135 MB at once. Nothing
//! needs the whole tree: rules are lowered one by one. So [`split`] cuts the
//! text into *chunks* at newlines outside any block, string or comment;
//! chunks that are exactly one `rule` node are parsed, lowered and dropped
//! one at a time, and the few other chunks (`cloesce`, `param`, `use`, `env`,
//! `tool`, …) are parsed first, because the header check and every rule's
//! `${param}`s need them.
//!
//! The result must be exactly what parsing the whole document gives, so this
//! path is only an optimisation that steps aside whenever it is unsure:
//! [`split`] gives up on anything it does not fully understand (raw and
//! multi-line strings, line continuations, rare newline characters), and the
//! caller falls back to the whole-document parse when the first node is not
//! `cloesce`, when any chunk fails to parse (so syntax errors are reported
//! exactly as before), or when a rule chunk turns out not to be one `rule`
//! node. Spans are shifted back to offsets in the whole text.

use std::ops::Range;

use kdl::{KdlDocument, KdlIdentifier, KdlNode};

use super::depth::block_comment;
use super::load::{Loader, UseSite};
use super::syntax::name_of;
use super::SourceId;

impl Loader<'_> {
    /// Lowers document `id` chunk by chunk (see the module doc). Returns
    /// false, having changed nothing, when the caller must parse it whole.
    pub(super) fn lower_in_chunks(
        &mut self,
        id: SourceId,
        text: &str,
        site: Option<&UseSite>,
    ) -> bool {
        let Some(chunks) = split(text) else {
            return false;
        };
        // Everything but the rules, parsed up front.
        let mut head: Vec<Option<KdlDocument>> = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            if chunk.rule {
                head.push(None);
            } else {
                match parse(text, chunk) {
                    Some(doc) => head.push(Some(doc)),
                    None => return false,
                }
            }
        }
        // The header check looks at the first node: it must not be a rule.
        let first_is_header = head
            .first()
            .and_then(|doc| doc.as_ref()?.nodes().first())
            .is_some_and(|node| name_of(node) == "cloesce");
        if !first_is_header {
            return false;
        }
        let undo = Undo::of(self);
        let head_nodes: Vec<&KdlNode> = head.iter().flatten().flat_map(|d| d.nodes()).collect();
        let cx = self.start_document(id, &head_nodes, site);
        let mut own_rules = Vec::new();
        for (chunk, parsed) in chunks.iter().zip(&head) {
            match parsed {
                Some(doc) => {
                    for node in doc.nodes() {
                        self.lower_node(&cx, node, &mut own_rules);
                    }
                }
                None => match parse(text, chunk) {
                    Some(doc) if doc.nodes().len() == 1 && name_of(&doc.nodes()[0]) == "rule" => {
                        self.lower_node(&cx, &doc.nodes()[0], &mut own_rules);
                    }
                    _ => {
                        undo.apply(self);
                        return false;
                    }
                },
            }
        }
        self.rules.extend(own_rules);
        true
    }
}

/// What the loader held before a chunked attempt, to return to it.
struct Undo {
    sources: usize,
    errors: usize,
    env: usize,
    tools: usize,
    rules: usize,
    used: usize,
    remote_cache: Option<crate::remote::RemoteCacheSettings>,
}

impl Undo {
    fn of(loader: &Loader<'_>) -> Undo {
        Undo {
            sources: loader.sources.len(),
            errors: loader.errors.len(),
            env: loader.env.len(),
            tools: loader.tools.len(),
            rules: loader.rules.len(),
            used: loader.used.len(),
            remote_cache: loader.remote_cache.clone(),
        }
    }

    fn apply(self, loader: &mut Loader<'_>) {
        loader.sources.truncate(self.sources);
        loader.errors.truncate(self.errors);
        loader.env.truncate(self.env);
        loader.tools.truncate(self.tools);
        loader.rules.truncate(self.rules);
        loader.used.truncate(self.used);
        loader.remote_cache = self.remote_cache;
    }
}

/// A run of whole top-level nodes (with the blank lines and comments before
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chunk {
    pub range: Range<usize>,
    /// Exactly one node, named `rule` (unquoted, no type, no slashdash, no `;`).
    pub rule: bool,
}

/// Splits `text` into chunks, or `None` when it holds a construct this
/// scanner does not follow (the caller then parses the whole text).
pub(super) fn split(text: &str) -> Option<Vec<Chunk>> {
    // Newlines KDL knows besides `\n` and `\r\n`: not worth following.
    if text.contains(['\u{0B}', '\u{0C}', '\u{85}', '\u{2028}', '\u{2029}']) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut chunks = Vec::new();
    let mut start = 0;
    // Where this chunk's first token starts; `None` while only trivia so far.
    let mut first_token: Option<usize> = None;
    // A `/-` at the top level waits for the node (or entry) it comments out.
    let mut slashdash = false;
    // The chunk cannot be a lone rule (`;`, `/-` at the top level).
    let mut plain = true;
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => {
                if depth == 0 && first_token.is_some() && !slashdash {
                    chunks.push(Chunk {
                        range: start..i + 1,
                        rule: plain && first_token.is_some_and(|t| is_rule_name(&bytes[t..])),
                    });
                    start = i + 1;
                    first_token = None;
                    plain = true;
                }
                i += 1;
                continue;
            }
            b'\r' => {
                if bytes.get(i + 1) != Some(&b'\n') {
                    return None;
                }
                i += 1;
                continue;
            }
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    if bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
                        return None;
                    }
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = block_comment(bytes, i, 0).end?;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                if depth == 0 {
                    slashdash = true;
                    plain = false;
                }
                first_token.get_or_insert(i);
                i += 2;
                continue;
            }
            _ => {}
        }
        // Anything else is (part of) a token.
        first_token.get_or_insert(i);
        slashdash = false;
        match b {
            b'"' => {
                if bytes[i..].starts_with(b"\"\"\"") {
                    return None; // multi-line string
                }
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return None,
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(b'\n' | b'\r') => return None,
                        Some(_) => i += 1,
                    }
                }
            }
            b'#' if bytes.get(i + 1).is_some_and(|c| *c == b'"' || *c == b'#') => {
                return None; // raw string
            }
            b'{' => depth += 1,
            b'}' => depth = depth.checked_sub(1)?,
            b';' if depth == 0 => plain = false,
            // A line continuation (`\` outside a string).
            b'\\' => return None,
            _ => {}
        }
        i += 1;
    }
    if depth != 0 || slashdash {
        return None;
    }
    if start < bytes.len() {
        match chunks.last_mut() {
            // Trailing blank lines or comments join the last node.
            Some(last) if first_token.is_none() => last.range.end = bytes.len(),
            _ => chunks.push(Chunk {
                range: start..bytes.len(),
                rule: plain && first_token.is_some_and(|t| is_rule_name(&bytes[t..])),
            }),
        }
    }
    Some(chunks)
}

/// `rule` followed by a separator: the unquoted node name `rule`.
fn is_rule_name(rest: &[u8]) -> bool {
    rest.starts_with(b"rule")
        && rest
            .get(4)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'"'))
}

/// Parses one chunk, with every span moved to its place in the whole text.
pub(super) fn parse(text: &str, chunk: &Chunk) -> Option<KdlDocument> {
    let mut doc = KdlDocument::parse_v2(&text[chunk.range.clone()]).ok()?;
    shift_document(&mut doc, chunk.range.start);
    Some(doc)
}

fn shift_document(doc: &mut KdlDocument, by: usize) {
    doc.set_span(moved(doc.span(), by));
    for node in doc.nodes_mut() {
        shift_node(node, by);
    }
}

fn shift_node(node: &mut KdlNode, by: usize) {
    node.set_span(moved(node.span(), by));
    shift_identifier(node.name_mut(), by);
    if let Some(ty) = node.ty_mut() {
        shift_identifier(ty, by);
    }
    for entry in node.entries_mut() {
        entry.set_span(moved(entry.span(), by));
        if let Some(name) = entry.name_mut() {
            shift_identifier(name, by);
        }
        if let Some(ty) = entry.ty_mut() {
            shift_identifier(ty, by);
        }
    }
    if let Some(children) = node.children_mut() {
        shift_document(children, by);
    }
}

fn shift_identifier(id: &mut KdlIdentifier, by: usize) {
    id.set_span(moved(id.span(), by));
}

fn moved(span: miette::SourceSpan, by: usize) -> miette::SourceSpan {
    (span.offset() + by, span.len()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::BuiltinRegistry;
    use crate::pipeline::{LoadOptions, SourceFile};

    const LIBRARY: &str = "cloesce version=1\nparam \"out\" default=\"gen\"\nrule \"lib\" {\n    outputs \"${out}/lib.txt\"\n    run \"x\"\n}\n";

    /// Everything loading `text` produces (rules with their spans, env,
    /// tools, errors), parsed in chunks or whole.
    fn load_with(text: &str, chunked: bool) -> String {
        let builtins = BuiltinRegistry::new();
        let library = [("lib", LIBRARY)];
        let options = LoadOptions {
            user: Some(SourceFile::new("cloesce.kdl", text)),
            library: &library,
            builtins: &builtins,
        };
        let mut loader = Loader::new(&options);
        loader.chunked = chunked;
        loader.document(SourceFile::new("cloesce.kdl", text), None);
        crate::pipeline::check::across_rules(&loader.sources, &loader.rules, &mut loader.errors);
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}",
            loader.rules,
            loader.env,
            loader.tools,
            loader.remote_cache,
            loader.errors,
            loader.sources.len()
        )
    }

    #[test]
    fn chunked_loading_equals_whole_loading() {
        let cases = [
            // Valid: params declared after use, env, tools, comments, slashdash.
            "cloesce version=1\n// c\nrule \"a\" {\n    inputs \"src/*.txt\"\n    outputs \"${dir}/a.out\"\n    run \"sh\" \"-c\" \"echo }\"\n}\n/- rule \"gone\" { run \"x\" }\nenv \"E\"\ntool \"node\"\nparam \"dir\" default=\"out\"\nuse \"lib\" { out \"o\" }\nrule \"b\" { inputs \"out/a.out\"; outputs \"b.out\"; deps \"a\"; run \"y\" }\n\n",
            // A syntax error inside a rule.
            "cloesce version=1\nrule \"a\" {\n    run \"x\" ]\n}\nrule \"b\" { run \"y\" }\n",
            // Errors of lowering, in several nodes.
            "cloesce version=1\nrule \"a\" { run }\nbogus 1\nrule \"a\" { run \"x\" \"${nope}\" }\ncloesce version=1\nrule \"c\" { outputs \"/abs\"; run \"x\" }\n",
            // The header is not first, or missing.
            "rule \"a\" { run \"x\" }\ncloesce version=1\n",
            "rule \"a\" { run \"x\" }\n",
            "",
            // Constructs the splitter leaves to the whole parse.
            "cloesce version=1\nrule \"a\" { run #\"raw\"# }\n",
            "cloesce version=1; rule \"a\" { run \"x\" }\nrule \"b\" { run \"y\" }",
            "cloesce version=1\r\nrule \"a\" {\r\n  run \"x\"\r\n}\r\n",
            "cloesce version=1\nremote-cache url=\"http://x\" team=\"t\"\nrule \"a\" { run \"x\" }\n",
        ];
        for text in cases {
            assert_eq!(load_with(text, true), load_with(text, false), "{text:?}");
        }
    }

    fn texts<'a>(text: &'a str, chunks: &[Chunk]) -> Vec<(&'a str, bool)> {
        chunks
            .iter()
            .map(|c| (&text[c.range.clone()], c.rule))
            .collect()
    }

    #[test]
    fn splits_between_top_level_nodes_only() {
        let text = "cloesce version=1\n// a rule\nrule \"a\" {\n    run \"x\" \"}\"\n}\n\n/* {\n */ env \"E\"\nrule \"b\" { run \"y\"; }\n";
        let chunks = split(text).unwrap();
        assert_eq!(
            texts(text, &chunks),
            vec![
                ("cloesce version=1\n", false),
                ("// a rule\nrule \"a\" {\n    run \"x\" \"}\"\n}\n", true),
                ("\n/* {\n */ env \"E\"\n", false),
                ("rule \"b\" { run \"y\"; }\n", true),
            ]
        );
        let joined: String = texts(text, &chunks).iter().map(|(t, _)| *t).collect();
        assert_eq!(joined, text, "chunks cover the text exactly");
    }

    #[test]
    fn a_slashdash_or_semicolon_keeps_nodes_together_and_not_a_rule() {
        let text = "/-\nrule \"a\" {}\nrule \"b\" {}; env \"E\"\n(t)rule \"c\" {}\n";
        let chunks = split(text).unwrap();
        assert_eq!(
            texts(text, &chunks),
            vec![
                ("/-\nrule \"a\" {}\n", false),
                ("rule \"b\" {}; env \"E\"\n", false),
                ("(t)rule \"c\" {}\n", false),
            ]
        );
    }

    #[test]
    fn gives_up_on_constructs_it_does_not_follow() {
        for text in [
            "a #\"raw\"#\n",
            "a \"\"\"\nmulti\n\"\"\"\n",
            "a \\\n  b\n",
            "a \"unterminated\n",
            "a {\n",
            "a /* open\n",
            "a\rb\n",
            "a\u{2028}b\n",
        ] {
            assert_eq!(split(text), None, "{text:?}");
        }
        // Escapes inside strings are fine.
        assert!(split("a \"q\\\"\" \"b\\\\\"\nb\n").is_some());
    }

    #[test]
    fn spans_point_into_the_whole_text() {
        let text = "cloesce version=1\nrule \"a\" { run \"x\"; }\n";
        let chunks = split(text).unwrap();
        let doc = parse(text, &chunks[1]).unwrap();
        let node = &doc.nodes()[0];
        let span = node.name().span();
        assert_eq!(&text[span.offset()..span.offset() + span.len()], "rule");
        let entry = &node.entries()[0];
        assert_eq!(
            &text[entry.span().offset()..entry.span().offset() + entry.span().len()].trim(),
            &"\"a\""
        );
        let child = &node.children().unwrap().nodes()[0];
        let span = child.entries()[0].span();
        assert_eq!(
            text[span.offset()..span.offset() + span.len()].trim(),
            "\"x\""
        );
    }
}
