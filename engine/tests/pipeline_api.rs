//! The pipeline loader and the graph through their public API: the embedded
//! default, `use` and params, the model's details (literals, tools, order),
//! closures, rendering, and robustness against broken input.

mod support;

use cloesce_engine::graph::{render, EdgeCause, Format, Graph};
use cloesce_engine::pipeline::{load, Action, LoadOptions, Pipeline, RuleId, SourceFile};

use support::{load_text, narrate, registry};

fn ok(text: Option<&str>) -> Pipeline {
    match load_text(text) {
        Ok(p) => p,
        Err(e) => panic!("expected the pipeline to load:\n{}", narrate(&e)),
    }
}

fn graph(p: &Pipeline) -> Graph {
    match Graph::build(p) {
        Ok(g) => g,
        Err(e) => panic!("expected a graph:\n{}", narrate(&e)),
    }
}

fn id(p: &Pipeline, name: &str) -> RuleId {
    p.rule(name).map(|(id, _)| id).expect("rule exists")
}

fn names(p: &Pipeline, ids: &[RuleId]) -> Vec<String> {
    ids.iter()
        .map(|&i| p.rules[i.index()].name.value.clone())
        .collect()
}

fn position(g: &Graph, id: RuleId) -> usize {
    g.order.iter().position(|&r| r == id).expect("in order")
}

// ----- the embedded default -----

#[test]
fn embedded_default_parses_into_the_expected_graph() {
    let p = ok(None);
    let g = graph(&p);
    assert_eq!(
        names(&p, &(0..6).map(RuleId).collect::<Vec<_>>()),
        ["extract", "validate", "d1", "wrangler", "workers", "client"]
    );
    let [extract, validate, d1, wrangler, workers, client] =
        ["extract", "validate", "d1", "wrangler", "workers", "client"].map(|n| id(&p, n));

    assert_eq!(g.deps[validate.index()], vec![extract]);
    for rule in [d1, workers, client] {
        assert!(
            g.deps[rule.index()].contains(&validate),
            "{rule:?} needs validate"
        );
        assert!(position(&g, validate) < position(&g, rule));
    }
    assert_eq!(g.deps[workers.index()], vec![extract, validate, wrangler]);
    assert!(g.deps[wrangler.index()].is_empty());
    assert!(g.deps[extract.index()].is_empty());
    assert!(position(&g, wrangler) < position(&g, workers));
    assert_eq!(
        names(&p, &g.order),
        ["extract", "validate", "d1", "wrangler", "workers", "client"]
    );

    // validate → d1 is explicit; wrangler → workers is inferred from the toml.
    assert!(g
        .causes(validate, d1)
        .all(|e| matches!(e.cause, EdgeCause::Explicit { .. })));
    let via: Vec<String> = g
        .causes(wrangler, workers)
        .filter_map(|e| match &e.cause {
            EdgeCause::Inferred { output, .. } => Some(output.to_string()),
            EdgeCause::Explicit { .. } => None,
        })
        .collect();
    assert_eq!(via, [".generated/wrangler.toml"]);

    // Param defaults reach settings and paths.
    match &p.rules[workers.index()].action {
        Action::Builtin { name, settings } => {
            assert_eq!(name.value, "cloesce/workers");
            assert_eq!(settings.get("api_route").map(String::as_str), Some("/api"));
        }
        other => panic!("workers is a builtin, got {other:?}"),
    }
    assert_eq!(p.sources.len(), 1);
    assert_eq!(p.sources[0].name, "cloesce:default");
}

#[test]
fn no_file_is_the_same_as_using_the_default() {
    let implicit = ok(None);
    let explicit = ok(Some("cloesce version=1\nuse \"cloesce:default\"\n"));
    assert_eq!(explicit.sources.len(), 2);
    assert_eq!(explicit.sources[0].name, "cloesce.kdl");
    assert_eq!(explicit.sources[1].name, "cloesce:default");
    assert_eq!(implicit.rules.len(), explicit.rules.len());
    for (a, b) in implicit.rules.iter().zip(&explicit.rules) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.action, b.action);
        assert_eq!(a.inputs, b.inputs);
        assert_eq!(a.outputs, b.outputs);
        assert_eq!(a.deps, b.deps);
        assert_eq!(a.cache, b.cache);
    }
}

