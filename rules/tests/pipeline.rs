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
