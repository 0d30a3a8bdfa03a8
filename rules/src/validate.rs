//! Semantic validation of the IR (MODEL-LANGUAGE §3.1–3.3).
//!
//! [`check`] finds every problem in one pass and returns them as
//! location-independent [`Problem`]s. The extractor maps each problem's
//! [`Anchor`] to a span in the model file; the `cloesce/validate` rule (which
//! only has `cidl.json`) names the model file in the message instead. Every
//! generator calls [`check`] first, so no generator ever emits output from a
//! bad IR.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cloesce_engine::builtin::{Builtin, BuiltinFailure, BuiltinOutput, BuiltinRequest};
use serde::{Deserialize, Serialize};

use crate::diag::{self, RuleDiagnostic};
use crate::ir::{CidlType, CloesceAst, HttpVerb, IncludeTree, Model, NavigationKind};

/// Where a problem is, in model terms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Anchor {
    /// The whole IR (no model).
    Ast,
    /// The class declaration of a model.
    Model(String),
    /// A property (PK, attribute or navigation property).
    Property(String, String),
    /// A method.
    Method(String, String),
    /// A method parameter.
    Parameter(String, String, String),
    /// A data source.
    DataSource(String, String),
    /// A key inside a data source's include tree: model, data source, the key
    /// path (`owner/clinic`).
    IncludeKey(String, String, String),
}

impl Anchor {
    /// The model this anchor is in.
    pub fn model(&self) -> Option<&str> {
        match self {
            Anchor::Ast => None,
            Anchor::Model(m)
            | Anchor::Property(m, _)
            | Anchor::Method(m, _)
            | Anchor::Parameter(m, _, _)
            | Anchor::DataSource(m, _)
            | Anchor::IncludeKey(m, _, _) => Some(m),
        }
    }
}

/// One semantic problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The last segment of the code (`cloesce::model::<code>`).
    pub code: &'static str,
    pub message: String,
    pub help: String,
    /// The label text shown at the span.
    pub label: String,
    pub anchor: Anchor,
}

fn problem(
    code: &'static str,
    anchor: Anchor,
    message: String,
    label: &str,
    help: impl Into<String>,
) -> Problem {
    Problem {
        code,
        message,
        help: help.into(),
        label: label.to_string(),
        anchor,
    }
}

/// Identifiers the generated `workers.ts` and `client.ts` use themselves.
const RESERVED_NAMES: &[&str] = &[
    "cloesce",
    "cidl",
    "constructorRegistry",
    "instanceRegistry",
    "HttpResult",
    "instantiateModelArray",
    "Request",
    "Response",
    "URL",
    "Object",
    "JSON",
    "Promise",
    "String",
    "cloesceClient",
    "defineClient",
    "createClient",
    "ClientOptions",
];

/// Runs every check and returns all problems, in a deterministic order.
pub fn check(ast: &CloesceAst) -> Vec<Problem> {
    let mut out = Vec::new();
    for (key, model) in &ast.models {
        if model.name == ast.wrangler_env.name || RESERVED_NAMES.contains(&model.name.as_str()) {
            out.push(problem(
                "reserved_model_name",
                Anchor::Model(model.name.clone()),
                format!(
                    "The model name {} is taken (by the @WranglerEnv class or the generated code)",
                    model.name
                ),
                "name taken",
                format!(
                    "rename the model; it may not be called like the env class or any of: {}",
                    RESERVED_NAMES.join(", ")
                ),
            ));
        }
        if let Some(other) = model.name.strip_suffix("Data") {
            if ast.models.contains_key(other) {
                out.push(problem(
                    "reserved_model_name",
                    Anchor::Model(model.name.clone()),
                    format!(
                        "The model name {} is taken: the client calls the data shape of the model {other} `{}`",
                        model.name, model.name
                    ),
                    "name taken",
                    format!("rename {} or {other}", model.name),
                ));
            }
        }
        if key != &model.name {
            out.push(problem(
                "key_mismatch",
                Anchor::Model(model.name.clone()),
                format!(
                    "Model record key '{key}' does not match its model name '{}'",
                    model.name
                ),
                "this model",
                "the IR was edited by hand: make the key in `models` equal the model's `name`",
            ));
        }
        check_columns(ast, model, &mut out);
        check_navigation(ast, model, &mut out);
        check_methods(ast, model, &mut out);
        check_data_sources(ast, model, &mut out);
    }
    check_junctions(ast, &mut out);
    if let Err(cycle) = table_order(ast) {
        out.push(*cycle);
    }
    out
}

