//! `cloesce/extract`: model files (`*.cloesce.ts`) → the IR (`cidl.json`).
//!
//! Each file is decoded (UTF-8 only; a BOM is stripped and spans refer to the
//! text after it), parsed with oxc, and its decorated classes are read by
//! [`parse`]. All problems of all files are collected; when the files extract
//! cleanly the semantic checks of [`crate::validate`] run too, with their
//! problems pointed back into the model files through a side table of spans.
//! A file whose path and text are those of a clean file of the last
//! successful run is not parsed again: its classes and spans come from the
//! rule's memo (`memo.rs`).

mod memo;
mod parse;
pub mod types;

use std::collections::BTreeMap;

use cloesce_engine::builtin::{Builtin, BuiltinFailure, BuiltinOutput, BuiltinRequest};
use oxc_allocator::Allocator;
use oxc_span::{SourceType, Span};

use crate::diag::{self, RuleDiagnostic};
use crate::ir::{self, CloesceAst, Language, WranglerEnv};
use crate::validate::{self, Anchor};
use parse::{FileCtx, Found};

/// One decoded model file; its text is shared with every diagnostic.
struct SourceFile {
    path: String,
    source: diag::Source,
}

impl SourceFile {
    fn text(&self) -> &str {
        self.source.inner()
    }
}

/// Diagnostics plus the span side table, shared by the readers.
#[derive(Default)]
pub struct Collector {
    diags: Vec<RuleDiagnostic>,
    /// Where each anchor was declared.
    spans: Spans,
}

/// Where each anchor was declared: (file index, span), in the order the
/// readers found them. Only a project with problems looks anchors up, so they
/// are kept in a list and put in a map (a later entry for the same anchor
/// wins) only then.
#[derive(Default)]
struct Spans(Vec<(Anchor, (usize, Span))>);

impl Spans {
    fn insert(&mut self, anchor: Anchor, at: (usize, Span)) {
        self.0.push((anchor, at));
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// The entries inserted since the table had `len` of them.
    fn since(&self, len: usize) -> &[(Anchor, (usize, Span))] {
        &self.0[len..]
    }

    fn into_map(self) -> BTreeMap<Anchor, (usize, Span)> {
        let mut map = BTreeMap::new();
        for (anchor, at) in self.0 {
            map.insert(anchor, at);
        }
        map
    }
}

impl Collector {
    fn error(
        &mut self,
        f: &FileCtx<'_>,
        span: Span,
        code: &str,
        message: String,
        label: &str,
        help: impl Into<String>,
    ) {
        self.diags.push(
            RuleDiagnostic::new(&format!("cloesce::model::{code}"), message)
                .with_help(help)
                .with_span(f.source, span.start as usize, span.end as usize, label),
        );
    }
}

/// The deepest bracket nesting a model file may have (real models use a
/// handful of levels; this keeps parsing far from the stack's end, also in
/// WebAssembly's 1 MiB stack).
pub const MAX_NESTING: usize = 100;

/// The byte offset where `src` first nests `(`, `[`, `{` or a type's `<`
/// more than `limit` deep, skipping strings, template literals' text and
/// comments. A `<` counts only right after a name or `>` (a type argument,
/// not a comparison) and is dropped by the next closing bracket, so an
/// unclosed comparison cannot add up.
pub fn too_deep(src: &str, limit: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut prev = b' ';
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if b == b'`' && bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
                        // `${` opens an expression: count it as a brace.
                        break;
                    }
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'$' {
                    stack.push(b'{');
                    i += 2;
                    prev = b'{';
                    continue;
                }
            }
            b'(' | b'[' | b'{' => stack.push(b),
            b'<' if prev.is_ascii_alphanumeric() || prev == b'_' || prev == b'>' => {
                stack.push(b'<')
            }
            b'>' if stack.last() == Some(&b'<') => {
                stack.pop();
            }
            b')' | b']' | b'}' => {
                while stack.last() == Some(&b'<') {
                    stack.pop();
                }
                stack.pop();
            }
            _ => {}
        }
        if stack.len() > limit {
            return Some(i);
        }
        if !b.is_ascii_whitespace() {
            prev = b;
        }
        i += 1;
    }
    None
}

/// Decodes a model file: UTF-8 required, a leading BOM is dropped.
fn decode(path: &str, bytes: &[u8]) -> Result<String, RuleDiagnostic> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
            Err(RuleDiagnostic::new(
                "cloesce::model::not_utf8",
                format!("{path} is not valid UTF-8 (first bad byte at offset {at}, line {line})"),
            )
            .with_help("save the model file as UTF-8"))
        }
    }
}

/// The project name: `package.json`'s `name`, else "cloesce".
fn project_name(inputs: &[(String, &[u8])]) -> Result<String, RuleDiagnostic> {
    let Some((path, bytes)) = inputs.iter().find(|(p, _)| p == "package.json") else {
        return Ok("cloesce".to_string());
    };
    let value: serde_json::Value = std::str::from_utf8(bytes)
        .map_err(|e| e.to_string())
        .and_then(|t| {
            serde_json::from_str(t.trim_start_matches('\u{feff}')).map_err(|e| e.to_string())
        })
        .map_err(|e| {
            RuleDiagnostic::new(
                "cloesce::model::package_json",
                format!("{path} could not be read: {e}"),
            )
            .with_help("fix the JSON in package.json; its `name` becomes the project name")
        })?;
    Ok(value
        .get("name")
        .and_then(|n| n.as_str())
        .filter(|n| !n.is_empty())
        .unwrap_or("cloesce")
        .to_string())
}

