//! The TypeScript model extractor (`builtin "cloesce/extract"`) on arbitrary
//! bytes as a model file: IR or diagnostics, never a panic.
#![no_main]

use std::collections::BTreeMap;

use cloesce_engine::builtin::BuiltinRequest;
use cloesce_engine::WorkspacePath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let registry = cloesce_rules::registry();
    let extract = registry.get("cloesce/extract").expect("registered");
    let inputs = vec![
        (
            WorkspacePath::new("package.json").unwrap(),
            br#"{"name":"fuzz"}"#.to_vec(),
        ),
        (
            WorkspacePath::new("src/fuzz.cloesce.ts").unwrap(),
            data.to_vec(),
        ),
    ];
    let outputs = [WorkspacePath::new(".generated/cidl.json").unwrap()];
    let settings = BTreeMap::new();
    let request = BuiltinRequest {
        rule: "extract",
        inputs: &inputs,
        outputs: &outputs,
        settings: &settings,
    };
    if let Err(failure) = extract.run(&request) {
        // Rendering must not panic either.
        for d in &failure.diagnostics {
            let _ = format!("{d:?}");
        }
    }
});
