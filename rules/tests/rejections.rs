//! One case per rejection in MODEL-LANGUAGE.md (and cloesce's own), each
//! asserting the diagnostic code and snapshotting the rendered message.

use crate::common::{render, run};

const ENV: &str = "@WranglerEnv\nexport class Env {\n  db: D1Database;\n}\n\n";

/// Extracts `files` and expects a failure carrying `code`; returns the
/// rendered diagnostics.
fn reject(files: &[(&str, &str)], code: &str) -> String {
    let inputs: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(p, s)| (p.to_string(), s.as_bytes().to_vec()))
        .collect();
    let failure = run("cloesce/extract", &inputs, &[".generated/cidl.json"], &[])
        .expect_err("extraction should fail");
    let rendered = render(&failure);
    assert!(
        rendered.contains(&format!("cloesce::model::{code}")),
        "expected {code}, got:\n{rendered}"
    );
    rendered
}

/// A single model file `src/m.cloesce.ts` holding the env and `body`.
fn one(body: &str, code: &str) -> String {
    reject(&[("src/m.cloesce.ts", &format!("{ENV}{body}"))], code)
}

macro_rules! case {
    ($name:ident, $code:literal, $body:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(one($body, $code));
        }
    };
}

case!(
    missing_primary_key,
    "missing_primary_key",
    "@D1\nexport class A {\n  name: string;\n}\n"
);
case!(
    multiple_primary_keys,
    "multiple_primary_keys",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @PrimaryKey other: number;\n}\n"
);
case!(
    nullable_primary_key,
    "nullable_primary_key",
    "@D1\nexport class A {\n  @PrimaryKey id: number | null;\n}\n"
);
case!(data_source_not_literal, "data_source_initializer", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @DataSource static readonly all: IncludeTree<A> = {} as any;\n}\n");
case!(data_source_missing, "data_source_initializer", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @DataSource static readonly all: IncludeTree<A>;\n}\n");
case!(include_tree_not_object, "include_tree_literal", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @OneToMany(\"aId\") bs: B[];\n  @DataSource static readonly all: IncludeTree<A> = { bs: true };\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ForeignKey(A) aId: number;\n}\n");
case!(include_tree_scalar, "include_tree_scalar", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  name: string;\n  @DataSource static readonly all: IncludeTree<A> = { name: {} };\n}\n");
case!(include_tree_unknown_key, "include_tree_unknown_key", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @OneToMany(\"aId\") bs: B[];\n  @DataSource static readonly all: IncludeTree<A> = { bs: { nope: {} } };\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ForeignKey(A) aId: number;\n}\n");
case!(
    navigation_argument,
    "navigation_argument",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @OneToOne() b: A | undefined;\n}\n"
);
case!(
    navigation_type,
    "navigation_type",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @OneToMany(\"aId\") bs: number[];\n}\n"
);
case!(
    foreign_key_argument,
    "foreign_key_argument",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ForeignKey() bId: number;\n}\n"
);
case!(
    multiple_generics,
    "multiple_generics",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  tags: Map<string, number>;\n}\n"
);
case!(
    unknown_generic,
    "unknown_generic",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  tags: Set<string>;\n}\n"
);
case!(
    unsupported_union,
    "unsupported_union",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  value: string | number;\n}\n"
);
case!(
    unsupported_type,
    "unsupported_type",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  big: bigint;\n}\n"
);
case!(
    invalid_sql_type,
    "invalid_sql_type",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  tags: string[];\n}\n"
);
case!(
    null_column,
    "null_column",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  nothing: null;\n}\n"
);
case!(
    unknown_foreign_key_model,
    "unknown_foreign_key_model",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ForeignKey(Ghost) ghostId: number;\n}\n"
);
case!(foreign_key_type_mismatch, "foreign_key_type_mismatch", "@D1\nexport class A {\n  @PrimaryKey id: string;\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ForeignKey(A) aId: number;\n}\n");
case!(
    unknown_navigation_model,
    "unknown_navigation_model",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @OneToMany(\"aId\") ghosts: Ghost[];\n}\n"
);
case!(unknown_return_model, "unknown_return_model", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async all(): Promise<Ghost[]> { return []; }\n}\n");
case!(void_parameter, "void_parameter", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @POST static async f(x: void): Promise<void> {}\n}\n");
case!(unknown_parameter_model, "unknown_parameter_model", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @POST static async f(req: Request): Promise<void> {}\n}\n");
case!(get_model_parameter, "get_model_parameter", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async f(a: A): Promise<void> {}\n}\n");
case!(get_array_parameter, "get_array_parameter", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async f(ids: number[]): Promise<void> {}\n}\n");
case!(inject_not_env, "inject_not_env", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async f(@Inject env: NotEnv): Promise<void> {}\n}\n");
case!(inject_wrapped, "inject_wrapped", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async f(@Inject env: Env | null): Promise<void> {}\n}\n");
case!(reserved_method, "reserved_method", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async ref(): Promise<void> {}\n}\n");
case!(reserved_data_name, "reserved_model_name", "@D1\nexport class A {\n  @PrimaryKey id: number;\n}\n@D1\nexport class AData {\n  @PrimaryKey id: number;\n}\n");
case!(reserved_parameter, "reserved_parameter", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async f(dataSource: string): Promise<void> {}\n}\n");
case!(
    missing_return_type,
    "missing_return_type",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async f() {}\n}\n"
);
case!(
    missing_type,
    "missing_type",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  name;\n}\n"
);
case!(multiple_verbs, "multiple_verbs", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET @POST static async f(): Promise<void> {}\n}\n");
case!(duplicate_member, "duplicate_member", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @GET static async f(): Promise<void> {}\n  @POST static async f(): Promise<void> {}\n}\n");
case!(
    unknown_property_decorator,
    "unknown_decorator",
    "@D1\nexport class A {\n  @PrimaryKy id: number;\n}\n"
);
case!(
    unknown_class_decorator,
    "unknown_decorator",
    "@D2\nexport class A {\n  @PrimaryKey id: number;\n}\n"
);
case!(
    multiple_decorators,
    "multiple_decorators",
    "@D1\nexport class A {\n  @PrimaryKey @ForeignKey(A) id: number;\n}\n"
);
case!(
    misplaced_decorator,
    "misplaced_decorator",
    "@D1\nexport class A {\n  @GET id: number;\n}\n"
);
case!(cycle, "cycle", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ForeignKey(B) bId: number;\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ForeignKey(A) aId: number;\n}\n");
case!(cycle_names_only_cycle_members, "cycle", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ForeignKey(B) bId: number;\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ForeignKey(A) aId: number;\n}\n@D1\nexport class C {\n  @PrimaryKey id: number;\n  @ForeignKey(A) aId: number;\n}\n");
case!(one_to_one_reference, "one_to_one_reference", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  bId: number;\n  @OneToOne(\"bId\") b: B | undefined;\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n}\n");
case!(one_to_one_mismatch, "one_to_one_mismatch", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ForeignKey(C) cId: number;\n  @OneToOne(\"cId\") b: B | undefined;\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n}\n@D1\nexport class C {\n  @PrimaryKey id: number;\n}\n");
case!(one_to_many_reference, "one_to_many_reference", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @OneToMany(\"aId\") bs: B[];\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n}\n");
case!(one_to_many_mismatch, "one_to_many_mismatch", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @OneToMany(\"cId\") bs: B[];\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ForeignKey(C) cId: number;\n}\n@D1\nexport class C {\n  @PrimaryKey id: number;\n}\n");
case!(junction_one_side, "junction_one_side", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ManyToMany(\"AB\") bs: B[];\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n}\n");
case!(junction_too_many, "junction_too_many", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ManyToMany(\"AB\") bs: B[];\n  @ManyToMany(\"AB\") cs: B[];\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ManyToMany(\"AB\") as: A[];\n}\n");
case!(junction_mismatch, "junction_mismatch", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ManyToMany(\"AB\") bs: B[];\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ManyToMany(\"AB\") cs: C[];\n}\n@D1\nexport class C {\n  @PrimaryKey id: number;\n}\n");
case!(junction_self, "junction_self", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ManyToMany(\"Friends\") friends: A[];\n  @ManyToMany(\"Friends\") friendOf: A[];\n}\n");
case!(junction_name_taken, "junction_name_taken", "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @ManyToMany(\"B\") bs: B[];\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  @ManyToMany(\"B\") as: A[];\n}\n");
case!(
    parse_error,
    "parse_error",
    "@D1\nexport class A {\n  @PrimaryKey id: number\n  name: string = ;\n}\n"
);
case!(
    parse_error_expected,
    "parse_error",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  get(x: number {\n    return x;\n  }\n}\n"
);

#[test]
fn missing_env() {
    insta::assert_snapshot!(reject(
        &[(
            "src/a.cloesce.ts",
            "@D1\nexport class A {\n  @PrimaryKey id: number;\n}\n"
        )],
        "missing_env"
    ));
}

#[test]
fn too_many_envs() {
    insta::assert_snapshot!(reject(
        &[
            ("src/a.cloesce.ts", ENV),
            (
                "src/b.cloesce.ts",
                "@WranglerEnv\nexport class Env2 {\n  db: D1Database;\n}\n"
            )
        ],
        "too_many_envs"
    ));
}

#[test]
fn duplicate_model_names_both_files() {
    let a = "@D1\nexport class Horse {\n  @PrimaryKey id: number;\n}\n";
    let rendered = reject(
        &[
            ("src/a.cloesce.ts", &format!("{ENV}{a}")),
            ("src/b.cloesce.ts", a),
        ],
        "duplicate_model",
    );
    assert!(rendered.contains("Duplicate model name 'Horse' (src/a.cloesce.ts, src/b.cloesce.ts)"));
    insta::assert_snapshot!(rendered);
}

#[test]
fn not_utf8() {
    let inputs = vec![(
        "src/a.cloesce.ts".to_string(),
        b"@D1 class A { \xff }".to_vec(),
    )];
    let failure = run("cloesce/extract", &inputs, &["cidl.json"], &[]).unwrap_err();
    let rendered = render(&failure);
    assert!(rendered.contains("cloesce::model::not_utf8"));
    insta::assert_snapshot!(rendered);
}

#[test]
fn all_problems_in_one_pass() {
    let rendered = one(
        "@D1\nexport class A {\n  @PrimaryKy id: number;\n  x: bigint;\n}\n@D1\nexport class B {\n  @PrimaryKey id: number;\n  y: string | number;\n  @GET static async f() {}\n}\n",
        "unknown_decorator",
    );
    for code in [
        "unsupported_type",
        "unsupported_union",
        "missing_return_type",
    ] {
        assert!(rendered.contains(code), "{code} missing:\n{rendered}");
    }
    // The bad `@PrimaryKy` is the cause; no cascading "missing primary key".
    assert!(!rendered.contains("missing_primary_key"), "{rendered}");
}

#[test]
fn every_bad_decorator_on_one_member_is_reported() {
    let rendered = one(
        "@D1\nexport class A {\n  @PrimaryKey @OneToOne(\"x\") @Primarykey @GET id: number;\n  @GET @POST @Inject static async f() {}\n}\n",
        "multiple_decorators",
    );
    for code in [
        "multiple_decorators",
        "unknown_decorator",
        "misplaced_decorator",
        "multiple_verbs",
    ] {
        assert!(
            rendered.contains(&format!("cloesce::model::{code}")),
            "{code} missing:\n{rendered}"
        );
    }
    // Both the property's and the method's misplaced decorators.
    assert!(
        rendered.contains("@GET cannot decorate the property A.id"),
        "{rendered}"
    );
    assert!(
        rendered.contains("@Inject cannot decorate the method A.f"),
        "{rendered}"
    );
}

#[test]
fn spans_point_at_the_member() {
    let rendered = one(
        "@D1\nexport class A {\n  @PrimaryKey id: number;\n  tags: string[];\n}\n",
        "invalid_sql_type",
    );
    assert!(
        rendered.contains("Begin snippet for src/m.cloesce.ts"),
        "{rendered}"
    );
    assert!(
        rendered.contains("label at line 9, columns 3 to 6"),
        "{rendered}"
    );
}

#[test]
fn validate_rule_names_the_model_file() {
    let ir = r#"{"version":"v0.0.2","project_name":"p","language":"TypeScript",
      "wrangler_env":{"name":"Env","source_path":"src/env.cloesce.ts"},
      "models":{"Wrong":{"name":"A","attributes":[],"primary_key":{"name":"id","cidl_type":"Integer"},
        "navigation_properties":[],"methods":{},"data_sources":{},"source_path":"src/a.cloesce.ts"}}}"#;
    let failure = run(
        "cloesce/validate",
        &[("x/cidl.json".to_string(), ir.as_bytes().to_vec())],
        &[],
        &[],
    )
    .unwrap_err();
    let rendered = render(&failure);
    assert!(
        rendered.contains("cloesce::model::key_mismatch") && rendered.contains("src/a.cloesce.ts"),
        "{rendered}"
    );
    insta::assert_snapshot!(rendered);
    let failure = run(
        "cloesce/d1",
        &[("x/cidl.json".to_string(), b"{".to_vec())],
        &["x.sql"],
        &[],
    )
    .unwrap_err();
    assert!(render(&failure).contains("cloesce::ir::invalid"));
}

#[test]
fn workers_requires_a_d1_binding_and_a_matching_env_field() {
    let src = "@WranglerEnv\nexport class Env {\n  database: D1Database;\n}\n@D1\nexport class A {\n  @PrimaryKey id: number;\n}\n";
    let cidl = run(
        "cloesce/extract",
        &[("src/a.cloesce.ts".to_string(), src.as_bytes().to_vec())],
        &[".generated/cidl.json"],
        &[],
    )
    .unwrap()
    .files[0]
        .1
        .clone();
    let ir = (".generated/cidl.json".to_string(), cidl);
    let no_db = (
        ".generated/wrangler.toml".to_string(),
        b"name = \"x\"\n".to_vec(),
    );
    let failure = run(
        "cloesce/workers",
        &[ir.clone(), no_db],
        &[".generated/workers.ts"],
        &[],
    )
    .unwrap_err();
    let rendered = render(&failure);
    assert!(
        rendered.contains("cloesce::workers::no_d1_binding"),
        "{rendered}"
    );
    insta::assert_snapshot!("workers_no_d1_binding", rendered);
    let db = (
        ".generated/wrangler.toml".to_string(),
        b"[[d1_databases]]\nbinding = \"db\"\n".to_vec(),
    );
    let failure = run(
        "cloesce/workers",
        &[ir, db],
        &[".generated/workers.ts"],
        &[],
    )
    .unwrap_err();
    let rendered = render(&failure);
    assert!(
        rendered.contains("cloesce::workers::env_missing_binding"),
        "{rendered}"
    );
    insta::assert_snapshot!("workers_env_missing_binding", rendered);
}

#[test]
fn garbage_never_panics() {
    let samples: &[&[u8]] = &[
        b"", b"@", b"@D1", b"@D1 class", b"@D1 class A { @PrimaryKey", b"@D1 export default class { }",
        b"@D1 class A { @DataSource static x = { a: { b: { c: [] } } } }", b"@WranglerEnv class E { [k: string]: any }",
        b"@D1 class A { @PrimaryKey #id: number; ['x']: string; get y() { return 1 } constructor() {} }",
        b"@D1 class A { @PrimaryKey id: number; @GET static f(...xs: number[]): void {} }",
        b"@D1 class A { @PrimaryKey id: (((number))); @OneToOne(1) b: A; @ManyToMany(\"J\") c: A }",
        b"\xEF\xBB\xBF", b"\x00\x01", "é🙂".as_bytes(),
    ];
    for s in samples {
        let _ = run(
            "cloesce/extract",
            &[("a.cloesce.ts".to_string(), s.to_vec())],
            &["cidl.json"],
            &[],
        );
    }
}

case!(
    destructured_parameter,
    "destructured_parameter",
    "@D1\nexport class A {\n  @PrimaryKey id: number;\n  @POST static async f({ id }: A): Promise<void> {}\n}\n"
);

case!(
    reserved_model_name,
    "reserved_model_name",
    "@D1\nexport class HttpResult {\n  @PrimaryKey id!: number;\n}\n"
);

#[test]
fn ir_with_duplicate_keys_is_rejected() {
    let model = r#"{"name":"A","attributes":[],"primary_key":{"name":"id","cidl_type":"Integer"},
        "navigation_properties":[],"methods":{},"data_sources":{},"source_path":"a.cloesce.ts"}"#;
    let ir = format!(
        r#"{{"version":"v0.0.2","project_name":"p","language":"TypeScript",
        "wrangler_env":{{"name":"Env","source_path":"a.cloesce.ts"}},"models":{{"A":{model},"A":{model}}}}}"#
    );
    let failure = run(
        "cloesce/validate",
        &[("cidl.json".to_string(), ir.into_bytes())],
        &[],
        &[],
    )
    .unwrap_err();
    let rendered = render(&failure);
    assert!(
        rendered.contains("duplicate key `A`") && rendered.contains("cloesce::ir::invalid"),
        "{rendered}"
    );
}