/// The one problem of an extract run without model files: every other
/// complaint (no `@WranglerEnv`, say) would only follow from it. `models` is
/// the glob the files were looked for with, when the pipeline says.
fn no_models(models: Option<&str>) -> RuleDiagnostic {
    let looked = match models {
        Some(glob) => format!("nothing matches {glob}"),
        None => "nothing matches this rule's inputs".to_string(),
    };
    RuleDiagnostic::new(
        "cloesce::model::no_models",
        format!("cloesce found no model files: {looked}"),
    )
    .with_help(
        "create a model file, e.g. src/dog.cloesce.ts (node_modules/cloesce/docs/guide.md has a complete one), then build again; model files end in .cloesce.ts and folders that .gitignore ignores are not searched",
    )
}

/// Reads one decoded model file's classes; its problems go to `c`. `None`
/// when the file does not parse, so what it declares is unknown.
fn read_file(f: &FileCtx<'_>, c: &mut Collector) -> Option<Vec<Found>> {
    // The parser and the walk below recurse once per nesting level: a
    // hostile file nested thousands deep would overflow the stack.
    if let Some(at) = too_deep(f.src, MAX_NESTING) {
        c.error(
            f,
            Span::new(at as u32, at as u32 + 1),
            "too_deep",
            format!(
                "{} nests brackets more than {MAX_NESTING} levels deep",
                f.path
            ),
            "nested too deep here",
            "a model file needs only a few levels; split the type or expression into named parts",
        );
        return None;
    }
    let allocator = Allocator::default();
    let ret = oxc_parser::Parser::new(&allocator, f.src, SourceType::ts()).parse();
    if !ret.diagnostics.is_empty() || ret.panicked {
        for d in ret.diagnostics.iter() {
            let label = d.labels.first();
            let span = label
                .map(|l| Span::new(l.offset(), l.offset() + l.len()))
                .unwrap_or(Span::new(0, 0));
            // The parser's own words: what it expected, where it says.
            let diagnostic = RuleDiagnostic::new(
                "cloesce::model::parse_error",
                format!("{}: {}", f.path, d.message),
            );
            let found = f
                .src
                .get(span.start as usize..span.end as usize)
                .filter(|t| !t.trim().is_empty())
                .map(|t| format!("`{t}` is not expected here"));
            let label = label
                .and_then(|l| l.label().map(str::to_string))
                .or(found)
                .unwrap_or_else(|| "here".to_string());
            let mut diagnostic =
                diagnostic.with_span(f.source, span.start as usize, span.end as usize, &label);
            if let Some(help) = &d.help {
                diagnostic = diagnostic.with_help(help.to_string());
            }
            c.diags.push(diagnostic);
        }
        return None;
    }
    Some(parse::classes(&ret.program, f, c))
}

/// Extracts the IR from the model files; `inputs` are (workspace path, bytes).
pub fn extract(inputs: &[(String, &[u8])]) -> Result<CloesceAst, Vec<RuleDiagnostic>> {
    extract_memo(inputs, None).map(|(ast, _)| ast)
}