fn check_columns(ast: &CloesceAst, model: &Model, out: &mut Vec<Problem>) {
    let m = &model.name;
    let pk = &model.primary_key;
    if matches!(pk.cidl_type, CidlType::Nullable(_)) {
        out.push(problem(
            "nullable_primary_key",
            Anchor::Property(m.clone(), pk.name.clone()),
            format!("The primary key {m}.{} is nullable", pk.name),
            "nullable primary key",
            "a primary key always has a value: remove `| null` (and `?`) from its type",
        ));
    } else if !pk.cidl_type.is_sql_scalar() {
        out.push(invalid_sql_type(m, &pk.name, &pk.cidl_type));
    }
    for attr in &model.attributes {
        let name = &attr.value.name;
        let ty = &attr.value.cidl_type;
        if !ty.non_null().is_sql_scalar()
            || matches!(ty, CidlType::Nullable(inner) if matches!(**inner, CidlType::Nullable(_)))
        {
            out.push(invalid_sql_type(m, name, ty));
            continue;
        }
        if let Some(target) = &attr.foreign_key_reference {
            match ast.models.get(target) {
                None => out.push(problem(
                    "unknown_foreign_key_model",
                    Anchor::Property(m.clone(), name.clone()),
                    format!("Unknown model for foreign key {m}.{name} => {target}"),
                    "unknown model",
                    format!("`@ForeignKey({target})` must name a `@D1` class; check the spelling or add the model"),
                )),
                Some(t) => {
                    let want = t.primary_key.cidl_type.non_null();
                    if want.is_sql_scalar() && ty.non_null() != want {
                        out.push(problem(
                            "foreign_key_type_mismatch",
                            Anchor::Property(m.clone(), name.clone()),
                            format!(
                                "The foreign key {m}.{name} has type {} but {target}.{} is {}",
                                type_name(ty.non_null()),
                                t.primary_key.name,
                                type_name(want)
                            ),
                            "type differs from the target's primary key",
                            format!("give {m}.{name} the same type as {target}.{}", t.primary_key.name),
                        ));
                    }
                }
            }
        }
    }
}

fn invalid_sql_type(m: &str, name: &str, ty: &CidlType) -> Problem {
    if matches!(ty, CidlType::Nullable(inner) if **inner == CidlType::Void) {
        return problem(
            "null_column",
            Anchor::Property(m.to_string(), name.to_string()),
            format!("SQL types cannot be null, only nullable: {m}.{name}"),
            "always null",
            "give the column a real type, e.g. `string | null`",
        );
    }
    problem(
        "invalid_sql_type",
        Anchor::Property(m.to_string(), name.to_string()),
        format!("Invalid SQL type {} for column {m}.{name}", type_name(ty)),
        "not a column type",
        "a column must be number, string, boolean, Date, Uint8Array or ArrayBuffer (optionally `| null`); \
         for related models use @OneToOne/@OneToMany/@ManyToMany",
    )
}

