use crate::common::{render, run};

const SETTINGS: &[(&str, &str)] = &[("main", "workers.ts"), ("migrations_dir", "migrations")];

fn merge(input: Option<(&str, &str)>, output: &str) -> (String, String) {
    let inputs: Vec<(String, Vec<u8>)> = input
        .map(|(p, t)| vec![(p.to_string(), t.as_bytes().to_vec())])
        .unwrap_or_default();
    let out = run("cloesce/wrangler", &inputs, &[output], SETTINGS)
        .unwrap_or_else(|f| panic!("{}", render(&f)));
    (String::from_utf8(out.files[0].1.clone()).unwrap(), out.log)
}

#[test]
fn empty_project_gets_defaults() {
    let (toml, log) = merge(None, ".generated/wrangler.toml");
    insta::assert_snapshot!(toml, @r#"
    name = "cloesce"
    main = "workers.ts"
    compatibility_date = "2025-10-02"

    [[d1_databases]]
    binding = "db"
    database_name = "default"
    database_id = "replace_with_db_id"
    migrations_dir = "migrations"
    "#);
    assert!(log.contains("replace_with_db_id"));
    let (json, _) = merge(None, ".generated/wrangler.jsonc");
    insta::assert_snapshot!(json, @r#"
    {
    	"name": "cloesce",
    	"main": "workers.ts",
    	"compatibility_date": "2025-10-02",
    	"d1_databases": [
    		{
    			"binding": "db",
    			"database_name": "default",
    			"database_id": "replace_with_db_id",
    			"migrations_dir": "migrations"
    		}
    	]
    }
    "#);
}

#[test]
fn toml_keeps_comments_keys_and_compatibility_date() {
    let user = r#"# my worker
name = "horses" # the name
compatibility_date = "2024-01-01"
workers_dev = true

[vars]
# greeting
motd = "hi"

[[d1_databases]]
binding = "db" # keep me
database_name = "horses"
database_id = "abc-123"
migrations_dir = "db/migrations"

[assets]
directory = "./public"
"#;
    let (toml, log) = merge(Some(("wrangler.toml", user)), ".generated/wrangler.toml");
    insta::assert_snapshot!(toml);
    assert!(!log.contains("replace_with_db_id"), "{log}");
}

#[test]
fn jsonc_keeps_comments() {
    let user = r#"{
  // the worker's name
  "name": "horses",
  /* vars */
  "vars": { "motd": "hi" }, // trailing comment
  "d1_databases": [
    { "binding": "db", "database_name": "horses", "database_id": "x" } // one db
  ]
}
"#;
    let (json, _) = merge(Some(("wrangler.jsonc", user)), ".generated/wrangler.jsonc");
    assert!(json.contains("// the worker's name"));
    assert!(json.contains("/* vars */"));
    assert!(json.contains("// trailing comment"));
    assert!(json.contains("// one db"));
    insta::assert_snapshot!(json);
}

#[test]
fn conversions_note_lost_comments() {
    let (toml, log) = merge(
        Some((
            "wrangler.jsonc",
            "{ // c\n \"name\": \"x\", \"vars\": {\"a\": \"b\"} }",
        )),
        ".generated/wrangler.toml",
    );
    assert!(log.contains("comments"), "{log}");
    insta::assert_snapshot!(toml);
    let (json, log) = merge(
        Some(("wrangler.toml", "name = \"x\" # c\n[vars]\na = \"b\"\n")),
        ".generated/wrangler.json",
    );
    assert!(log.contains("comments"), "{log}");
    insta::assert_snapshot!(json);
}

#[test]
fn two_configs_are_rejected() {
    let inputs = vec![
        ("wrangler.json".to_string(), b"{}".to_vec()),
        ("wrangler.toml".to_string(), Vec::new()),
    ];
    let failure = run(
        "cloesce/wrangler",
        &inputs,
        &[".generated/wrangler.toml"],
        SETTINGS,
    )
    .unwrap_err();
    insta::assert_snapshot!(render(&failure));
}

#[test]
fn broken_config_is_reported_with_a_span() {
    let inputs = vec![("wrangler.toml".to_string(), b"name = \n".to_vec())];
    let failure = run(
        "cloesce/wrangler",
        &inputs,
        &[".generated/wrangler.toml"],
        SETTINGS,
    )
    .unwrap_err();
    insta::assert_snapshot!(render(&failure));
    let inputs = vec![("wrangler.jsonc".to_string(), b"{ \"a\": }".to_vec())];
    let failure = run(
        "cloesce/wrangler",
        &inputs,
        &[".generated/wrangler.jsonc"],
        SETTINGS,
    )
    .unwrap_err();
    insta::assert_snapshot!(render(&failure));
}

#[test]
fn user_paths_are_rebased_to_the_generated_folder() {
    let user =
        "main = \"src/index.ts\"\n[build]\ncwd = \"./app\"\n[site]\nbucket = \"/abs/public\"\n";
    let (toml, _) = merge(Some(("wrangler.toml", user)), ".generated/wrangler.toml");
    assert!(toml.contains("main = \"../src/index.ts\""), "{toml}");
    assert!(toml.contains("cwd = \"../app\""), "{toml}");
    assert!(toml.contains("bucket = \"/abs/public\""), "{toml}");
    // A config in a sub-folder, generated next to it: nothing to rebase.
    let (json, _) = merge(
        Some(("app/wrangler.json", "{\"main\": \"w.ts\"}")),
        "app/out.json",
    );
    assert!(json.contains("\"main\": \"w.ts\""), "{json}");
}

#[test]
fn existing_d1_entries_are_completed() {
    let user =
        "[[d1_databases]]\nbinding = \"main_db\"\n\n[[d1_databases]]\ndatabase_id = \"real\"\n";
    let (toml, log) = merge(Some(("wrangler.toml", user)), ".generated/wrangler.toml");
    insta::assert_snapshot!(toml);
    assert!(
        log.contains("`main_db`") && !log.contains("`db_1`"),
        "{log}"
    );
}

#[test]
fn jsonc_edge_cases() {
    let (a, _) = merge(
        Some(("wrangler.jsonc", "{\n  \"d1_databases\": [],\n}\n")),
        ".generated/wrangler.jsonc",
    );
    insta::assert_snapshot!(a);
    let (b, _) = merge(
        Some(("wrangler.jsonc", "{\n    \"name\": \"x\",\n    \"d1_databases\": [\n        {\n            \"binding\": \"DB\", // mine\n        },\n    ],\n}\n")),
        ".generated/wrangler.jsonc",
    );
    insta::assert_snapshot!(b);
    let (c, _) = merge(Some(("wrangler.json", "")), ".generated/wrangler.json");
    assert!(c.contains("\"binding\": \"db\""));
}

/// Issue #16: the guide's project had no tsconfig.json, so `wrangler dev`
/// failed on the models' decorators and cloesce said nothing.
fn log_with_tsconfig(files: &[(&str, &str)]) -> String {
    let inputs: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
        .collect();
    let settings = [
        ("main", "workers.ts"),
        ("migrations_dir", "migrations"),
        ("tsconfig", "tsconfig.json"),
    ];
    run(
        "cloesce/wrangler",
        &inputs,
        &[".generated/wrangler.toml"],
        &settings,
    )
    .unwrap_or_else(|f| panic!("{}", render(&f)))
    .log
}

#[test]
fn a_missing_tsconfig_is_named_with_the_fix() {
    let log = log_with_tsconfig(&[("wrangler.toml", "[[d1_databases]]\ndatabase_id = \"x\"\n")]);
    insta::assert_snapshot!(log, @r#"
    warning: there is no tsconfig.json, so `wrangler dev` and `wrangler deploy` would fail with "Parameter decorators only work when experimental decorators are enabled"
      fix: run `npx cloesce init` to write one, or create tsconfig.json with { "compilerOptions": { "experimentalDecorators": true } }
    "#);
}

#[test]
fn a_tsconfig_without_decorators_is_named_and_one_with_them_passes() {
    let config = ("wrangler.toml", "[[d1_databases]]\ndatabase_id = \"x\"\n");
    let log = log_with_tsconfig(&[config, ("tsconfig.json", "{ \"compilerOptions\": {} }")]);
    assert!(
        log.contains("tsconfig.json does not set compilerOptions.experimentalDecorators"),
        "{log}"
    );
    let good = "{ \"compilerOptions\": { \"experimentalDecorators\": true } }";
    assert_eq!(log_with_tsconfig(&[config, ("tsconfig.json", good)]), "");
    // The user's wrangler config names its own tsconfig: not ours to judge.
    let own = "tsconfig = \"tsconfig.worker.json\"\n[[d1_databases]]\ndatabase_id = \"x\"\n";
    assert_eq!(log_with_tsconfig(&[("wrangler.toml", own)]), "");
}

#[test]
fn the_migrations_folder_is_written_relative_to_the_generated_config() {
    // wrangler resolves `migrations_dir` from the config's own folder.
    for (output, folder, want) in [
        (".generated/wrangler.toml", "migrations", "../migrations"),
        (
            "out/deep/wrangler.toml",
            "db/migrations",
            "../../db/migrations",
        ),
        ("wrangler.gen.toml", "migrations", "./migrations"),
    ] {
        let out = run(
            "cloesce/wrangler",
            &[],
            &[output],
            &[("main", "workers.ts"), ("migrations", folder)],
        )
        .unwrap_or_else(|f| panic!("{}", render(&f)));
        let text = String::from_utf8(out.files[0].1.clone()).unwrap();
        assert!(
            text.contains(&format!("migrations_dir = \"{want}\"")),
            "{output}: {text}"
        );
    }
}
