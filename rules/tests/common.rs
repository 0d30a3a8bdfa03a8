//! Helpers shared by the integration tests: fixtures, running built-ins,
//! rendering diagnostics.

use std::collections::BTreeMap;
use std::path::Path;

use cloesce_engine::builtin::{Builtin, BuiltinFailure, BuiltinOutput, BuiltinRequest};
use cloesce_engine::path::WorkspacePath;

/// Every file under `tests/fixtures/<name>`, as (workspace path, bytes), sorted.
pub fn fixture(name: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(&path).unwrap()));
        }
    }
}

/// Runs the built-in `name` on `inputs`.
pub fn run(
    name: &str,
    inputs: &[(String, Vec<u8>)],
    outputs: &[&str],
    settings: &[(&str, &str)],
) -> Result<BuiltinOutput, BuiltinFailure> {
    with_request(name, inputs, outputs, settings, |b, r| b.run(r))
}

/// Runs the built-in `name` on `inputs` given `memo` (a build hands it the
/// memo of the rule's last successful run); returns its output and the memo
/// it keeps.
pub fn run_memo(
    name: &str,
    inputs: &[(String, Vec<u8>)],
    outputs: &[&str],
    settings: &[(&str, &str)],
    memo: Option<&[u8]>,
) -> Result<(BuiltinOutput, Option<Vec<u8>>), BuiltinFailure> {
    with_request(name, inputs, outputs, settings, |b, r| b.run_memo(r, memo))
}

/// Calls `f` with the built-in `name` and a request for `inputs`.
fn with_request<R>(
    name: &str,
    inputs: &[(String, Vec<u8>)],
    outputs: &[&str],
    settings: &[(&str, &str)],
    f: impl FnOnce(&dyn Builtin, &BuiltinRequest<'_>) -> R,
) -> R {
    let registry = cloesce_rules::registry();
    let builtin = registry
        .get(name)
        .unwrap_or_else(|| panic!("no built-in {name}"));
    let mut inputs: Vec<(WorkspacePath, Vec<u8>)> = inputs
        .iter()
        .map(|(p, b)| (WorkspacePath::new(p).unwrap(), b.clone()))
        .collect();
    inputs.sort_by(|a, b| a.0.cmp(&b.0));
    let outputs: Vec<WorkspacePath> = outputs
        .iter()
        .map(|p| WorkspacePath::new(p).unwrap())
        .collect();
    let settings: BTreeMap<String, String> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    f(
        builtin,
        &BuiltinRequest {
            rule: name,
            inputs: &inputs,
            outputs: &outputs,
            settings: &settings,
        },
    )
}

/// Renders every diagnostic with miette's narratable handler.
pub fn render(failure: &BuiltinFailure) -> String {
    let handler = miette::NarratableReportHandler::new();
    let mut out = String::new();
    for report in &failure.diagnostics {
        handler.render_report(&mut out, report.as_ref()).unwrap();
        out.push_str("---\n");
    }
    out
}

/// The model files (and package.json) of a fixture.
pub fn model_inputs(name: &str) -> Vec<(String, Vec<u8>)> {
    fixture(name)
        .into_iter()
        .filter(|(p, _)| p.ends_with(".cloesce.ts") || p == "package.json")
        .collect()
}

/// Runs the whole default pipeline on a fixture (wrangler config from the
/// fixture if it has one) and returns every generated file as text.
pub fn build(name: &str) -> BTreeMap<String, String> {
    let files = fixture(name);
    let mut out = BTreeMap::new();
    let extract = run(
        "cloesce/extract",
        &model_inputs(name),
        &[".generated/cidl.json"],
        &[],
    )
    .unwrap_or_else(|f| panic!("extract failed:\n{}", render(&f)));
    let cidl = extract.files[0].1.clone();
    let ir = vec![(".generated/cidl.json".to_string(), cidl.clone())];
    out.insert(
        ".generated/cidl.json".to_string(),
        String::from_utf8(cidl).unwrap(),
    );
    run("cloesce/validate", &ir, &[], &[])
        .unwrap_or_else(|f| panic!("validate failed:\n{}", render(&f)));
    let d1 = run("cloesce/d1", &ir, &[".generated/schema.sql"], &[])
        .unwrap_or_else(|f| panic!("d1 failed:\n{}", render(&f)));
    let configs: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|(p, _)| p.starts_with("wrangler."))
        .cloned()
        .collect();
    let wrangler = run(
        "cloesce/wrangler",
        &configs,
        &[".generated/wrangler.toml"],
        &[("main", "workers.ts"), ("migrations", "migrations")],
    )
    .unwrap_or_else(|f| panic!("wrangler failed:\n{}", render(&f)));
    let (wpath, wbytes) = wrangler.files[0].clone();
    out.insert(
        wpath.to_string(),
        String::from_utf8(wbytes.clone()).unwrap(),
    );
    let mut workers_in = ir.clone();
    workers_in.push((wpath.to_string(), wbytes));
    let workers = run(
        "cloesce/workers",
        &workers_in,
        &[".generated/workers.ts"],
        &[("api_route", "/api")],
    )
    .unwrap_or_else(|f| panic!("workers failed:\n{}", render(&f)));
    let client = run(
        "cloesce/client",
        &ir,
        &[".generated/client.ts"],
        &[("domain", "http://localhost:8787/api")],
    )
    .unwrap_or_else(|f| panic!("client failed:\n{}", render(&f)));
    for o in [d1, workers, client] {
        for (p, b) in o.files {
            out.insert(p.to_string(), String::from_utf8(b).unwrap());
        }
    }
    let migrations = migrations(out[".generated/cidl.json"].as_bytes());
    out.extend(migrations);
    out
}