/// A short human name for a type.
pub fn type_name(ty: &CidlType) -> String {
    match ty {
        CidlType::Void => "Void".into(),
        CidlType::Integer => "Integer".into(),
        CidlType::Real => "Real".into(),
        CidlType::Text => "Text".into(),
        CidlType::Blob => "Blob".into(),
        CidlType::Inject(n) => format!("Inject({n})"),
        CidlType::Model(n) => format!("Model({n})"),
        CidlType::Array(i) => format!("Array({})", type_name(i)),
        CidlType::HttpResult(i) => format!("HttpResult({})", type_name(i)),
        CidlType::Nullable(i) => format!("Nullable({})", type_name(i)),
    }
}

fn fk<'m>(model: &'m Model, name: &str) -> Option<&'m str> {
    model
        .attributes
        .iter()
        .find(|a| a.value.name == name)
        .and_then(|a| a.foreign_key_reference.as_deref())
}

fn check_navigation(ast: &CloesceAst, model: &Model, out: &mut Vec<Problem>) {
    let m = &model.name;
    for nav in &model.navigation_properties {
        let anchor = Anchor::Property(m.clone(), nav.var_name.clone());
        let Some(target) = ast.models.get(&nav.model_name) else {
            out.push(problem(
                "unknown_navigation_model",
                anchor,
                format!(
                    "Unknown model for navigation property {m}.{} => {}",
                    nav.var_name, nav.model_name
                ),
                "unknown model",
                "a navigation property must hold a `@D1` model (or an array of one)",
            ));
            continue;
        };
        match &nav.kind {
            NavigationKind::OneToOne { reference } => match fk(model, reference) {
                None => out.push(problem(
                    "one_to_one_reference",
                    anchor,
                    format!(
                        "Navigation property {m}.{} references {m}.{reference} which does not exist or is not a foreign key",
                        nav.var_name
                    ),
                    "bad reference",
                    format!("add `@ForeignKey({}) {reference}: …` to {m}, or name an existing foreign key of {m}", target.name),
                )),
                Some(t) if t != target.name => out.push(problem(
                    "one_to_one_mismatch",
                    anchor,
                    format!(
                        "Mismatched types between foreign key {m}.{reference} (to {t}) and one-to-one navigation property {m}.{} (of {})",
                        nav.var_name, target.name
                    ),
                    "type differs from the foreign key's target",
                    "the navigation property's type must be the model its foreign key points at",
                )),
                Some(_) => {}
            },
            NavigationKind::OneToMany { reference } => match fk(target, reference) {
                None => out.push(problem(
                    "one_to_many_reference",
                    anchor,
                    format!(
                        "Navigation property {m}.{} references {}.{reference} which does not exist or is not a foreign key",
                        nav.var_name, target.name
                    ),
                    "bad reference",
                    format!("add `@ForeignKey({m}) {reference}: …` to {}, or name an existing foreign key of it", target.name),
                )),
                Some(t) if t != m => out.push(problem(
                    "one_to_many_mismatch",
                    anchor,
                    format!(
                        "Mismatched types between foreign key {}.{reference} (to {t}) and one-to-many navigation property {m}.{}",
                        target.name, nav.var_name
                    ),
                    "the foreign key does not point back here",
                    format!("@OneToMany must name a foreign key on {} that points at {m}", target.name),
                )),
                Some(_) => {}
            },
            NavigationKind::ManyToMany { .. } => {}
        }
    }
}

/// The two sides of each junction table, by name; used by d1 as well.
pub fn junctions(ast: &CloesceAst) -> BTreeMap<&str, Vec<(&str, &str, &str)>> {
    let mut map: BTreeMap<&str, Vec<(&str, &str, &str)>> = BTreeMap::new();
    for model in ast.models.values() {
        for nav in &model.navigation_properties {
            if let NavigationKind::ManyToMany { unique_id } = &nav.kind {
                map.entry(unique_id.as_str()).or_default().push((
                    model.name.as_str(),
                    nav.var_name.as_str(),
                    nav.model_name.as_str(),
                ));
            }
        }
    }
    map
}

