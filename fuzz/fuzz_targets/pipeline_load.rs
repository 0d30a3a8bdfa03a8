//! `cloesce.kdl` → pipeline → graph, with the real built-ins and library.
//! Any input must give a pipeline or diagnostics, never a panic, and every
//! diagnostic must render.
#![no_main]

use cloesce_engine::graph::Graph;
use cloesce_engine::pipeline::{load, LoadOptions, SourceFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let builtins = cloesce_rules::registry();
    let options = LoadOptions {
        user: Some(SourceFile::new("cloesce.kdl", text)),
        library: cloesce_rules::library(),
        builtins: &builtins,
    };
    match load(&options) {
        Ok(pipeline) => {
            if let Err(errors) = Graph::build(&pipeline) {
                let _ = format!("{errors:?}");
            }
        }
        Err(errors) => {
            let _ = format!("{errors:?}");
        }
    }
});