#[test]
fn use_overrides_flow_into_later_param_defaults() {
    let p = ok(Some(
        r#"cloesce version=1
use "cloesce:default" {
    generated "out/gen"
    api_route "/v2"
}
"#,
    ));
    let (_, wrangler) = p.rule("wrangler").expect("wrangler");
    assert_eq!(wrangler.outputs[0].value.as_str(), "out/gen/wrangler.toml");
    let (_, workers) = p.rule("workers").expect("workers");
    let Action::Builtin { settings, .. } = &workers.action else {
        panic!("builtin")
    };
    assert_eq!(settings["api_route"], "/v2");
    let g = graph(&p);
    assert_eq!(
        names(&p, &g.deps[id(&p, "workers").index()]),
        ["extract", "validate", "wrangler"]
    );
}

#[test]
fn library_rules_come_first_even_when_the_use_is_written_last() {
    let p = ok(Some(
        r#"cloesce version=1
rule "mine" {
    run "echo"
}
use "cloesce:default"
"#,
    ));
    let all: Vec<&str> = p.rules.iter().map(|r| r.name.value.as_str()).collect();
    assert_eq!(all.first(), Some(&"extract"));
    assert_eq!(all.last(), Some(&"mine"));
}

#[test]
fn user_params_and_model_details() {
    let p = ok(Some(
        r#"cloesce version=1
param "dir" default="src"
env "CI"
env "CI" "HOME"
tool "node"
tool "pnpm" version="pnpm   -v"
rule "r" {
    inputs "package.json" "${dir}/**/*.ts"
    inputs "${dir}/[ab].ts" "./a\\b.txt"
    outputs "out/x.js"
    env "A"
    env "B"
    tool "tsc" version="tsc --version"
    run "tsc" "$${dir}" "${dir}"
    cache #false
}
"#,
    ));
    assert_eq!(
        p.env.iter().map(|e| e.value.as_str()).collect::<Vec<_>>(),
        ["CI", "HOME"]
    );
    assert_eq!(p.tools[0].version_argv, ["node", "--version"]);
    assert_eq!(p.tools[1].version_argv, ["pnpm", "-v"]);
    let rule = &p.rules[0];
    let globs: Vec<(&str, Option<&str>)> = rule
        .inputs
        .iter()
        .map(|i| {
            (
                i.value.glob.as_str(),
                i.value.literal.as_ref().map(|l| l.as_str()),
            )
        })
        .collect();
    assert_eq!(
        globs,
        [
            ("package.json", Some("package.json")),
            ("src/**/*.ts", None),
            ("src/[ab].ts", None),
            ("a/b.txt", Some("a/b.txt")),
        ]
    );
    assert_eq!(
        rule.env
            .iter()
            .map(|e| e.value.as_str())
            .collect::<Vec<_>>(),
        ["A", "B"]
    );
    assert_eq!(rule.tools[0].version_argv, ["tsc", "--version"]);
    assert!(!rule.cache);
    let Action::Run { argv } = &rule.action else {
        panic!("run")
    };
    assert_eq!(argv.value, ["tsc", "${dir}", "src"]);
    // Spans point at what was written.
    let text = &p.sources[0].text;
    let span = rule.name.span.span;
    assert_eq!(&text[span.offset()..span.offset() + span.len()], "\"r\"");
}

#[test]
fn every_error_is_reported_in_one_pass() {
    let errors = load_text(Some(
        r#"cloesce version=1
rule "a" {
    inputs "/abs" "../up"
    outputs "x" "x/../../y"
    cache "no"
    deps "nope"
}
rule "a" {
    builtin "cloesce/extrat"
    run "x"
}
rule "b" {
    outputs "x"
    builtin "cloesce/client" domian="x"
}
bogus
"#,
    ))
    .expect_err("broken pipeline");
    assert_eq!(
        errors.codes(),
        [
            "cloesce::pipeline::absolute_path",
            "cloesce::pipeline::escaping_path",
            "cloesce::pipeline::escaping_path",
            "cloesce::pipeline::wrong_type",
            "cloesce::pipeline::missing_action",
            "cloesce::pipeline::unknown_builtin",
            "cloesce::pipeline::both_actions",
            "cloesce::pipeline::unknown_setting",
            "cloesce::pipeline::unknown_node",
            "cloesce::pipeline::duplicate_rule",
            "cloesce::pipeline::unknown_dep",
            "cloesce::pipeline::duplicate_output",
        ]
    );
}

#[test]
fn library_errors_render_against_the_library_source() {
    let registry = registry();
    let library = [("lib:broken", "cloesce version=1\nrule \"x\" {\n}\n")];
    let errors = load(&LoadOptions {
        user: Some(SourceFile::new(
            "cloesce.kdl",
            "cloesce version=1\nuse \"lib:broken\"\n",
        )),
        library: &library,
        builtins: &registry,
    })
    .expect_err("the library has a rule with no action");
    let text = narrate(&errors);
    assert!(text.contains("Begin snippet for lib:broken"), "{text}");
    assert!(text.contains("cloesce::pipeline::missing_action"), "{text}");
}