fn check_junctions(ast: &CloesceAst, out: &mut Vec<Problem>) {
    let model_names: BTreeSet<&str> = ast.models.keys().map(String::as_str).collect();
    for (junction, sides) in junctions(ast) {
        let (m, nav, _) = sides[0];
        let anchor = Anchor::Property(m.to_string(), nav.to_string());
        if model_names.contains(junction) {
            out.push(problem(
                "junction_name_taken",
                anchor.clone(),
                format!("The junction table name '{junction}' of {m}.{nav} is also a model name"),
                "clashes with a model table",
                "pick a junction name no model uses, e.g. `StudentsCourses`",
            ));
        }
        match sides.len() {
            1 => out.push(problem(
                "junction_one_side",
                anchor,
                format!("Both models must be set for junction table '{junction}': only {m}.{nav} uses it"),
                "only one side",
                "add `@ManyToMany(\"<same name>\")` on the other model too",
            )),
            2 => {
                let (m2, nav2, t2) = sides[1];
                let (_, _, t1) = sides[0];
                if m == m2 {
                    out.push(problem(
                        "junction_self",
                        anchor,
                        format!("Junction table '{junction}' links {m} to itself ({m}.{nav}, {m}.{nav2})"),
                        "self many-to-many",
                        "a many-to-many from a model to itself is not supported: model the link as its own @D1 class with two foreign keys",
                    ));
                } else if t1 != m2 || t2 != m {
                    out.push(problem(
                        "junction_mismatch",
                        anchor,
                        format!(
                            "The two sides of junction table '{junction}' do not name each other: {m}.{nav} holds {t1}, {m2}.{nav2} holds {t2}"
                        ),
                        "sides disagree",
                        format!("{m}.{nav} must hold {m2}[] and {m2}.{nav2} must hold {m}[]"),
                    ));
                }
            }
            _ => {
                let list: Vec<String> = sides.iter().map(|(a, b, _)| format!("{a}.{b}")).collect();
                out.push(problem(
                    "junction_too_many",
                    anchor,
                    format!(
                        "Too many ManyToMany navigation properties for junction table '{junction}': {}",
                        list.join(", ")
                    ),
                    "shared by more than two",
                    "exactly two navigation properties share a junction name: give each pair its own name",
                ));
            }
        }
    }
}

