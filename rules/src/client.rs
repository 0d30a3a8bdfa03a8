//! `cloesce/client`: a typed fetch client (`client.ts`, MODEL-LANGUAGE §4.5,
//! with the R fixes and docs/runtime.md's "The generated client").
//!
//! Each model gets a `<Model>Data` interface (what a model parameter
//! accepts: plain object literals), a class whose methods call the API, and a
//! `static ref(key)`. The requests, the base URL and fetch, and turning
//! answers into instances at every depth are the runtime's `defineClient`
//! (tested in tests/runtime); this file only describes the models to it.
//!
//! Runtime contract (also in docs/ir.md): the file imports exactly
//! `import { type HttpResult, type ClientOptions, defineClient } from "cloesce";`.

use std::fmt::Write as _;

use cloesce_engine::builtin::{Builtin, BuiltinFailure, BuiltinOutput, BuiltinRequest};

use crate::diag::{self, RuleDiagnostic};
use crate::ir::{
    CidlType, CloesceAst, DeclaredAs, HttpVerb, Model, ModelMethod, NamedTypedValue, NavigationKind,
};
use crate::validate;
use crate::workers::{js_string, GENERATED_HEADER};

/// The client's import of the runtime package.
pub const RUNTIME_IMPORT: &str =
    "import { type HttpResult, type ClientOptions, defineClient } from \"cloesce\";\n";

/// The module-level binding that holds the client's model description.
const CLIENT_CONST: &str = "cloesceClient";

/// Which side of the wire a TypeScript type describes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// What a method returns: model classes.
    Returned,
    /// What a parameter accepts: the models' `<Model>Data` shapes.
    Sent,
}

/// The TypeScript type of an IR type, as seen by the client; `declared` is
/// what its root scalar was declared as (`boolean`, `Date`).
pub fn ts_type(ty: &CidlType, declared: Option<DeclaredAs>, side: Side) -> String {
    let mut out = String::new();
    write_ts_type(&mut out, ty, declared, side);
    out
}

/// [`ts_type`], appended to `out` (a type per column of every model: no
/// string of its own).
fn write_ts_type(out: &mut String, ty: &CidlType, declared: Option<DeclaredAs>, side: Side) {
    match ty {
        CidlType::Void => out.push_str("void"),
        CidlType::Integer if declared == Some(DeclaredAs::Boolean) => out.push_str("boolean"),
        CidlType::Text if declared == Some(DeclaredAs::Date) => out.push_str("Date"),
        CidlType::Integer | CidlType::Real => out.push_str("number"),
        CidlType::Text => out.push_str("string"),
        CidlType::Blob => out.push_str("Uint8Array"),
        CidlType::Model(n) if side == Side::Sent => out.push_str(&data_name(n)),
        CidlType::Inject(n) | CidlType::Model(n) => out.push_str(n),
        CidlType::Array(inner) => match **inner {
            CidlType::Nullable(_) => {
                out.push('(');
                write_ts_type(out, inner, declared, side);
                out.push_str(")[]");
            }
            _ => {
                write_ts_type(out, inner, declared, side);
                out.push_str("[]");
            }
        },
        CidlType::HttpResult(inner) => write_ts_type(out, inner, declared, side),
        CidlType::Nullable(inner) => match **inner {
            CidlType::Void => out.push_str("null"),
            _ => {
                write_ts_type(out, inner, declared, side);
                out.push_str(" | null");
            }
        },
    }
}

/// The name of a model's data-shape interface.
pub fn data_name(model: &str) -> String {
    format!("{model}Data")
}

/// Appends formatted text to `out` without an intermediate string.
fn put(out: &mut String, args: std::fmt::Arguments<'_>) {
    // Writing into a String cannot fail.
    let _ = out.write_fmt(args);
}

fn value_type(v: &NamedTypedValue, side: Side) -> String {
    ts_type(&v.cidl_type, v.declared_as, side)
}

/// The primary key and the columns, one declaration a line: definite (`!`)
/// in the class; in `<Model>Data` the key and the nullable columns optional.
fn columns(model: &Model, side: Side) -> String {
    let pk = std::iter::once((&model.primary_key, true));
    let attrs = model.attributes.iter().map(|a| (&a.value, false));
    let mut out = String::new();
    for (v, is_pk) in pk.chain(attrs) {
        let mark = match side {
            Side::Returned => "!",
            Side::Sent if is_pk || matches!(v.cidl_type, CidlType::Nullable(_)) => "?",
            Side::Sent => "",
        };
        for part in ["  ", &v.name, mark, ": "] {
            out.push_str(part);
        }
        write_ts_type(&mut out, &v.cidl_type, v.declared_as, side);
        out.push_str(";\n");
    }
    out
}

