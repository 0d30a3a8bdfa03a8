//! `.cloesce/pipeline`: the checked pipeline and its graph, kept between runs.
//!
//! Parsing KDL is the slowest part of a no-op run on a large pipeline (a
//! 2,000-rule file takes most of a second). The lowered [`Pipeline`] and its
//! [`Graph`] only depend on the texts that were parsed and on the engine and
//! its built-ins, so they are stored under a digest of exactly those; a run
//! whose digest matches reads them back instead of parsing. A pipeline with
//! errors is never cached (errors are recomputed and reported every time),
//! and an unreadable or foreign cache file is ignored.

use serde::{Deserialize, Serialize};

use super::{load, LoadOptions, Pipeline, PipelineErrors, Rule, SourceFile, Spanned, Tool};
use crate::fingerprint::{Digest, FieldHasher};
use crate::graph::Graph;
use crate::host::Host;
use crate::path::WorkspacePath;
use crate::store::STORE_DIR;

const HEADER: &[u8] = b"cloesce-pipeline v4\n";

/// What is stored; source texts are not (they are in hand when loading).
#[derive(Serialize, Deserialize)]
struct Cached {
    key: Digest,
    /// Names of the sources, in `SourceId` order.
    source_names: Vec<String>,
    env: Vec<Spanned<String>>,
    tools: Vec<Tool>,
    rules: Vec<Rule>,
    definitions: Vec<Digest>,
    graph: Graph,
}

fn cache_path() -> WorkspacePath {
    WorkspacePath::new(&format!("{STORE_DIR}/pipeline")).expect("constant path")
}

/// A digest of everything loading depends on: the pipeline texts, the
/// built-ins (names, versions, settings) and the engine's version. It names
/// the checked pipeline in `.cloesce/pipeline` and in `.cloesce/witness`.
pub fn pipeline_key(options: &LoadOptions<'_>) -> Digest {
    let mut h = FieldHasher::new("pipeline-cache");
    h.str(crate::VERSION);
    match &options.user {
        Some(user) => h.tag(1).str(&user.name).str(&user.text),
        None => h.tag(0),
    };
    h.u64(options.library.len() as u64);
    for (name, text) in options.library {
        h.str(name).str(text);
    }
    for name in options.builtins.names() {
        h.str(name);
        if let Some(builtin) = options.builtins.get(name) {
            h.u64(u64::from(builtin.version()));
            for setting in builtin.settings() {
                h.str(setting);
            }
        }
    }
    h.finish()
}

/// The text of a source by name: the user's file or a library pipeline.
fn source_text(options: &LoadOptions<'_>, name: &str) -> Option<SourceFile> {
    if let Some(user) = options.user.as_ref().filter(|u| u.name == name) {
        return Some(user.clone());
    }
    options
        .library
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| SourceFile::new(*n, *text))
}

/// Loads and checks the pipeline and builds its graph, reading both from
/// `.cloesce/pipeline` when the inputs are unchanged (`key` is their
/// [`pipeline_key`]). With `write`, a fresh result is saved for next time
/// (failures to save are ignored: the cache only saves time).
pub fn load_cached(
    host: &dyn Host,
    options: &LoadOptions<'_>,
    key: Digest,
    write: bool,
) -> Result<(Pipeline, Graph), PipelineErrors> {
    if let Some(hit) = read(host, options, &key) {
        return Ok(hit);
    }
    let pipeline = load(options)?;
    let graph = Graph::build(&pipeline)?;
    if write {
        let cached = Cached {
            key,
            source_names: pipeline.sources.iter().map(|s| s.name.clone()).collect(),
            env: pipeline.env.clone(),
            tools: pipeline.tools.clone(),
            rules: pipeline.rules.clone(),
            definitions: pipeline.definitions.clone(),
            graph: graph.clone(),
        };
        if let Ok(bytes) = crate::store::sealed_postcard(HEADER, &cached, 0) {
            let _ = host.write_atomic(&cache_path(), &bytes, false);
        }
    }
    Ok((pipeline, graph))
}

fn read(host: &dyn Host, options: &LoadOptions<'_>, key: &Digest) -> Option<(Pipeline, Graph)> {
    let bytes = host.read(&cache_path()).ok()?;
    let cached: Cached =
        postcard::from_bytes(crate::store::unseal(bytes.strip_prefix(HEADER)?)?).ok()?;
    if cached.key != *key {
        return None;
    }
    let sources = cached
        .source_names
        .iter()
        .map(|name| source_text(options, name))
        .collect::<Option<Vec<_>>>()?;
    if cached.graph.deps.len() != cached.rules.len()
        || cached.definitions.len() != cached.rules.len()
    {
        return None;
    }
    let pipeline = Pipeline {
        sources,
        env: cached.env,
        tools: cached.tools,
        rules: cached.rules,
        definitions: cached.definitions,
    };
    Some((pipeline, cached.graph))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::BuiltinRegistry;
    use crate::testing::MemoryHost;

    fn options<'a>(text: &str, builtins: &'a BuiltinRegistry) -> LoadOptions<'a> {
        LoadOptions {
            user: Some(SourceFile::new("cloesce.kdl", text)),
            library: &[],
            builtins,
        }
    }

    fn load_text(
        host: &MemoryHost,
        text: &str,
        builtins: &BuiltinRegistry,
    ) -> Result<(Pipeline, Graph), PipelineErrors> {
        let options = options(text, builtins);
        load_cached(host, &options, pipeline_key(&options), true)
    }

    #[test]
    fn a_cached_pipeline_equals_a_parsed_one_and_follows_edits() {
        let builtins = BuiltinRegistry::new();
        let host = MemoryHost::new();
        let text = "cloesce version=1\nrule \"a\" {\n    outputs \"a.out\"\n    run \"x\"\n}\nrule \"b\" {\n    inputs \"a.out\"\n    run \"y\"\n}\n";
        let (fresh, graph) = load_text(&host, text, &builtins).unwrap();
        assert!(host.get(".cloesce/pipeline").is_some());
        host.reads.borrow_mut().clear();
        let (cached, cached_graph) = load_text(&host, text, &builtins).unwrap();
        assert_eq!(
            host.reads.borrow().len(),
            1,
            "a hit reads the cache and nothing else"
        );
        assert_eq!(cached.rules.len(), fresh.rules.len());
        assert_eq!(cached.rules[1].inputs, fresh.rules[1].inputs);
        assert_eq!(cached_graph.order, graph.order);
        assert_eq!(cached_graph.deps, graph.deps);
        assert_eq!(&*cached.sources[0].text, text);
        // An edit is a miss, and an invalid edit reports its errors.
        let edited = text.replace("run \"y\"", "run \"z\"");
        let (reloaded, _) = load_text(&host, &edited, &builtins).unwrap();
        match &reloaded.rules[1].action {
            super::super::Action::Run { argv } => assert_eq!(argv.value, vec!["z".to_string()]),
            other => panic!("unexpected action {other:?}"),
        }
        assert!(load_text(&host, "cloesce version=1\nrule \"a\" {}\n", &builtins).is_err());
    }
}
