//! The built-ins give the same bytes in wasm32 as natively. Needs the probe:
//! `cargo build -p cloesce-rules --example wasm_probe --target wasm32-unknown-unknown`
//! (or `CLOESCE_WASM_PROBE=<path to .wasm>`) and `node`; skipped, loudly,
//! otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{build, deepest_accepted_kdl, kdl_attacks, kdl_closed_comment_floods};

/// The wasm probe and node, or `None` (after saying so, loudly).
fn probe() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let probe = std::env::var_os("CLOESCE_WASM_PROBE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            manifest.join("../target/wasm32-unknown-unknown/debug/examples/wasm_probe.wasm")
        });
    if !probe.exists() || Command::new("node").arg("--version").output().is_err() {
        eprintln!(
            "\n!!!!! SKIPPED: wasm not checked (build the probe with `cargo build -p cloesce-rules \
             --example wasm_probe --target wasm32-unknown-unknown` and install node) !!!!!\n"
        );
        return None;
    }
    Some(probe)
}

#[test]
fn wasm_output_is_byte_identical_to_native() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(probe) = probe() else {
        return;
    };
    for name in ["small", "big"] {
        let out = Command::new("node")
            .arg(manifest.join("tests/wasm/probe.mjs"))
            .arg(&probe)
            .arg(manifest.join("tests/fixtures").join(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let wasm: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(wasm, build(name), "{name}: wasm and native outputs differ");
    }
}

/// Issue #12: the depth limits hold in wasm32's 1 MiB stack too (the npm
/// build runs the same loader): the attacks are diagnostics, and the deepest
/// documents the limits accept load without overflowing.
#[test]
fn hostile_pipelines_load_in_wasm_without_overflowing() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(probe) = probe() else {
        return;
    };
    let mut cases = kdl_attacks();
    cases.extend(deepest_accepted_kdl());
    cases.push((
        "cloesce version=1\nrule \"x\" {\n    outputs \"o\"\n    run \"echo\"\n}\n".to_string(),
        "\"rules\":1",
    ));
    cases.extend(
        kdl_closed_comment_floods()
            .into_iter()
            .map(|text| (text, "\"rules\":1")),
    );
    let dir = std::env::temp_dir().join(format!("cloesce-wasm-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = dir.join(format!("{i}.kdl"));
        std::fs::write(&file, text).unwrap();
        let out = Command::new("node")
            .arg(manifest.join("tests/wasm/load.mjs"))
            .arg(&probe)
            .arg(&file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(expected),
            "case {i}: expected `{expected}`\n{}\n{}",
            stdout.chars().take(300).collect::<String>(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
