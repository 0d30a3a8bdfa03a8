//! `cloesce/client`: a typed fetch client (`client.ts`, MODEL-LANGUAGE §4.5,
//! with the R fixes: the real primary-key name in instance URLs, and the
//! returned model's class for instantiation).
//!
//! Runtime contract (also in docs/ir.md): the file imports exactly
//! `import { type HttpResult, instantiateModelArray } from "cloesce";`.

use cloesce_engine::builtin::{Builtin, BuiltinFailure, BuiltinOutput, BuiltinRequest};

use crate::diag::{self, RuleDiagnostic};
use crate::ir::{CidlType, CloesceAst, HttpVerb, Model, ModelMethod, NavigationKind};
use crate::validate;
use crate::workers::GENERATED_HEADER;

/// The client's import of the runtime package.
pub const RUNTIME_IMPORT: &str =
    "import { type HttpResult, instantiateModelArray } from \"cloesce\";\n";

/// The TypeScript type of an IR type, as seen by the client.
pub fn ts_type(ty: &CidlType) -> String {
    match ty {
        CidlType::Void => "void".into(),
        CidlType::Integer | CidlType::Real => "number".into(),
        CidlType::Text => "string".into(),
        CidlType::Blob => "Uint8Array".into(),
        CidlType::Inject(n) | CidlType::Model(n) => n.clone(),
        CidlType::Array(inner) => match **inner {
            CidlType::Nullable(_) => format!("({})[]", ts_type(inner)),
            _ => format!("{}[]", ts_type(inner)),
        },
        CidlType::HttpResult(inner) => ts_type(inner),
        CidlType::Nullable(inner) => match **inner {
            CidlType::Void => "null".into(),
            _ => format!("{} | null", ts_type(inner)),
        },
    }
}

fn js_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn class(ast: &CloesceAst, model: &Model, domain: &str) -> String {
    let mut out = format!("export class {} {{\n", model.name);
    let pk = &model.primary_key;
    out.push_str(&format!("  {}!: {};\n", pk.name, ts_type(&pk.cidl_type)));
    for attr in &model.attributes {
        out.push_str(&format!(
            "  {}!: {};\n",
            attr.value.name,
            ts_type(&attr.value.cidl_type)
        ));
    }
    for nav in &model.navigation_properties {
        match nav.kind {
            NavigationKind::OneToOne { .. } => out.push_str(&format!(
                "  {}: {} | undefined = undefined;\n",
                nav.var_name, nav.model_name
            )),
            _ => out.push_str(&format!("  {}: {}[] = [];\n", nav.var_name, nav.model_name)),
        }
    }
    let data_sources: Vec<String> = model.data_sources.keys().map(|k| js_string(k)).collect();
    let ds_type = if data_sources.is_empty() {
        "null".to_string()
    } else {
        format!("{} | null", data_sources.join(" | "))
    };
    for method in model.methods.values() {
        out.push('\n');
        out.push_str(&method_text(ast, model, method, domain, &ds_type));
    }
    out.push_str("}\n");
    out
}

fn method_text(
    ast: &CloesceAst,
    model: &Model,
    method: &ModelMethod,
    domain: &str,
    ds_type: &str,
) -> String {
    let params: Vec<_> = method
        .parameters
        .iter()
        .filter(|p| !matches!(p.cidl_type.root(), CidlType::Inject(_)))
        .collect();
    let mut sig: Vec<String> = params
        .iter()
        .map(|p| format!("{}: {}", p.name, ts_type(&p.cidl_type)))
        .collect();
    sig.push(format!("dataSource: {ds_type} = null"));
    let inner = match &method.return_type {
        CidlType::HttpResult(inner) => &**inner,
        other => other,
    };
    let ret = ts_type(inner);
    let mut s = format!(
        "  {}async {}({}): Promise<HttpResult<{ret}>> {{\n",
        if method.is_static { "static " } else { "" },
        method.name,
        sig.join(", ")
    );
    // The domain is user text: escape it for a template literal.
    let base = domain
        .replace('\\', "\\\\")
        .replace('`', "\\`")
        .replace("${", "\\${");
    let path = if method.is_static {
        format!("{base}/{}/{}", model.name, method.name)
    } else {
        format!(
            "{base}/{}/${{encodeURIComponent(String(this.{}))}}/{}",
            model.name, model.primary_key.name, method.name
        )
    };
    s.push_str(&format!("    const url = new URL(`{path}`);\n"));
    s.push_str(
        "    if (dataSource !== null) url.searchParams.append(\"dataSource\", dataSource);\n",
    );
    if method.http_verb == HttpVerb::GET {
        for p in &params {
            s.push_str(&format!(
                "    url.searchParams.append({}, String({}));\n",
                js_string(&p.name),
                p.name
            ));
        }
        s.push_str("    const res = await fetch(url, { method: \"GET\" });\n");
    } else {
        let body: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let body = if body.is_empty() {
            "{}".to_string()
        } else {
            format!("{{ {} }}", body.join(", "))
        };
        s.push_str(&format!(
            "    const res = await fetch(url, {{\n      method: \"{}\",\n      headers: {{ \"Content-Type\": \"application/json\" }},\n      body: JSON.stringify({body}),\n    }});\n",
            method.http_verb.as_str()
        ));
    }
    s.push_str("    const raw: any = await res.json();\n    if (!raw.ok) return raw;\n");
    match inner.non_null() {
        CidlType::Model(x) if ast.models.contains_key(x) => {
            s.push_str(&format!(
                "    if (raw.data != null) raw.data = Object.assign(new {x}(), raw.data);\n"
            ));
        }
        CidlType::Array(el) => {
            if let CidlType::Model(x) = el.non_null() {
                if ast.models.contains_key(x) {
                    s.push_str(&format!("    if (raw.data != null) raw.data = instantiateModelArray(raw.data, {x});\n"));
                }
            }
        }
        _ => {}
    }
    s.push_str("    return raw;\n  }\n");
    s
}

/// Renders `client.ts` for the API at `domain` (e.g. `http://localhost:8787/api`).
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
        out.push_str(&class(ast, model, domain));
    }
    Ok(out)
}

/// `cloesce/client`.
pub struct Client;

impl Builtin for Client {
    fn name(&self) -> &'static str {
        "cloesce/client"
    }
    fn version(&self) -> u32 {
        1
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
