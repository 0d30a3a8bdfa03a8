use crate::common::{build, model_inputs, run};

#[test]
fn small_fixture() {
    for (path, text) in build("small") {
        insta::assert_snapshot!(format!("small__{}", path.replace(['/', '.'], "_")), text);
    }
}

#[test]
fn big_fixture() {
    for (path, text) in build("big") {
        insta::assert_snapshot!(format!("big__{}", path.replace(['/', '.'], "_")), text);
    }
}

#[test]
fn outputs_are_deterministic() {
    for name in ["small", "big"] {
        let a = build(name);
        let b = build(name);
        assert_eq!(a, b, "{name}: two runs differ");
        for (path, text) in &a {
            assert!(!text.contains('\r'), "{path} has a CR");
            assert!(text.ends_with('\n'), "{path} has no trailing newline");
        }
    }
}

#[test]
fn extract_is_independent_of_input_order() {
    let mut inputs = model_inputs("big");
    let a = run("cloesce/extract", &inputs, &[".generated/cidl.json"], &[]).unwrap();
    inputs.reverse();
    let b = run("cloesce/extract", &inputs, &[".generated/cidl.json"], &[]).unwrap();
    assert_eq!(a, b);
}

#[test]
fn source_paths_are_workspace_relative() {
    let files = build("big");
    let cidl = &files[".generated/cidl.json"];
    assert!(cidl.contains("\"source_path\": \"src/models/people.cloesce.ts\""));
    assert!(!cidl.contains("\"source_path\": \"/"));
}

#[test]
fn bom_and_crlf_are_handled() {
    let (path, bytes) = model_inputs("small")
        .into_iter()
        .find(|(p, _)| p.ends_with(".ts"))
        .unwrap();
    let plain = run(
        "cloesce/extract",
        &[(path.clone(), bytes.clone())],
        &["cidl.json"],
        &[],
    )
    .unwrap();
    let text = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(text.as_bytes());
    let crlf = run("cloesce/extract", &[(path, with_bom)], &["cidl.json"], &[]).unwrap();
    assert_eq!(plain, crlf);
}

#[test]
fn default_pipeline_names_only_registered_builtins_and_settings() {
    let registry = cloesce_rules::registry();
    let names: Vec<&str> = registry.names().collect();
    assert_eq!(
        names,
        [
            "cloesce/client",
            "cloesce/d1",
            "cloesce/extract",
            "cloesce/validate",
            "cloesce/workers",
            "cloesce/wrangler"
        ]
    );
    for line in cloesce_rules::DEFAULT_PIPELINE
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("builtin "))
    {
        let mut parts = line.split_whitespace().skip(1);
        let name = parts.next().unwrap().trim_matches('"');
        let builtin = registry
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not registered"));
        for setting in parts {
            let key = setting.split('=').next().unwrap();
            assert!(
                builtin.settings().contains(&key),
                "{name} does not accept {key}"
            );
        }
    }
}

/// `declared_as` names `boolean` and `Date` through every wrapper the type
/// mapping looks through, on columns, parameters and returns; other types have
/// none, and an IR without it still loads (docs/ir.md).
#[test]
fn declared_as_names_booleans_and_dates_through_wrappers() {
    let src = r#"
@WranglerEnv
export class Env { db: D1Database; }
@D1
export class A {
  @PrimaryKey id: number;
  flag: boolean;
  maybe?: Boolean;
  either: true | false | null;
  when: Date | null;
  name: string;
  count: number;
  @POST static async f(on: Date[], ok: boolean | undefined, n: number, @Inject env: Env): Promise<HttpResult<(Date | null)[]>> { return { ok: true, status: 200, data: [] }; }
  @GET static async g(): Promise<boolean> { return true; }
  @GET static async h(): Promise<string> { return ""; }
}
"#;
    let inputs = vec![("src/a.cloesce.ts".to_string(), src.as_bytes().to_vec())];
    let out = run("cloesce/extract", &inputs, &[".generated/cidl.json"], &[]).unwrap();
    let ast = cloesce_rules::ir::from_json(&out.files[0].1).unwrap();
    let a = &ast.models["A"];
    let declared = |v: &cloesce_rules::ir::NamedTypedValue| v.declared_as.map(|d| d.as_str());
    let columns: Vec<_> = a
        .attributes
        .iter()
        .map(|x| (x.value.name.as_str(), declared(&x.value)))
        .collect();
    assert_eq!(
        columns,
        [
            ("flag", Some("Boolean")),
            ("maybe", Some("Boolean")),
            ("either", Some("Boolean")),
            ("when", Some("Date")),
            ("name", None),
            ("count", None),
        ]
    );
    assert_eq!(declared(&a.primary_key), None);
    let f = &a.methods["f"];
    let params: Vec<_> = f.parameters.iter().map(declared).collect();
    assert_eq!(params, [Some("Date"), Some("Boolean"), None, None]);
    assert_eq!(f.return_declared_as.map(|d| d.as_str()), Some("Date"));
    assert_eq!(
        a.methods["g"].return_declared_as.map(|d| d.as_str()),
        Some("Boolean")
    );
    assert_eq!(a.methods["h"].return_declared_as, None);

    // Absent, the field is left out of the JSON, and the IR reads without it.
    let json = String::from_utf8(out.files[0].1.clone()).unwrap();
    assert_eq!(json.matches("\"declared_as\"").count(), 6);
    let old = json
        .replace(
            ",\n                        \"declared_as\": \"Boolean\"",
            "",
        )
        .replace(",\n                        \"declared_as\": \"Date\"", "");
    let old_ast = cloesce_rules::ir::from_json(old.as_bytes()).unwrap();
    assert_eq!(old_ast.models["A"].attributes[0].value.declared_as, None);
}