#[test]
fn missing_default_library_is_an_error_not_a_panic() {
    let registry = registry();
    let errors = load(&LoadOptions {
        user: None,
        library: &[],
        builtins: &registry,
    })
    .expect_err("no default");
    assert_eq!(errors.codes(), ["cloesce::pipeline::missing_library"]);
}

// ----- graph -----

const DIAMOND: &str = r#"cloesce version=1
rule "z-last" {
    run "true"
}
rule "d" {
    deps "b" "c"
    run "d"
}
rule "a" {
    outputs "out/a.txt"
    run "a"
}
rule "b" {
    inputs "out/a.txt"
    outputs "out/b.txt"
    run "b"
}
rule "c" {
    inputs "out/*.txt"
    outputs "out/c/c.txt"
    run "c"
}
"#;

#[test]
fn order_is_topological_with_ties_in_declaration_order() {
    let p = ok(Some(DIAMOND));
    let g = graph(&p);
    assert_eq!(names(&p, &g.order), ["z-last", "a", "b", "c", "d"]);
    assert_eq!(names(&p, &g.deps[id(&p, "c").index()]), ["a", "b"]);
    assert_eq!(names(&p, &g.dependents[id(&p, "a").index()]), ["b", "c"]);
    // Building twice gives identical results.
    let again = graph(&p);
    assert_eq!(g.order, again.order);
    assert_eq!(g.edges, again.edges);
}

#[test]
fn closure_is_the_roots_and_their_dependencies_in_order() {
    let p = ok(Some(DIAMOND));
    let g = graph(&p);
    assert_eq!(names(&p, &g.closure(&[id(&p, "d")])), ["a", "b", "c", "d"]);
    assert_eq!(names(&p, &g.closure(&[id(&p, "b")])), ["a", "b"]);
    assert_eq!(
        names(&p, &g.closure(&[id(&p, "b"), id(&p, "z-last")])),
        ["z-last", "a", "b"]
    );
    assert!(g.closure(&[]).is_empty());
    assert!(g.closure(&[RuleId(999)]).is_empty());
}

#[test]
fn inferred_edges_never_point_at_their_own_rule() {
    let p = ok(Some(
        r#"cloesce version=1
rule "fmt" {
    inputs "src/*.ts"
    outputs "src/index.ts"
    run "prettier" "--write" "src"
}
"#,
    ));
    let g = graph(&p);
    assert!(g.edges.is_empty());
    assert_eq!(g.order, [RuleId(0)]);
}

// ----- rendering -----

#[test]
fn renders_text_dot_and_mermaid() {
    let p = ok(Some(DIAMOND));
    let g = graph(&p);
    insta::assert_snapshot!("diamond_text", render(&p, &g, Format::Text, None));
    insta::assert_snapshot!("diamond_dot", render(&p, &g, Format::Dot, None));
    insta::assert_snapshot!("diamond_mermaid", render(&p, &g, Format::Mermaid, None));
    let status: Vec<String> = [
        "fresh",
        "will run: input `out/a.txt` changed",
        "fresh",
        "fresh",
        "fresh",
    ]
    .map(String::from)
    .to_vec();
    insta::assert_snapshot!(
        "diamond_text_status",
        render(&p, &g, Format::Text, Some(&status))
    );
}

