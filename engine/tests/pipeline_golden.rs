//! Golden corpus for pipeline loading and graph building.
//!
//! Each folder in `tests/fixtures/pipeline/` is one case: `cloesce.kdl` (left
//! out to mean "no file: run the default") and `expected.txt`, which holds
//! either the rendered problems (miette's narratable handler: plain text) or
//! the text rendering of the graph. A case without `expected.txt` fails, as
//! kdl-rs's conformance suite does. Refresh with `SNAPSHOTS=overwrite cargo
//! test -p cloesce-engine --test pipeline_golden` and review the diff.

// Tests read fixtures from disk; only the engine itself is sans-IO.
#![allow(clippy::disallowed_methods)]

mod support;

use std::path::Path;

use cloesce_engine::graph::{render, Format, Graph};

/// What one case produces.
fn run_case(text: Option<&str>) -> String {
    let pipeline = match support::load_text(text) {
        Ok(p) => p,
        Err(errors) => return format!("load failed\n\n{}", support::narrate(&errors)),
    };
    match Graph::build(&pipeline) {
        Ok(graph) => format!("ok\n\n{}", render(&pipeline, &graph, Format::Text, None)),
        Err(errors) => format!("graph failed\n\n{}", support::narrate(&errors)),
    }
}

#[test]
fn pipeline_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipeline");
    let overwrite = std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/fixtures/pipeline exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "the corpus lost cases: {}", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(case.join("cloesce.kdl")).ok();
        let actual = run_case(text.as_deref());
        let expected_path = case.join("expected.txt");
        if overwrite {
            std::fs::write(&expected_path, &actual).expect("write expected.txt");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Err(_) => failures.push(format!(
                "{name}: no expected.txt (run with SNAPSHOTS=overwrite)\n{actual}"
            )),
            Ok(expected) if expected != actual => failures.push(format!(
                "{name}: output differs\n--- expected\n{expected}\n--- actual\n{actual}"
            )),
            Ok(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every error code the loader and graph can produce is shown by at least
/// one golden case (except those no `cloesce.kdl` can trigger).
#[test]
fn every_error_code_has_a_golden_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("src/pipeline/error.rs")).expect("error.rs");
    let mut corpus = String::new();
    for entry in std::fs::read_dir(root.join("tests/fixtures/pipeline")).expect("corpus") {
        let expected = entry.expect("entry").path().join("expected.txt");
        corpus.push_str(&std::fs::read_to_string(expected).unwrap_or_default());
    }
    // `missing_library` needs a broken build of cloesce (tested in
    // pipeline_api.rs); `invalid` is the wrapper every case shows.
    let untestable = ["cloesce::pipeline::missing_library"];
    let mut missing = Vec::new();
    for chunk in source.split("code(").skip(1) {
        let code: String = chunk
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == ':' || *c == '_')
            .collect();
        if code.len() > "cloesce::pipeline::".len()
            && code.starts_with("cloesce::pipeline::")
            && !untestable.contains(&code.as_str())
            && !corpus.contains(&format!("diagnostic code: {code}\n"))
        {
            missing.push(code);
        }
    }
    assert!(
        missing.is_empty(),
        "codes without a golden case: {missing:?}"
    );
}
