//! A tiny C-ABI wrapper around the built-ins, for checking that they give the
//! same bytes in wasm32 as natively (`rules/tests/wasm/probe.mjs` loads it in
//! Node; the `wasm` integration test compares). Not part of the product.
//!
//! ABI: `alloc(len)` returns a buffer to write the request into; `build(ptr,
//! len)` takes `{"files": [[path, text], …]}` (JSON) and returns a pointer to
//! the JSON result `{path: text}` or `{"error": text}`, whose length
//! `result_len()` gives. `load(ptr, len)` takes a `cloesce.kdl` text instead
//! and returns `{"rules": N}` or `{"error": text}`: the pipeline loader in
//! wasm32's 1 MiB stack, for hostile input.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cloesce_engine::builtin::{BuiltinOutput, BuiltinRequest};
use cloesce_engine::path::WorkspacePath;

static RESULT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Runs one built-in.
fn run(
    name: &str,
    inputs: &[(String, Vec<u8>)],
    output: Option<&str>,
    settings: &[(&str, &str)],
) -> Result<BuiltinOutput, String> {
    let registry = cloesce_rules::registry();
    let builtin = registry.get(name).ok_or("no such built-in")?;
    let inputs: Vec<(WorkspacePath, Vec<u8>)> = inputs
        .iter()
        .map(|(p, b)| (WorkspacePath::new(p).map_err(|e| e.to_string()), b.clone()))
        .map(|(p, b)| p.map(|p| (p, b)))
        .collect::<Result<_, _>>()?;
    let outputs: Vec<WorkspacePath> = output
        .map(|o| WorkspacePath::new(o).unwrap())
        .into_iter()
        .collect();
    let settings: BTreeMap<String, String> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    builtin
        .run(&BuiltinRequest {
            rule: name,
            inputs: &inputs,
            outputs: &outputs,
            settings: &settings,
        })
        .map_err(|f| format!("{f:?}"))
}

/// The whole default pipeline, as in `tests/common.rs::build`.
fn build_all(files: Vec<(String, String)>) -> Result<BTreeMap<String, String>, String> {
    let files: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(p, t)| (p, t.into_bytes()))
        .collect();
    let models: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|(p, _)| p.ends_with(".cloesce.ts") || p == "package.json")
        .cloned()
        .collect();
    let configs: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|(p, _)| p.starts_with("wrangler."))
        .cloned()
        .collect();
    let mut out = BTreeMap::new();
    let cidl = run(
        "cloesce/extract",
        &models,
        Some(".generated/cidl.json"),
        &[],
    )?
    .files
    .remove(0)
    .1;
    let ir = vec![(".generated/cidl.json".to_string(), cidl.clone())];
    out.insert(
        ".generated/cidl.json".to_string(),
        String::from_utf8_lossy(&cidl).to_string(),
    );
    run("cloesce/validate", &ir, None, &[])?;
    let mut produced = Vec::new();
    produced.push(run("cloesce/d1", &ir, Some(".generated/schema.sql"), &[])?);
    let wrangler = run(
        "cloesce/wrangler",
        &configs,
        Some(".generated/wrangler.toml"),
        &[("main", "workers.ts"), ("migrations", "migrations")],
    )?;
    let mut workers_in = ir.clone();
    workers_in.push((wrangler.files[0].0.to_string(), wrangler.files[0].1.clone()));
    produced.push(wrangler);
    produced.push(run(
        "cloesce/workers",
        &workers_in,
        Some(".generated/workers.ts"),
        &[("api_route", "/api")],
    )?);
    produced.push(run(
        "cloesce/client",
        &ir,
        Some(".generated/client.ts"),
        &[("domain", "http://localhost:8787/api")],
    )?);
    for o in produced {
        for (p, b) in o.files {
            out.insert(p.to_string(), String::from_utf8_lossy(&b).to_string());
        }
    }
    out.extend(migrations(&cidl)?);
    Ok(out)
}

/// As `tests/common.rs::migrations`: the first migration with its
/// snapshot, and a rebuild of every table.
fn migrations(cidl: &[u8]) -> Result<Vec<(String, String)>, String> {
    use cloesce_rules::{history, migrate, schema::Schema};
    let ast = cloesce_rules::ir::from_json(cidl)?;
    let schema = Schema::from_ast(&ast).map_err(|p| p.message)?;
    let fail = |p: Vec<cloesce_rules::diag::RuleDiagnostic>| format!("{p:?}");
    let init =
        migrate::diff(&Schema::default(), &schema, &migrate::Options::default()).map_err(fail)?;
    let (sql, json) = history::write("0001_init", None, &schema, &init.sql, &init.changes);
    let mut strict = schema.clone();
    for t in strict.tables.values_mut() {
        for c in &mut t.columns {
            c.not_null = true;
        }
    }
    let rebuild = migrate::diff(&strict, &schema, &migrate::Options::default()).map_err(fail)?;
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).to_string();
    Ok(vec![
        ("migrations/0001_init.sql".into(), text(sql)),
        ("migrations/0001_init.json".into(), text(json)),
        ("migrations/rebuild.sql".into(), rebuild.sql),
    ])
}

#[derive(serde::Deserialize)]
struct Request {
    files: Vec<(String, String)>,
}

/// Returns a buffer of `len` bytes owned by the caller.
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buf = vec![0u8; len];
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

/// Runs the pipeline on the JSON request at `ptr..ptr+len`.
///
/// # Safety
/// `ptr` must come from `alloc(len)` and hold `len` initialised bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn build(ptr: *mut u8, len: usize) -> *const u8 {
    // SAFETY: the caller passes a buffer from `alloc(len)`.
    let bytes = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let result = serde_json::from_slice::<Request>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|r| build_all(r.files));
    let json = match result {
        Ok(map) => serde_json::to_vec(&map),
        Err(e) => serde_json::to_vec(&BTreeMap::from([("error", e)])),
    }
    .unwrap_or_default();
    let mut slot = RESULT.lock().unwrap_or_else(|e| e.into_inner());
    *slot = json;
    slot.as_ptr()
}

/// Loads the `cloesce.kdl` text at `ptr..ptr+len` with the real built-ins
/// and library.
///
/// # Safety
/// `ptr` must come from `alloc(len)` and hold `len` initialised bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn load(ptr: *mut u8, len: usize) -> *const u8 {
    // SAFETY: the caller passes a buffer from `alloc(len)`.
    let bytes = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let text = String::from_utf8_lossy(&bytes);
    let builtins = cloesce_rules::registry();
    let options = cloesce_engine::pipeline::LoadOptions {
        user: Some(cloesce_engine::pipeline::SourceFile::new(
            "cloesce.kdl",
            &*text,
        )),
        library: cloesce_rules::library(),
        builtins: &builtins,
    };
    let result = match cloesce_engine::pipeline::load(&options) {
        Ok(pipeline) => serde_json::json!({ "rules": pipeline.rules.len() }),
        Err(errors) => serde_json::json!({ "error": format!("{errors:?}") }),
    };
    let mut slot = RESULT.lock().unwrap_or_else(|e| e.into_inner());
    *slot = serde_json::to_vec(&result).unwrap_or_default();
    slot.as_ptr()
}

/// The length of the last result.
#[unsafe(no_mangle)]
pub extern "C" fn result_len() -> usize {
    RESULT.lock().map(|r| r.len()).unwrap_or(0)
}