#[test]
fn dot_and_mermaid_escape_names() {
    let p = ok(Some(
        r#"cloesce version=1
rule "say \"hi\" <b> #1\\" {
    run "echo" "a b"
}
rule "next" {
    deps "say \"hi\" <b> #1\\"
    run "true"
}
"#,
    ));
    let g = graph(&p);
    let dot = render(&p, &g, Format::Dot, None);
    assert!(dot.contains(r#""say \"hi\" <b> #1\\" -> "next";"#), "{dot}");
    let mermaid = render(&p, &g, Format::Mermaid, None);
    assert!(mermaid.starts_with("flowchart TD\n"));
    assert!(
        mermaid
            .contains("r0[\"say #quot;hi#quot; #lt;b#gt; #35;1\\<br/>run echo #quot;a b#quot;\"]"),
        "{mermaid}"
    );
    assert!(mermaid.contains("  r0 --> r1\n"), "{mermaid}");
}

#[test]
fn json_follows_the_documented_schema() {
    let p = ok(Some(
        r#"cloesce version=1
use "cloesce:default"
env "CI"
rule "deploy" {
    description "ship it"
    deps "workers"
    run "wrangler" "deploy"
    env "CLOUDFLARE_API_TOKEN"
    tool "wrangler"
    cache #false
}
"#,
    ));
    let g = graph(&p);
    let status: Vec<String> = (0..p.rules.len()).map(|i| format!("s{i}")).collect();
    let text = render(&p, &g, Format::Json, Some(&status));
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(json["version"], 1);
    assert_eq!(json["env"], serde_json::json!(["CI"]));
    let rules = json["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 7);
    let workers = &rules[4];
    assert_eq!(workers["name"], "workers");
    assert_eq!(workers["kind"], "builtin");
    assert_eq!(workers["builtin"], "cloesce/workers");
    assert_eq!(workers["settings"]["api_route"], "/api");
    assert_eq!(
        workers["deps"],
        serde_json::json!(["extract", "validate", "wrangler"])
    );
    assert_eq!(workers["status"], "s4");
    assert!(workers.get("argv").is_none());
    let deploy = &rules[6];
    assert_eq!(deploy["kind"], "run");
    assert_eq!(deploy["argv"], serde_json::json!(["wrangler", "deploy"]));
    assert_eq!(deploy["description"], "ship it");
    assert_eq!(deploy["cache"], false);
    assert_eq!(deploy["env"], serde_json::json!(["CLOUDFLARE_API_TOKEN"]));
    assert_eq!(
        deploy["tools"],
        serde_json::json!([{"name": "wrangler", "version": ["wrangler", "--version"]}])
    );
    let edges = json["edges"].as_array().expect("edges");
    assert!(edges
        .contains(&serde_json::json!({"from": "workers", "to": "deploy", "cause": "explicit"})));
    assert!(edges.contains(&serde_json::json!({
        "from": "wrangler", "to": "workers", "cause": "inferred",
        "via": ".generated/wrangler.toml", "input": ".generated/wrangler.toml"
    })));
    assert_eq!(json["order"].as_array().map(Vec::len), Some(7));
    // Without status, no rule has a status key.
    let plain: serde_json::Value =
        serde_json::from_str(&render(&p, &g, Format::Json, None)).expect("valid JSON");
    assert!(plain["rules"][0].get("status").is_none());
}

#[test]
fn did_you_mean_is_available_to_the_cli() {
    use cloesce_engine::pipeline::did_you_mean;
    assert_eq!(
        did_you_mean("workrs", ["workers", "client"]),
        Some("workers")
    );
    assert_eq!(did_you_mean("zzzzzzzz", ["workers", "client"]), None);
}

#[test]
fn formats_parse_by_name() {
    for (name, format) in Format::ALL {
        assert_eq!(name.parse::<Format>(), Ok(format));
        assert_eq!(format.to_string(), name);
    }
    assert!("svg".parse::<Format>().is_err());
}

// ----- robustness -----

/// Every prefix of a real pipeline (cut at each char boundary) loads or fails
/// cleanly: no panic, and a failure always carries at least one error.
#[test]
fn truncated_input_never_panics() {
    let text = include_str!("fixtures/pipeline/valid_use_default_overrides/cloesce.kdl");
    for (cut, _) in text.char_indices() {
        match load_text(Some(&text[..cut])) {
            Ok(p) => {
                let _ = Graph::build(&p).map(|g| render(&p, &g, Format::Json, None));
            }
            Err(errors) => {
                assert!(!errors.is_empty());
                let _ = narrate(&errors);
            }
        }
    }
}

#[test]
fn odd_values_never_panic() {
    for text in [
        "",
        "cloesce",
        "cloesce version=99999999999999999999999999",
        "cloesce version=1\nrule",
        "cloesce version=1\nrule \"\u{0}\" { run \"\u{0}\" }",
        "cloesce version=1\nrule \"r\" { inputs \"\u{0}\" \"${\" \"$${\" \"$\" ; outputs \"\u{0}\" \".\" }",
        "cloesce version=1\nuse \"cloesce:default\" { models { nested } }",
        "cloesce version=1\nparam \"a\" default=\"${a}\"\nrule \"r\" { run \"${a}\" }",
        "cloesce version=1\n(type)rule (t)\"r\" { (t)run \"x\" }",
        "cloesce version=1\nrule \"é\" { run \"日本\" ; inputs \"日本/*.ts\" }",
    ] {
        if let Ok(p) = load_text(Some(text)) {
            let _ = Graph::build(&p);
        }
    }
}
