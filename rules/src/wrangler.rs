//! `cloesce/wrangler`: the user's wrangler config, completed with what a
//! Cloesce Worker needs, written under `.generated/` (MODEL-LANGUAGE §4.3, R).
//!
//! * Input: zero or one of `wrangler.toml`, `wrangler.json`, `wrangler.jsonc`.
//! * Output format: the declared output's extension (`.toml`, `.json`,
//!   `.jsonc`). TOML→TOML is edited with toml_edit and JSON(C)→JSON(C) with
//!   [`crate::jsonc`], so every key, comment and layout survives. Other pairs
//!   are converted (comments are lost; the log says so).
//! * Only missing keys are added: `name`, `main`, `compatibility_date`, a D1
//!   database when there is none, and each D1 entry's missing `binding`,
//!   `database_name`, `database_id`, `migrations_dir`.
//! * The generated config does not sit where the user's did, so the
//!   path-valued keys the user wrote (`main`, `base_dir`, `tsconfig`,
//!   `assets.directory`, `site.bucket`, `build.cwd`, `build.watch_dir`, each D1
//!   `migrations_dir`) are rewritten relative to the output's folder. Values
//!   cloesce adds are already relative to the output folder: the `migrations`
//!   setting names a project folder (`migrations`) and becomes
//!   `../migrations` beside `.generated/wrangler.toml`, because wrangler
//!   resolves `migrations_dir` from the config's folder.
//! * With `tsconfig="tsconfig.json"` (the default pipeline sets it, and
//!   declares the file as an input), the log warns when that tsconfig is
//!   missing or does not enable the decorators the models use, unless the
//!   user's config names a `tsconfig` of its own ([`crate::tsconfig`]).

use cloesce_engine::builtin::{Builtin, BuiltinFailure, BuiltinOutput, BuiltinRequest};
use serde_json::{json, Value};
use toml_edit::{DocumentMut, Item};

use crate::convert::{self, Tree};
use crate::diag::{self, RuleDiagnostic};
use crate::jsonc;
use crate::paths;
use crate::tsconfig;

/// The compatibility date added when the user has none.
pub const COMPATIBILITY_DATE: &str = "2025-10-02";

/// One step into a config: an object key or an array index.
#[derive(Clone, Copy)]
enum Seg<'k> {
    Key(&'k str),
    Index(usize),
}

/// A config document that can be read and edited in place.
trait Config {
    fn get(&self, path: &[Seg<'_>]) -> Option<Value>;
    fn replace_str(&mut self, path: &[Seg<'_>], s: &str);
    /// Adds `key` to the object at `parent` (`[]` is the root).
    fn insert(&mut self, parent: &[Seg<'_>], key: &str, value: Value);
    /// Appends an empty object to the root array `key`, creating it when missing.
    fn push_empty(&mut self, key: &str);
    fn render(&self) -> String;
}

struct Toml(DocumentMut);

fn toml_to_json(item: &Item) -> Option<Value> {
    match item {
        Item::None => None,
        Item::Value(v) => Some(toml_value_to_json(v)),
        Item::Table(t) => Some(Value::Object(
            t.iter()
                .filter_map(|(k, v)| toml_to_json(v).map(|v| (k.to_string(), v)))
                .collect(),
        )),
        Item::ArrayOfTables(a) => Some(Value::Array(
            a.iter()
                .map(|t| {
                    Value::Object(
                        t.iter()
                            .filter_map(|(k, v)| toml_to_json(v).map(|v| (k.to_string(), v)))
                            .collect(),
                    )
                })
                .collect(),
        )),
    }
}

fn toml_value_to_json(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as V;
    match v {
        V::String(s) => Value::String(s.value().clone()),
        V::Integer(i) => json!(*i.value()),
        V::Float(f) => serde_json::Number::from_f64(*f.value())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        V::Boolean(b) => Value::Bool(*b.value()),
        V::Datetime(d) => Value::String(d.value().to_string()),
        V::Array(a) => Value::Array(a.iter().map(toml_value_to_json).collect()),
        V::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), toml_value_to_json(v)))
                .collect(),
        ),
    }
}

fn json_to_toml_value(v: &Value) -> Option<toml_edit::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(0.0).into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            let mut arr = toml_edit::Array::new();
            for i in items.iter().filter_map(json_to_toml_value) {
                arr.push(i);
            }
            toml_edit::Value::Array(arr)
        }
        Value::Object(map) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in map {
                if let Some(v) = json_to_toml_value(v) {
                    t.insert(k, v);
                }
            }
            toml_edit::Value::InlineTable(t)
        }
    })
}