/// [`extract`], reusing what `memo` (from an earlier successful run) holds
/// for model files whose path and text are unchanged. Also returns the memo
/// for the next run: the clean files of this one. The IR and the
/// diagnostics are the same whatever `memo` holds.
pub fn extract_memo(
    inputs: &[(String, &[u8])],
    memo: Option<&[u8]>,
) -> Result<(CloesceAst, Vec<u8>), Vec<RuleDiagnostic>> {
    let mut c = Collector::default();
    let project_name = match project_name(inputs) {
        Ok(n) => n,
        Err(d) => {
            c.diags.push(d);
            String::new()
        }
    };
    let mut files = Vec::new();
    for (path, bytes) in inputs {
        if is_package_json(path) {
            continue;
        }
        match decode(path, bytes) {
            Ok(text) => files.push(SourceFile {
                path: path.clone(),
                source: diag::source(path, text),
            }),
            Err(d) => c.diags.push(d),
        }
    }

    let mut models: BTreeMap<String, (usize, ir::Model)> = BTreeMap::new();
    let mut envs: Vec<(usize, WranglerEnv, Span)> = Vec::new();
    // A model file had a syntax error (what it declares is unknown).
    let mut unparsed = false;
    let mut previous = memo::Files::decode(memo);
    let mut kept = memo::Files::default();
    for (idx, file) in files.iter().enumerate() {
        let f = FileCtx {
            idx,
            path: &file.path,
            src: file.text(),
            source: &file.source,
        };
        let key = memo::key(&file.path, file.text());
        let found = match previous.take(&key) {
            Some((record, raw)) => {
                kept.keep(key, raw);
                record.replay(idx, &mut c.spans)
            }
            None => {
                let (diags, spans) = (c.diags.len(), c.spans.len());
                match read_file(&f, &mut c) {
                    Some(found) => {
                        if c.diags.len() == diags {
                            kept.keep(key, memo::FileRecord::encode(&found, c.spans.since(spans)));
                        }
                        found
                    }
                    None => {
                        unparsed = true;
                        Vec::new()
                    }
                }
            }
        };
        for found in found {
            match found {
                Found::Env(env, span) => envs.push((idx, env, span)),
                Found::Model(model, span) => {
                    if let Some((first, _)) = models.get(&model.name) {
                        let first_path = &files[*first].path;
                        c.error(&f, span, "duplicate_model",
                            format!("Duplicate model name '{}' ({}, {})", model.name, first_path, file.path),
                            "declared again here",
                            format!("rename one of the two `{}` classes; model names are global across all model files", model.name));
                    } else {
                        models.insert(model.name.clone(), (idx, model));
                    }
                }
            }
        }
    }

    let env = match envs.len() {
        // The environment may be in the file that did not parse.
        0 if unparsed => None,
        0 => {
            c.diags.push(
                RuleDiagnostic::new("cloesce::model::missing_env", "Missing wrangler environment: no class is decorated with @WranglerEnv")
                    .with_help("add exactly one `@WranglerEnv export class Env { db: D1Database; }` to a model file"),
            );
            None
        }
        _ => {
            let first_path = files[envs[0].0].path.clone();
            for (idx, env, span) in envs.iter().skip(1) {
                let file = &files[*idx];
                let f = FileCtx {
                    idx: *idx,
                    path: &file.path,
                    src: file.text(),
                    source: &file.source,
                };
                c.error(
                    &f,
                    *span,
                    "too_many_envs",
                    format!(
                        "Too many wrangler environments: {} here and {} in {}",
                        env.name, envs[0].1.name, first_path
                    ),
                    "second @WranglerEnv",
                    "keep exactly one @WranglerEnv class across all model files",
                );
            }
            Some(envs[0].1.clone())
        }
    };

    if !c.diags.is_empty() {
        return Err(c.diags);
    }
    let Some(wrangler_env) = env else {
        return Err(c.diags);
    };
    let ast = CloesceAst {
        version: ir::IR_VERSION.to_string(),
        project_name,
        language: Language::TypeScript,
        wrangler_env,
        models: models.into_iter().map(|(k, (_, m))| (k, m)).collect(),
    };
    let problems = validate::check(&ast);
    if problems.is_empty() {
        return Ok((ast, kept.encode()));
    }
    let spans = std::mem::take(&mut c.spans).into_map();
    for p in problems {
        let at = spans.get(&p.anchor).or_else(|| {
            p.anchor
                .model()
                .and_then(|m| spans.get(&Anchor::Model(m.to_string())))
        });
        let d = RuleDiagnostic::new(&format!("cloesce::model::{}", p.code), p.message.clone())
            .with_help(p.help.clone());
        let d = match at {
            Some((idx, span)) => {
                let file = &files[*idx];
                d.with_span(
                    &file.source,
                    span.start as usize,
                    span.end as usize,
                    p.label.clone(),
                )
            }
            None => d,
        };
        c.diags.push(d);
    }
    Err(c.diags)
}

/// True for the `package.json` input (the project's name), not a model.
fn is_package_json(path: &str) -> bool {
    path == "package.json" || path.ends_with("/package.json")
}

/// `cloesce/extract`.
pub struct Extract;

impl Builtin for Extract {
    fn name(&self) -> &'static str {
        "cloesce/extract"
    }
    fn version(&self) -> u32 {
        2
    }
    fn description(&self) -> &'static str {
        "parse the *.cloesce.ts model files into the Cloesce IR (cidl.json)"
    }
    fn settings(&self) -> &'static [&'static str] {
        // The model glob, only to name it when nothing matches.
        &["models"]
    }
    fn run(&self, request: &BuiltinRequest<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        self.run_memo(request, None).map(|(output, _)| output)
    }
    fn run_memo(
        &self,
        request: &BuiltinRequest<'_>,
        memo: Option<&[u8]>,
    ) -> Result<(BuiltinOutput, Option<Vec<u8>>), BuiltinFailure> {
        let inputs: Vec<(String, &[u8])> = request
            .inputs
            .iter()
            .map(|(p, b)| (p.as_str().to_string(), b.as_slice()))
            .collect();
        if inputs.iter().all(|(path, _)| is_package_json(path)) {
            let models = request.settings.get("models").map(String::as_str);
            return Err(diag::failure(vec![no_models(models)]));
        }
        let (ast, memo) = extract_memo(&inputs, memo).map_err(diag::failure)?;
        let out = crate::single_output(request)?;
        let json = ir::to_json(&ast);
        // `extract` ran the checks: the rules reading this file next need not
        // parse it again.
        crate::loaded::remember(&json, ast);
        let output = BuiltinOutput {
            files: vec![(out, json)],
            log: String::new(),
        };
        Ok((output, Some(memo)))
    }
}