fn check_methods(ast: &CloesceAst, model: &Model, out: &mut Vec<Problem>) {
    let m = &model.name;
    for (key, method) in &model.methods {
        let me = &method.name;
        if key != me {
            out.push(problem(
                "key_mismatch",
                Anchor::Method(m.clone(), me.clone()),
                format!("Method record key '{key}' does not match its name {m}.{me}"),
                "this method",
                "the IR was edited by hand: make the key in `methods` equal the method's `name`",
            ));
        }
        if let CidlType::Model(x) = method.return_type.root() {
            if !ast.models.contains_key(x) {
                out.push(problem(
                    "unknown_return_model",
                    Anchor::Method(m.clone(), me.clone()),
                    format!("Unknown model reference {x} on method return type {m}.{me}"),
                    "unknown return type",
                    "return void, a scalar, a @D1 model, an array or HttpResult of those",
                ));
            }
        }
        if let CidlType::Inject(x) = method.return_type.root() {
            out.push(problem(
                "unknown_return_model",
                Anchor::Method(m.clone(), me.clone()),
                format!("Method {m}.{me} cannot return the injected type {x}"),
                "unsupported return type",
                "return void, a scalar, a @D1 model, an array or HttpResult of those",
            ));
        }
        if method.is_static && me == "ref" {
            out.push(problem(
                "reserved_method",
                Anchor::Method(m.clone(), me.clone()),
                format!("The static method name `ref` is reserved: {m}.{me}"),
                "reserved name",
                format!("rename the method; the client's `{m}.ref(key)` gives the {m} with that primary key"),
            ));
        }
        for p in &method.parameters {
            let anchor = Anchor::Parameter(m.clone(), me.clone(), p.name.clone());
            let full = format!("{m}.{me}.{}", p.name);
            if p.name == "dataSource" {
                out.push(problem(
                    "reserved_parameter",
                    anchor.clone(),
                    format!("The parameter name `dataSource` is reserved: {full}"),
                    "reserved name",
                    "rename the parameter; `dataSource` selects the include tree in requests and the client",
                ));
            }
            match p.cidl_type.root() {
                CidlType::Void => out.push(problem(
                    "void_parameter",
                    anchor,
                    format!("Method parameters cannot be void: {full}"),
                    "void parameter",
                    "give the parameter a serializable type or remove it",
                )),
                CidlType::Inject(x) => {
                    if x != &ast.wrangler_env.name {
                        out.push(problem(
                            "inject_not_env",
                            anchor,
                            format!(
                                "@Inject parameter {full} has type {x}, but the @WranglerEnv class is {}",
                                ast.wrangler_env.name
                            ),
                            "not the env class",
                            format!("type the injected parameter as `{}`", ast.wrangler_env.name),
                        ));
                    } else if p.cidl_type != CidlType::Inject(x.clone()) {
                        out.push(problem(
                            "inject_wrapped",
                            anchor,
                            format!(
                                "@Inject parameter {full} must have exactly the env type, not {}",
                                type_name(&p.cidl_type)
                            ),
                            "wrapped injected type",
                            format!("write `@Inject env: {x}` with no `| null` or array"),
                        ));
                    }
                }
                CidlType::Model(x) => {
                    if !ast.models.contains_key(x) {
                        out.push(problem(
                            "unknown_parameter_model",
                            anchor,
                            format!("Unknown model reference {x} on method parameter {full}"),
                            "not serializable",
                            "parameters must be scalars, @D1 models, arrays or nullables of those; \
                             use @Inject for the env",
                        ));
                    } else if method.http_verb == HttpVerb::GET {
                        out.push(problem(
                            "get_model_parameter",
                            anchor,
                            format!("GET requests do not support model parameters: {full}"),
                            "model parameter on GET",
                            "use @POST (or PUT/PATCH) to send a model in the body",
                        ));
                    }
                }
                _ => {
                    if method.http_verb == HttpVerb::GET && p.cidl_type.has_array() {
                        out.push(problem(
                            "get_array_parameter",
                            anchor,
                            format!("GET requests do not support array parameters: {full}"),
                            "array parameter on GET",
                            "use @POST (or PUT/PATCH) to send arrays in the body",
                        ));
                    }
                }
            }
        }
    }
}

fn check_data_sources(ast: &CloesceAst, model: &Model, out: &mut Vec<Problem>) {
    for (key, ds) in &model.data_sources {
        if key != &ds.name {
            out.push(problem(
                "key_mismatch",
                Anchor::DataSource(model.name.clone(), ds.name.clone()),
                format!(
                    "Data source record key '{key}' does not match its name {}.{}",
                    model.name, ds.name
                ),
                "this data source",
                "the IR was edited by hand: make the key equal the data source's `name`",
            ));
        }
        check_tree(ast, model, &model.name, &ds.name, "", &ds.tree, out);
    }
}