/// The `cloesce.kdl` attacks of issue #12 and their kin, each with (part
/// of) the diagnostic it must get: chained `/-`, `/*` nested thousands deep
/// (closed or not), long `/* */` comments, and blocks mixed with `/-`.
pub fn kdl_attacks() -> Vec<(String, &'static str)> {
    let head = "cloesce version=1\n";
    vec![
        (
            format!("{head}{}x\n", "/- ".repeat(2_100)),
            "more than 32 `/-` follow one another",
        ),
        (
            format!("{head}x {}y\n", "/- ".repeat(2_100)),
            "more than 32 `/-` follow one another",
        ),
        (
            format!("{head}x {{ {}y }}\n", "/-\n".repeat(50)),
            "more than 32 `/-` follow one another",
        ),
        (
            format!("{head}{}\n", "/* ".repeat(3_700)),
            "`/*` comments that are never closed are nested more than 32 levels deep",
        ),
        (
            format!("{head}/*{}\n", "*".repeat(20_000)),
            "a `/*` comment that is never closed holds more than 128 `*` and `/` characters",
        ),
        (
            format!("{head}/**\n{}\n", " * one more line\n".repeat(5_000)),
            "a `/*` comment that is never closed holds more than 128 `*` and `/` characters",
        ),
        (
            format!(
                "{head}rule \"x\" {}{}\n",
                "{ /- ".repeat(20),
                "}".repeat(20)
            ),
            "blocks are nested more than 32 levels deep",
        ),
    ]
}

/// Closed `/* */` comments the KDL parser would once recurse on thousands
/// deep (nested, or long doc comments), around one valid rule: they are
/// blanked out before parsing, so each loads with its one rule.
pub fn kdl_closed_comment_floods() -> Vec<String> {
    let rule = "rule \"x\" {\n    outputs \"o\"\n    run \"echo\"\n}\n";
    let head = "cloesce version=1\n";
    vec![
        format!(
            "{head}{}{}\n{rule}",
            "/* ".repeat(3_700),
            "*/ ".repeat(3_700)
        ),
        format!("{head}/*{}*/\n{rule}", "*".repeat(20_000)),
        format!(
            "{head}/**\n{} */\n{rule}",
            " * one more line\n".repeat(5_000)
        ),
        format!(
            "{head}rule \"x\" /* {} */ {{\n    outputs \"o\" /* ü */\n    run \"echo\"\n}}\n",
            "/* */ ".repeat(3_000)
        ),
    ]
}

/// The deepest `cloesce.kdl` documents the depth limits accept (32 levels
/// ending in a comment of 128 marks), each with (part of) what loading it
/// says once past the depth check.
pub fn deepest_accepted_kdl() -> Vec<(String, &'static str)> {
    let head = "cloesce version=1\nrule \"x\" {\n    outputs \"o\"\n    run \"echo\"\n}\n";
    let comment = format!("/*{} */", " *".repeat(124));
    vec![
        (
            format!(
                "{head}not-a-node {}{comment}{}\n",
                "{ a ".repeat(31),
                "}".repeat(31)
            ),
            "not-a-node",
        ),
        (
            format!("{head}n {}{comment} x\n", "/- ".repeat(31)),
            "Syntax",
        ),
    ]
}

/// The migrations the fixtures' models give, for the snapshots and the
/// wasm-vs-native comparison: the first one with its snapshot, and a
/// rebuild of every table (from a schema where every column was NOT NULL).
pub fn migrations(cidl: &[u8]) -> Vec<(String, String)> {
    use cloesce_rules::{history, migrate, schema::Schema};
    let ast = cloesce_rules::ir::from_json(cidl).unwrap();
    let schema = Schema::from_ast(&ast).unwrap();
    let init = migrate::diff(&Schema::default(), &schema, &migrate::Options::default()).unwrap();
    let (sql, json) = history::write("0001_init", None, &schema, &init.sql, &init.changes);
    let mut strict = schema.clone();
    for t in strict.tables.values_mut() {
        for c in &mut t.columns {
            c.not_null = true;
        }
    }
    let rebuild = migrate::diff(&strict, &schema, &migrate::Options::default()).unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    vec![
        ("migrations/0001_init.sql".into(), text(sql)),
        ("migrations/0001_init.json".into(), text(json)),
        ("migrations/rebuild.sql".into(), rebuild.sql),
    ]
}