/// `<Model>Data`: the columns (the primary key and nullable columns may be
/// left out, as the runtime allows) and the relations, optional.
fn data_interface(model: &Model) -> String {
    let mut out = format!(
        "/** The data of one {m}: what a {m} parameter accepts (plain objects work). */\nexport interface {} {{\n",
        data_name(&model.name),
        m = model.name
    );
    out.push_str(&columns(model, Side::Sent));
    for nav in &model.navigation_properties {
        let data = data_name(&nav.model_name);
        match nav.kind {
            NavigationKind::OneToOne { .. } => put(
                &mut out,
                format_args!("  {}?: {data} | null;\n", nav.var_name),
            ),
            _ => put(&mut out, format_args!("  {}?: {data}[];\n", nav.var_name)),
        }
    }
    out.push_str("}\n");
    out
}

/// The model class: columns, relations, `ref`, one method per API method.
fn class(ast: &CloesceAst, model: &Model) -> String {
    let mut out = format!(
        "export class {} implements {} {{\n",
        model.name,
        data_name(&model.name)
    );
    out.push_str(&columns(model, Side::Returned));
    let pk = &model.primary_key;
    for nav in &model.navigation_properties {
        match nav.kind {
            NavigationKind::OneToOne { .. } => put(
                &mut out,
                format_args!(
                    "  {}: {} | undefined = undefined;\n",
                    nav.var_name, nav.model_name
                ),
            ),
            _ => put(
                &mut out,
                format_args!("  {}: {}[] = [];\n", nav.var_name, nav.model_name),
            ),
        }
    }
    put(&mut out, format_args!(
        "\n  /** The {m} with this primary key, to call its instance methods on. */\n  static ref(key: {}): {m} {{\n    const it = new this();\n    it.{} = key;\n    return it;\n  }}\n",
        value_type(pk, Side::Returned),
        pk.name,
        m = model.name
    ));
    let data_sources: Vec<String> = model.data_sources.keys().map(|k| js_string(k)).collect();
    let ds_type = if data_sources.is_empty() {
        "null".to_string()
    } else {
        format!("{} | null", data_sources.join(" | "))
    };
    for method in model.methods.values() {
        out.push('\n');
        write_method(&mut out, ast, model, method, &ds_type);
    }
    out.push_str("}\n");
    out
}

/// How the runtime turns a method's answer into what it declares.
fn returns_spec(ast: &CloesceAst, method: &ModelMethod) -> Option<String> {
    match method.return_type.root() {
        CidlType::Model(x) if ast.models.contains_key(x) => {
            Some(format!("{{ model: {} }}", js_string(x)))
        }
        CidlType::Integer | CidlType::Text => method
            .return_declared_as
            .map(|d| format!("{{ as: {} }}", js_string(d.as_str()))),
        _ => None,
    }
}

/// Appends one API method of `model`'s class to `out`.
fn write_method(
    out: &mut String,
    ast: &CloesceAst,
    model: &Model,
    method: &ModelMethod,
    ds_type: &str,
) {
    let params: Vec<_> = method
        .parameters
        .iter()
        .filter(|p| !matches!(p.cidl_type.root(), CidlType::Inject(_)))
        .collect();
    out.push_str(if method.is_static {
        "  static async "
    } else {
        "  async "
    });
    out.push_str(&method.name);
    out.push('(');
    for p in &params {
        out.push_str(&p.name);
        out.push_str(": ");
        write_ts_type(out, &p.cidl_type, p.declared_as, Side::Sent);
        out.push_str(", ");
    }
    put(
        out,
        format_args!("dataSource: {ds_type} = null): Promise<HttpResult<"),
    );
    write_ts_type(
        out,
        &method.return_type,
        method.return_declared_as,
        Side::Returned,
    );
    out.push_str(">> {\n");
    let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    let models: Vec<String> = params
        .iter()
        .filter_map(|p| match p.cidl_type.root() {
            CidlType::Model(x) => Some(format!("{}: {}", p.name, js_string(x))),
            _ => None,
        })
        .collect();
    put(
        out,
        format_args!("    return {CLIENT_CONST}.call(this, {{\n"),
    );
    put(
        out,
        format_args!("      model: {},\n", js_string(&model.name)),
    );
    put(
        out,
        format_args!("      method: {},\n", js_string(&method.name)),
    );
    put(
        out,
        format_args!(
            "      verb: \"{}\",\n      instance: {},\n",
            method.http_verb.as_str(),
            !method.is_static
        ),
    );
    put(
        out,
        format_args!("      params: {},\n", object_literal(&names)),
    );
    if !models.is_empty() && method.http_verb != HttpVerb::GET {
        put(
            out,
            format_args!("      models: {},\n", object_literal(&models)),
        );
    }
    out.push_str("      dataSource,\n");
    if let Some(returns) = returns_spec(ast, method) {
        put(out, format_args!("      returns: {returns},\n"));
    }
    out.push_str("    });\n  }\n");
}

