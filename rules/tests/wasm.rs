//! The built-ins give the same bytes in wasm32 as natively. Needs the probe:
//! `cargo build -p cloesce-rules --example wasm_probe --target wasm32-unknown-unknown`
//! (or `CLOESCE_WASM_PROBE=<path to .wasm>`) and `node`; skipped, loudly,
//! otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::build;

#[test]
fn wasm_output_is_byte_identical_to_native() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let probe = std::env::var_os("CLOESCE_WASM_PROBE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            manifest.join("../target/wasm32-unknown-unknown/debug/examples/wasm_probe.wasm")
        });
    if !probe.exists() || Command::new("node").arg("--version").output().is_err() {
        eprintln!(
            "\n!!!!! SKIPPED: wasm vs native not compared (build the probe with `cargo build -p cloesce-rules \
             --example wasm_probe --target wasm32-unknown-unknown` and install node) !!!!!\n"
        );
        return;
    }
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