fn check_tree(
    ast: &CloesceAst,
    root: &Model,
    at: &str,
    ds: &str,
    path: &str,
    tree: &IncludeTree,
    out: &mut Vec<Problem>,
) {
    let Some(model) = ast.models.get(at) else {
        return;
    };
    for (key, sub) in &tree.0 {
        let key_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}/{key}")
        };
        let anchor = Anchor::IncludeKey(root.name.clone(), ds.to_string(), key_path.clone());
        if let Some(nav) = model
            .navigation_properties
            .iter()
            .find(|n| &n.var_name == key)
        {
            check_tree(ast, root, &nav.model_name, ds, &key_path, sub, out);
        } else if model.primary_key.name == *key
            || model.attributes.iter().any(|a| &a.value.name == key)
        {
            out.push(problem(
                "include_tree_scalar",
                anchor,
                format!(
                    "Invalid include tree key {}.{key} in data source {}.{ds}: it is a column, expected a navigation property",
                    model.name, root.name
                ),
                "a column",
                "include trees name navigation properties only; columns are always loaded",
            ));
        } else {
            out.push(problem(
                "include_tree_unknown_key",
                anchor,
                format!(
                    "Invalid reference {}.{key} in data source {}.{ds}: {} has no navigation property `{key}`",
                    model.name, root.name, model.name
                ),
                "unknown key",
                format!("use one of {}'s navigation properties: {}", model.name, nav_list(model)),
            ));
        }
    }
}

fn nav_list(model: &Model) -> String {
    if model.navigation_properties.is_empty() {
        return "(it has none)".into();
    }
    let names: Vec<&str> = model
        .navigation_properties
        .iter()
        .map(|n| n.var_name.as_str())
        .collect();
    names.join(", ")
}

/// The order to create tables in: Kahn's algorithm over non-nullable FKs
/// (edge target → holder), self-edges ignored, queue seeded in sorted name
/// order. A cycle is reported as a problem naming the blocked models.
pub fn table_order(ast: &CloesceAst) -> Result<Vec<&str>, Box<Problem>> {
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for model in ast.models.values() {
        for attr in &model.attributes {
            let Some(target) = attr.foreign_key_reference.as_deref() else {
                continue;
            };
            if matches!(attr.value.cidl_type, CidlType::Nullable(_))
                || target == model.name
                || !ast.models.contains_key(target)
            {
                continue;
            }
            edges.entry(target).or_default().push(model.name.as_str());
        }
    }
    let nodes: Vec<&str> = ast.models.keys().map(String::as_str).collect();
    let pairs: Vec<(&str, &str)> = edges
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |to| (*from, *to)))
        .collect();
    let order = kahn(&nodes, &pairs);
    if order.len() == ast.models.len() {
        return Ok(order);
    }
    let done: BTreeSet<&str> = order.iter().copied().collect();
    let blocked: Vec<&str> = ast
        .models
        .keys()
        .map(String::as_str)
        .filter(|m| !done.contains(m))
        .collect();
    // Drop models that are only blocked because they depend on a cycle: peel
    // off, repeatedly, blocked models that no other blocked model needs.
    let mut blocked = blocked;
    loop {
        let needed = |m: &str| {
            edges
                .get(m)
                .is_some_and(|next| next.iter().any(|n| blocked.contains(n)))
        };
        let before = blocked.len();
        blocked = blocked.iter().copied().filter(|m| needed(m)).collect();
        if blocked.len() == before || blocked.is_empty() {
            break;
        }
    }
    let mut fks = Vec::new();
    for m in &blocked {
        for attr in &ast.models[*m].attributes {
            if let Some(t) = attr.foreign_key_reference.as_deref() {
                if blocked.contains(&t)
                    && t != *m
                    && !matches!(attr.value.cidl_type, CidlType::Nullable(_))
                {
                    fks.push(format!("{m}.{} -> {t}", attr.value.name));
                }
            }
        }
    }
    Err(Box::new(problem(
        "cycle",
        Anchor::Model(blocked.first().copied().unwrap_or_default().to_string()),
        format!("Cycle detected between models: {}", blocked.join(", ")),
        "part of a foreign-key cycle",
        format!(
            "no table order exists; make one of these foreign keys nullable (`| null`) to break the cycle: {}",
            fks.join(", ")
        ),
    )))
}