/// `{ a, b }` on one line, `{}` when empty.
fn object_literal(entries: &[String]) -> String {
    if entries.is_empty() {
        "{}".into()
    } else {
        format!("{{ {} }}", entries.join(", "))
    }
}

/// The model description `defineClient` works from: each model's primary key,
/// its `boolean`/`Date` columns and its relations' models.
fn client_definition(ast: &CloesceAst, domain: &str) -> String {
    let names: Vec<&str> = ast.models.keys().map(String::as_str).collect();
    let mut out = format!(
        "\nconst {CLIENT_CONST} = defineClient(\n  {{ {} }},\n  {{\n",
        names.join(", ")
    );
    for model in ast.models.values() {
        let fields: Vec<String> = model
            .attributes
            .iter()
            .filter_map(|a| {
                let declared = a.value.declared_as?;
                Some(format!(
                    "{}: {}",
                    js_string(&a.value.name),
                    js_string(declared.as_str())
                ))
            })
            .collect();
        let relations: Vec<String> = model
            .navigation_properties
            .iter()
            .map(|n| format!("{}: {}", js_string(&n.var_name), js_string(&n.model_name)))
            .collect();
        put(
            &mut out,
            format_args!(
                "    {}: {{ key: {}, fields: {}, relations: {} }},\n",
                model.name,
                js_string(&model.primary_key.name),
                object_literal(&fields),
                object_literal(&relations)
            ),
        );
    }
    put(
        &mut out,
        format_args!("  }},\n  {},\n);\n", js_string(domain)),
    );
    let types: Vec<String> = names.iter().map(|n| format!("{n}: typeof {n}")).collect();
    put(&mut out, format_args!(
        "\n/**\n * The models with their own base URL and fetch (node_modules/cloesce/docs/runtime.md), e.g.\n * `const api = createClient({{ baseUrl: \"/api\" }})`.\n */\nexport function createClient(options: ClientOptions): {{ {} }} {{\n  return {CLIENT_CONST}.bind(options);\n}}\n",
        types.join("; ")
    ));
    out
}

/// Renders `client.ts` for the API at `domain` (e.g. `http://localhost:8787/api`),
/// the base URL used unless one is set at run time.
pub fn generate(ast: &CloesceAst, domain: &str) -> Result<String, RuleDiagnostic> {
    let domain = domain.trim_end_matches('/');
    if !(domain.starts_with("http://") || domain.starts_with("https://")) {
        return Err(RuleDiagnostic::new(
            "cloesce::client::domain",
            format!("The client domain `{domain}` is not an http(s) URL"),
        )
        .with_help(
            "set the `domain` setting to the API's base URL, e.g. `http://localhost:8787/api`",
        ));
    }
    let mut out = String::from(GENERATED_HEADER);
    out.push_str(RUNTIME_IMPORT);
    for model in ast.models.values() {
        out.push('\n');
        out.push_str(&data_interface(model));
        out.push('\n');
        out.push_str(&class(ast, model));
    }
    out.push_str(&client_definition(ast, domain));
    Ok(out)
}

/// `cloesce/client`.
pub struct Client;

impl Builtin for Client {
    fn name(&self) -> &'static str {
        "cloesce/client"
    }
    fn version(&self) -> u32 {
        2
    }
    fn description(&self) -> &'static str {
        "write the typed fetch client"
    }
    fn settings(&self) -> &'static [&'static str] {
        &["domain"]
    }
    fn run(&self, request: &BuiltinRequest<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let (path, bytes) = validate::ir_input(request)?;
        let ast = validate::load(bytes, path)?;
        let out = crate::single_output(request)?;
        let domain = request
            .settings
            .get("domain")
            .map(String::as_str)
            .unwrap_or("http://localhost:8787/api");
        let text = generate(&ast, domain).map_err(diag::fail)?;
        Ok(BuiltinOutput {
            files: vec![(out, text.into_bytes())],
            log: String::new(),
        })
    }
}