impl Toml {
    fn item(&self, path: &[Seg<'_>]) -> Option<&Item> {
        let mut item = self.0.as_item();
        for seg in path {
            item = match seg {
                Seg::Key(k) => item.get(*k)?,
                Seg::Index(i) => item.get(*i)?,
            };
        }
        Some(item)
    }
    fn item_mut(&mut self, path: &[Seg<'_>]) -> Option<&mut Item> {
        let mut item = self.0.as_item_mut();
        for seg in path {
            item = match seg {
                Seg::Key(k) => item.get_mut(*k)?,
                Seg::Index(i) => item.get_mut(*i)?,
            };
        }
        Some(item)
    }
}

impl Config for Toml {
    fn get(&self, path: &[Seg<'_>]) -> Option<Value> {
        self.item(path).and_then(toml_to_json)
    }
    fn replace_str(&mut self, path: &[Seg<'_>], s: &str) {
        if let Some(v) = self.item_mut(path).and_then(Item::as_value_mut) {
            let decor = v.decor().clone();
            *v = s.into();
            *v.decor_mut() = decor;
        }
    }
    fn insert(&mut self, parent: &[Seg<'_>], key: &str, value: Value) {
        let Some(item) = self.item_mut(parent) else {
            return;
        };
        if let Some(t) = item.as_table_mut() {
            if let Some(v) = json_to_toml_value(&value) {
                t.insert(key, Item::Value(v));
            }
        } else if let Some(t) = item.as_inline_table_mut() {
            if let Some(v) = json_to_toml_value(&value) {
                t.insert(key, v);
            }
        }
    }
    fn push_empty(&mut self, key: &str) {
        let root = self.0.as_table_mut();
        match root.get_mut(key) {
            Some(Item::ArrayOfTables(a)) => a.push(toml_edit::Table::new()),
            Some(Item::Value(toml_edit::Value::Array(a))) => a.push(toml_edit::InlineTable::new()),
            _ => {
                let mut a = toml_edit::ArrayOfTables::new();
                a.push(toml_edit::Table::new());
                root.insert(key, Item::ArrayOfTables(a));
            }
        }
    }
    fn render(&self) -> String {
        let mut doc = self.0.clone();
        separate_first_table(&mut doc);
        let mut s = doc.to_string();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s
    }
}

/// When keys were added above a document that began with a table, puts a
/// blank line between them and that first table.
fn separate_first_table(doc: &mut DocumentMut) {
    let root = doc.as_table_mut();
    if !root.iter().any(|(_, item)| item.is_value()) {
        return;
    }
    let mut first: Option<&mut toml_edit::Table> = None;
    for (_, item) in root.iter_mut() {
        let tables: Vec<&mut toml_edit::Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(a) => a.iter_mut().collect(),
            _ => Vec::new(),
        };
        for t in tables {
            let better = match (&first, t.position()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(f), Some(p)) => f.position().is_some_and(|fp| p < fp),
            };
            if better {
                first = Some(t);
            }
        }
    }
    if let Some(t) = first {
        let empty = t
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .is_none_or(|p| p.is_empty());
        if empty {
            t.decor_mut().set_prefix("\n");
        }
    }
}

struct Jsonc(String);

impl Jsonc {
    fn node(&self, path: &[Seg<'_>]) -> Option<jsonc::Node> {
        let mut node = jsonc::parse(&self.0).ok()?;
        for seg in path {
            node = match (seg, node) {
                (Seg::Key(k), n) => n.get(k)?.clone(),
                (Seg::Index(i), jsonc::Node::Array { items, .. }) => items.get(*i)?.clone(),
                _ => return None,
            };
        }
        Some(node)
    }
}

impl Config for Jsonc {
    fn get(&self, path: &[Seg<'_>]) -> Option<Value> {
        self.node(path).map(|n| jsonc::to_value(&n))
    }
    fn replace_str(&mut self, path: &[Seg<'_>], s: &str) {
        if let Some(n) = self.node(path) {
            self.0 = jsonc::replace(&self.0, &n, &Value::String(s.to_string()));
        }
    }
    fn insert(&mut self, parent: &[Seg<'_>], key: &str, value: Value) {
        if let Some(n) = self.node(parent) {
            self.0 = jsonc::insert_member(&self.0, &n, key, &value);
        }
    }
    fn push_empty(&mut self, key: &str) {
        let empty = Value::Object(serde_json::Map::new());
        match self.node(&[Seg::Key(key)]) {
            Some(arr @ jsonc::Node::Array { .. }) => {
                self.0 = jsonc::push_item(&self.0, &arr, &empty)
            }
            _ => self.insert(&[], key, Value::Array(vec![empty])),
        }
    }
    fn render(&self) -> String {
        let mut s = self.0.clone();
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Toml,
    Json,
}

fn format_of(path: &str) -> Option<Format> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".toml") {
        Some(Format::Toml)
    } else if lower.ends_with(".json") || lower.ends_with(".jsonc") {
        Some(Format::Json)
    } else {
        None
    }
}

/// What the merge needs to know besides the document.
pub struct Options<'a> {
    /// The `main` to add when absent (relative to the output's folder).
    pub main: &'a str,
    /// The `migrations_dir` to add to D1 entries (relative to the output's folder).
    pub migrations_dir: &'a str,
    /// The project tsconfig to check, and its text (None when it is absent);
    /// `None` checks nothing.
    pub tsconfig: Option<Option<&'a str>>,
    /// The user's config path (None when there is none).
    pub input_path: Option<&'a str>,
    /// The generated config path.
    pub output_path: &'a str,
}

/// Rewrites a path the user wrote relative to their config so that it works
/// from the generated config's folder.
fn rebase(value: &str, prefix: &str) -> String {
    if value.is_empty()
        || cloesce_engine::path::is_absolute(value)
        || value.contains("://")
        || prefix == "."
    {
        return value.to_string();
    }
    let v = value.trim_start_matches("./");
    format!("{prefix}/{v}")
}

const PATH_KEYS: &[&[&str]] = &[
    &["main"],
    &["base_dir"],
    &["tsconfig"],
    &["assets", "directory"],
    &["site", "bucket"],
    &["build", "cwd"],
    &["build", "watch_dir"],
];

/// Adds `{ binding = "db", database_name = "default", database_id =
/// "replace_with_db_id", migrations_dir }` as the first D1 entry.
fn add_default_d1(doc: &mut dyn Config, opts: &Options<'_>) {
    doc.push_empty("d1_databases");
    let at = [Seg::Key("d1_databases"), Seg::Index(0)];
    for (k, v) in [
        ("binding", "db"),
        ("database_name", "default"),
        ("database_id", "replace_with_db_id"),
        ("migrations_dir", opts.migrations_dir),
    ] {
        doc.insert(&at, k, Value::String(v.to_string()));
    }
}

fn merge(doc: &mut dyn Config, opts: &Options<'_>, log: &mut String) -> Result<(), String> {
    match doc.get(&[]) {
        Some(Value::Object(_)) => {}
        _ => return Err("the top level must be a table/object".to_string()),
    }
    let input_dir = opts.input_path.and_then(paths::parent);
    let out_dir = paths::parent(opts.output_path);
    let prefix = paths::relative_dir(out_dir, input_dir);
    for key in PATH_KEYS {
        let path: Vec<Seg<'_>> = key.iter().map(|k| Seg::Key(k)).collect();
        if let Some(Value::String(s)) = doc.get(&path) {
            let new = rebase(&s, &prefix);
            if new != s {
                doc.replace_str(&path, &new);
            }
        }
    }
    for (key, default) in [
        ("name", "cloesce"),
        ("main", opts.main),
        ("compatibility_date", COMPATIBILITY_DATE),
    ] {
        if doc.get(&[Seg::Key(key)]).is_none() {
            doc.insert(&[], key, Value::String(default.to_string()));
        }
    }
    let warn_id = |log: &mut String, binding: &str| {
        log.push_str(&format!(
            "warning: the D1 database `{binding}` has database_id = \"replace_with_db_id\": create one with \
             `npx wrangler d1 create <name>` and put its id in your wrangler config (local dev works as is)\n"
        ));
    };
    match doc.get(&[Seg::Key("d1_databases")]) {
        None => {
            add_default_d1(doc, opts);
            warn_id(log, "db");
        }
        Some(Value::Array(items)) if items.is_empty() => {
            add_default_d1(doc, opts);
            warn_id(log, "db");
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Value::Object(entry) = item else {
                    return Err(format!("d1_databases[{i}] must be a table/object"));
                };
                let suffix = if i == 0 {
                    String::new()
                } else {
                    format!("_{i}")
                };
                let at = [Seg::Key("d1_databases"), Seg::Index(i)];
                let binding = match entry.get("binding").and_then(Value::as_str) {
                    Some(b) => b.to_string(),
                    None => {
                        let b = format!("db{suffix}");
                        doc.insert(&at, "binding", Value::String(b.clone()));
                        b
                    }
                };
                if !entry.contains_key("database_name") {
                    doc.insert(
                        &at,
                        "database_name",
                        Value::String(format!("default{suffix}")),
                    );
                }
                if !entry.contains_key("database_id") {
                    doc.insert(
                        &at,
                        "database_id",
                        Value::String("replace_with_db_id".into()),
                    );
                }
                if entry
                    .get("database_id")
                    .and_then(Value::as_str)
                    .is_none_or(|id| id == "replace_with_db_id")
                {
                    warn_id(log, &binding);
                }
                match entry.get("migrations_dir") {
                    None => doc.insert(
                        &at,
                        "migrations_dir",
                        Value::String(opts.migrations_dir.to_string()),
                    ),
                    Some(Value::String(s)) => {
                        let new = rebase(s, &prefix);
                        if &new != s {
                            let path = [
                                Seg::Key("d1_databases"),
                                Seg::Index(i),
                                Seg::Key("migrations_dir"),
                            ];
                            doc.replace_str(&path, &new);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        Some(_) => return Err("d1_databases must be an array of tables/objects".to_string()),
    }
    Ok(())
}

/// Merges `input` (path and text, or none) into the config written at
/// `opts.output_path`. Returns the text and the log.
pub fn generate(
    input: Option<(&str, &str)>,
    opts: &Options<'_>,
) -> Result<(String, String), RuleDiagnostic> {
    let out_format = format_of(opts.output_path).ok_or_else(|| {
        RuleDiagnostic::new(
            "cloesce::wrangler::output_format",
            format!("cannot tell the config format of `{}`", opts.output_path),
        )
        .with_help("name the wrangler output `….toml`, `….json` or `….jsonc`")
    })?;
    let mut log = String::new();
    let bad = |path: &str, text: &str, offset: usize, msg: String| {
        RuleDiagnostic::new(
            "cloesce::wrangler::parse",
            format!("{path} could not be parsed: {msg}"),
        )
        .with_help("fix the syntax error in your wrangler config")
        .with_span(&diag::source(path, text), offset, offset, "here")
    };
    let (in_format, text) = match input {
        Some((path, text)) => (format_of(path).unwrap_or(Format::Toml), text),
        None => (out_format, ""),
    };
    let mut doc: Box<dyn Config> = match (in_format, out_format) {
        (Format::Toml, Format::Toml) => {
            Box::new(Toml(text.parse::<DocumentMut>().map_err(|e| {
                bad(
                    input.map(|i| i.0).unwrap_or(""),
                    text,
                    e.span().map(|s| s.start).unwrap_or(0),
                    e.message().to_string(),
                )
            })?))
        }
        (Format::Json, Format::Json) => {
            let text = if text.trim().is_empty() { "{}" } else { text };
            jsonc::parse(text).map_err(|e| {
                bad(
                    input.map(|i| i.0).unwrap_or(""),
                    text,
                    e.offset,
                    e.message.clone(),
                )
            })?;
            Box::new(Jsonc(text.to_string()))
        }
        (Format::Toml, Format::Json) => {
            let parsed = text.parse::<DocumentMut>().map_err(|e| {
                bad(
                    input.map(|i| i.0).unwrap_or(""),
                    text,
                    e.span().map(|s| s.start).unwrap_or(0),
                    e.message().to_string(),
                )
            })?;
            let tree = Tree::from_toml(parsed.as_item()).unwrap_or(Tree::Object(Vec::new()));
            log.push_str("note: converted the TOML wrangler config to JSON; comments and formatting were not kept\n");
            Box::new(Jsonc(tree.to_json("\t", "")))
        }
        (Format::Json, Format::Toml) => {
            let src = if text.trim().is_empty() { "{}" } else { text };
            let node = jsonc::parse(src).map_err(|e| {
                bad(
                    input.map(|i| i.0).unwrap_or(""),
                    src,
                    e.offset,
                    e.message.clone(),
                )
            })?;
            let d = convert::toml_document(&Tree::from_jsonc(&node));
            log.push_str("note: converted the JSON wrangler config to TOML; comments and formatting were not kept\n");
            Box::new(Toml(d))
        }
    };
    merge(doc.as_mut(), opts, &mut log).map_err(|msg| {
        RuleDiagnostic::new(
            "cloesce::wrangler::shape",
            format!("{}: {msg}", input.map(|i| i.0).unwrap_or("wrangler config")),
        )
        .with_help("see https://developers.cloudflare.com/workers/wrangler/configuration/")
    })?;
    if let Some(project_tsconfig) = opts.tsconfig {
        let own = doc.get(&[Seg::Key("tsconfig")]).is_some();
        if let Some(problem) = tsconfig::decorators_problem(project_tsconfig).filter(|_| !own) {
            log.push_str(&problem.warning());
        }
    }
    Ok((doc.render(), log))
}

/// `cloesce/wrangler`.
pub struct Wrangler;

impl Builtin for Wrangler {
    fn name(&self) -> &'static str {
        "cloesce/wrangler"
    }
    fn version(&self) -> u32 {
        2
    }
    fn description(&self) -> &'static str {
        "merge the user's wrangler config with the D1 binding and entry point"
    }
    fn settings(&self) -> &'static [&'static str] {
        &["main", "migrations", "migrations_dir", "tsconfig"]
    }
    fn run(&self, request: &BuiltinRequest<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let out = crate::single_output(request)?;
        let tsconfig_path = request.settings.get("tsconfig").map(String::as_str);
        let (project_tsconfig, configs): (Vec<_>, Vec<_>) = request
            .inputs
            .iter()
            .partition(|(p, _)| Some(p.as_str()) == tsconfig_path);
        if configs.len() > 1 {
            let names: Vec<&str> = configs.iter().map(|(p, _)| p.as_str()).collect();
            return Err(diag::fail(
                RuleDiagnostic::new(
                    "cloesce::wrangler::several_configs",
                    format!("found more than one wrangler config: {}", names.join(", ")),
                )
                .with_help("keep exactly one of wrangler.toml, wrangler.json, wrangler.jsonc"),
            ));
        }
        let input = match configs.first() {
            Some((path, bytes)) => {
                let text = std::str::from_utf8(bytes).map_err(|_| {
                    diag::fail(
                        RuleDiagnostic::new(
                            "cloesce::wrangler::not_utf8",
                            format!("{path} is not valid UTF-8"),
                        )
                        .with_help("save the wrangler config as UTF-8"),
                    )
                })?;
                Some((
                    path.as_str(),
                    text.strip_prefix('\u{feff}')
                        .unwrap_or(text)
                        .replace("\r\n", "\n"),
                ))
            }
            None => None,
        };
        let input = input.as_ref().map(|(p, t)| (*p, t.as_str()));
        let tsconfig_text = tsconfig_path.map(|_| {
            project_tsconfig
                .first()
                .map(|(_, bytes)| String::from_utf8_lossy(bytes))
        });
        // `migrations` is a project folder; `migrations_dir` (older
        // pipelines) is already relative to the generated config's folder.
        let migrations_dir = match request.settings.get("migrations") {
            Some(dir) => crate::paths::relative_dir(crate::paths::parent(out.as_str()), Some(dir)),
            None => request
                .settings
                .get("migrations_dir")
                .cloned()
                .unwrap_or_else(|| "migrations".to_string()),
        };
        let opts = Options {
            main: request
                .settings
                .get("main")
                .map(String::as_str)
                .unwrap_or("workers.ts"),
            migrations_dir: &migrations_dir,
            tsconfig: tsconfig_text.as_ref().map(|text| text.as_deref()),
            input_path: input.map(|i| i.0),
            output_path: out.as_str(),
        };
        let (text, log) = generate(input, &opts).map_err(diag::fail)?;
        Ok(BuiltinOutput {
            files: vec![(out, text.into_bytes())],
            log,
        })
    }
}