/// Kahn's algorithm: `nodes` (in the order ties are broken) so that each
/// comes after every `from` of its `(from, to)` edges. Self-edges must be
/// left out; nodes on or behind a cycle are missing from the result.
pub fn kahn<'a>(nodes: &[&'a str], edges: &[(&'a str, &'a str)]) -> Vec<&'a str> {
    let mut indegree: BTreeMap<&str, usize> = nodes.iter().map(|n| (*n, 0)).collect();
    for (_, to) in edges {
        if let Some(d) = indegree.get_mut(to) {
            *d += 1;
        }
    }
    // Each node's edges, in the order given.
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges {
        out.entry(from).or_default().push(to);
    }
    let mut queue: std::collections::VecDeque<&str> =
        nodes.iter().copied().filter(|n| indegree[n] == 0).collect();
    let mut order = Vec::new();
    while let Some(node) = queue.pop_front() {
        order.push(node);
        for next in out.get(node).into_iter().flatten() {
            if let Some(d) = indegree.get_mut(next) {
                *d -= 1;
                if *d == 0 {
                    queue.push_back(next);
                }
            }
        }
    }
    order
}

/// Turns problems into diagnostics that name the model file (no spans: the
/// rule only has the IR).
pub fn to_diagnostics(ast: &CloesceAst, problems: &[Problem]) -> Vec<RuleDiagnostic> {
    problems
        .iter()
        .map(|p| {
            let file = p
                .anchor
                .model()
                .and_then(|m| {
                    ast.models
                        .get(m)
                        .or_else(|| ast.models.values().find(|x| x.name == m))
                })
                .map(|m| m.source_path.as_str())
                .unwrap_or(ast.wrangler_env.source_path.as_str());
            RuleDiagnostic::new(
                &format!("cloesce::model::{}", p.code),
                format!("{} (in {file})", p.message),
            )
            .with_help(p.help.clone())
        })
        .collect()
}

/// Parses and checks an IR input: the shared entry point of every generator.
/// A clean result is shared through [`crate::loaded`] with the next rule that
/// reads the same bytes.
pub fn load(bytes: &[u8], path: &str) -> Result<Arc<CloesceAst>, BuiltinFailure> {
    crate::loaded::get_or_load(bytes, |bytes| {
        let ast = crate::ir::from_json(bytes).map_err(|e| {
            diag::fail(
                RuleDiagnostic::new(
                    "cloesce::ir::invalid",
                    format!("{path} is not a valid Cloesce IR: {e}"),
                )
                .with_help("regenerate it with the extract rule; do not edit cidl.json by hand"),
            )
        })?;
        let problems = check(&ast);
        if problems.is_empty() {
            Ok(ast)
        } else {
            Err(diag::failure(to_diagnostics(&ast, &problems)))
        }
    })
}

/// Finds the input named `cidl.json` (or the first `.json` one).
pub fn ir_input<'a>(
    request: &'a BuiltinRequest<'_>,
) -> Result<(&'a str, &'a [u8]), BuiltinFailure> {
    request
        .inputs
        .iter()
        .find(|(p, _)| p.file_name() == "cidl.json")
        .or_else(|| {
            request.inputs.iter().find(|(p, _)| {
                p.file_name().ends_with(".json") && !p.file_name().starts_with("wrangler")
            })
        })
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .ok_or_else(|| {
            diag::fail(
                RuleDiagnostic::new(
                    "cloesce::ir::missing",
                    format!("rule `{}` got no cidl.json input", request.rule),
                )
                .with_help("list the IR file (e.g. `.generated/cidl.json`) in the rule's inputs"),
            )
        })
}

/// `cloesce/validate`.
pub struct Validate;

impl Builtin for Validate {
    fn name(&self) -> &'static str {
        "cloesce/validate"
    }
    fn version(&self) -> u32 {
        1
    }
    fn description(&self) -> &'static str {
        "check the Cloesce IR: keys, types, relations, data sources, methods"
    }
    fn run(&self, request: &BuiltinRequest<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let (path, bytes) = ir_input(request)?;
        load(bytes, path)?;
        Ok(BuiltinOutput::default())
    }
}
