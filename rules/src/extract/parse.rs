//! Reads the `@D1` and `@WranglerEnv` classes of one parsed model file.
//!
//! Decorators are recognised by name (`@D1`, `@D1()`, `@ns.D1`). Every
//! problem becomes a diagnostic pointing at the offending node; the class is
//! still returned with the bad member left out, so one pass reports all.

use std::collections::BTreeMap;

use oxc_ast::ast::{
    Argument, BindingPattern, Class, ClassElement, Declaration, Decorator,
    ExportDefaultDeclarationKind, Expression, FormalParameter, MethodDefinition,
    MethodDefinitionKind, ObjectExpression, ObjectPropertyKind, PropertyDefinition, PropertyKey,
    Statement,
};
use oxc_span::{GetSpan, Span};

use super::types::{declared_as, map_type, nullable_of, text};
use super::Collector;
use crate::ir::{
    CidlType, DataSource, EnvField, HttpVerb, IncludeTree, Model, ModelAttribute, ModelMethod,
    NamedTypedValue, NavigationKind, NavigationProperty, WranglerEnv,
};
use crate::validate::Anchor;

/// Every decorator name cloesce knows.
const KNOWN: &[&str] = &[
    "D1",
    "WranglerEnv",
    "PrimaryKey",
    "ForeignKey",
    "OneToOne",
    "OneToMany",
    "ManyToMany",
    "DataSource",
    "GET",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "Inject",
];
const PROPERTY: &[&str] = &[
    "PrimaryKey",
    "ForeignKey",
    "OneToOne",
    "OneToMany",
    "ManyToMany",
    "DataSource",
];

/// The file being read.
pub struct FileCtx<'s> {
    pub idx: usize,
    pub path: &'s str,
    pub src: &'s str,
}

/// A class found in a file.
pub enum Found {
    Model(Model, Span),
    Env(WranglerEnv, Span),
}

struct Deco<'d, 'a> {
    name: String,
    args: Option<&'d oxc_allocator::Vec<'a, Argument<'a>>>,
    span: Span,
}

fn deco<'d, 'a>(d: &'d Decorator<'a>) -> Deco<'d, 'a> {
    fn name_of(e: &Expression<'_>) -> String {
        match e.without_parentheses() {
            Expression::Identifier(id) => id.name.to_string(),
            Expression::StaticMemberExpression(m) => m.property.name.to_string(),
            _ => String::new(),
        }
    }
    match d.expression.without_parentheses() {
        Expression::CallExpression(c) => Deco {
            name: name_of(&c.callee),
            args: Some(&c.arguments),
            span: d.span,
        },
        other => Deco {
            name: name_of(other),
            args: None,
            span: d.span,
        },
    }
}

/// A declaration whose decorators are read, and how to explain the ones that
/// do not belong there.
struct DecoratorSite<'s> {
    /// `class`, `property`, `method` or `parameter`.
    kind: &'static str,
    /// The declaration in a sentence (`the method Horse.like`).
    what: String,
    /// The declaration in an unknown decorator's message (`Horse.like`).
    owner: &'s str,
    /// Which decorators belong on this kind of declaration.
    belongs_help: &'static str,
    /// What to say about a second decorator that belongs; `None` when
    /// repeating one is harmless.
    repeated: Option<Repeated>,
}

/// The diagnostic for a second decorator where only one may stand.
struct Repeated {
    code: &'static str,
    message: String,
    label: &'static str,
    help: &'static str,
}

impl Collector {
    /// Reads the decorators of one declaration. Returns the first that
    /// `belongs` there (with what `belongs` made of it) and whether every
    /// decorator was fine; reports each one that is repeated (unless the site
    /// allows it), known but meant for another kind of declaration, or
    /// unknown.
    fn site_decorators<'d, 'a, T>(
        &mut self,
        f: &FileCtx<'_>,
        decorators: &'d oxc_allocator::Vec<'a, Decorator<'a>>,
        site: &DecoratorSite<'_>,
        belongs: impl Fn(&str) -> Option<T>,
    ) -> (Option<(Deco<'d, 'a>, T)>, bool) {
        let mut chosen: Option<(Deco<'d, 'a>, T)> = None;
        let mut fine = true;
        for d in decorators.iter().map(deco) {
            if let Some(value) = belongs(&d.name) {
                match (&chosen, &site.repeated) {
                    (None, _) => chosen = Some((d, value)),
                    (Some(_), None) => {}
                    (Some(_), Some(repeated)) => {
                        self.error(
                            f,
                            d.span,
                            repeated.code,
                            repeated.message.clone(),
                            repeated.label,
                            repeated.help,
                        );
                        fine = false;
                    }
                }
            } else if KNOWN.contains(&d.name.as_str()) {
                self.error(
                    f,
                    d.span,
                    "misplaced_decorator",
                    format!("@{} cannot decorate {}", d.name, site.what),
                    &format!("not a {} decorator", site.kind),
                    site.belongs_help,
                );
                fine = false;
            } else {
                self.unknown_decorator(f, &d, site.owner);
                fine = false;
            }
        }
        (chosen, fine)
    }

    fn unknown_decorator(&mut self, f: &FileCtx<'_>, d: &Deco<'_, '_>, owner: &str) {
        let shown = text(f.src, d.span).to_string();
        // The pipeline's "did you mean": a case slip or a typo or two away.
        let suggestion = cloesce_engine::pipeline::did_you_mean(&d.name, KNOWN.iter().copied());
        let help = match suggestion {
            Some(k) => format!("did you mean `@{k}`? cloesce only knows {}", known_list()),
            None => format!("remove it; cloesce only knows {}", known_list()),
        };
        self.error(
            f,
            d.span,
            "unknown_decorator",
            format!("Unknown decorator {shown} on {owner}"),
            "unknown decorator",
            help,
        );
    }
}

fn known_list() -> String {
    KNOWN
        .iter()
        .map(|k| format!("@{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads all top-level classes (plain, `export`, `export default`).
pub fn classes(
    program: &oxc_ast::ast::Program<'_>,
    f: &FileCtx<'_>,
    c: &mut Collector,
) -> Vec<Found> {
    let mut out = Vec::new();
    for stmt in &program.body {
        let class = match stmt {
            Statement::ClassDeclaration(class) => Some(&**class),
            Statement::ExportDeclaration(e) => match &e.declaration {
                Declaration::ClassDeclaration(class) => Some(&**class),
                _ => None,
            },
            Statement::ExportDefaultDeclaration(e) => match &e.declaration {
                ExportDefaultDeclarationKind::ClassDeclaration(class) => Some(&**class),
                _ => None,
            },
            _ => None,
        };
        if let Some(class) = class {
            if let Some(found) = class_of(class, f, c) {
                out.push(found);
            }
        }
    }
    out
}

fn class_of(class: &Class<'_>, f: &FileCtx<'_>, c: &mut Collector) -> Option<Found> {
    if class.decorators.is_empty() {
        return None;
    }
    let name = class.id.as_ref().map(|id| id.name.to_string());
    let owner = format!("class {}", name.as_deref().unwrap_or("(anonymous)"));
    let site = DecoratorSite {
        kind: "class",
        what: format!("a class ({owner})"),
        owner: &owner,
        belongs_help:
            "classes take @D1 or @WranglerEnv; move this decorator to a property or method",
        repeated: Some(Repeated {
            code: "multiple_decorators",
            message: format!("{owner} has more than one class decorator"),
            label: "second class decorator",
            help: "a class is either a model (@D1) or the env (@WranglerEnv), not both",
        }),
    };
    let (chosen, _) = c.site_decorators(f, &class.decorators, &site, |name| {
        matches!(name, "D1" | "WranglerEnv").then_some(())
    });
    let kind = chosen?.0.name;
    let Some(id) = class.id.as_ref() else {
        c.error(
            f,
            class.span,
            "anonymous_class",
            format!("A @{kind} class needs a name"),
            "anonymous class",
            "give the class a name: `export class Horse { … }`",
        );
        return None;
    };
    let name = id.name.to_string();
    if kind == "WranglerEnv" {
        return Some(Found::Env(env_of(class, &name, f), id.span));
    }
    c.spans
        .insert(Anchor::Model(name.clone()), (f.idx, id.span));
    Some(Found::Model(
        model_of(class, &name, id.span, f, c)?,
        id.span,
    ))
}

fn env_of(class: &Class<'_>, name: &str, f: &FileCtx<'_>) -> WranglerEnv {
    let mut fields = Vec::new();
    for el in &class.body.body {
        if let ClassElement::PropertyDefinition(p) = el {
            if p.r#static {
                continue;
            }
            if let Some(n) = p.key.static_name() {
                let ts_type = p
                    .type_annotation
                    .as_ref()
                    .map(|t| text(f.src, t.type_annotation.span()).to_string())
                    .unwrap_or_default();
                fields.push(EnvField {
                    name: n.to_string(),
                    ts_type,
                });
            }
        }
    }
    WranglerEnv {
        name: name.to_string(),
        source_path: f.path.to_string(),
        fields,
    }
}

fn key_name(key: &PropertyKey<'_>) -> Option<String> {
    match key {
        PropertyKey::PrivateIdentifier(_) => None,
        _ => key.static_name().map(|s| s.to_string()),
    }
}

fn model_of(
    class: &Class<'_>,
    name: &str,
    name_span: Span,
    f: &FileCtx<'_>,
    c: &mut Collector,
) -> Option<Model> {
    let mut model = Model {
        name: name.to_string(),
        attributes: Vec::new(),
        primary_key: NamedTypedValue {
            name: String::new(),
            cidl_type: CidlType::Integer,
            declared_as: None,
        },
        navigation_properties: Vec::new(),
        methods: BTreeMap::new(),
        data_sources: BTreeMap::new(),
        source_path: f.path.to_string(),
    };
    let mut has_pk = false;
    let errors_before = c.diags.len();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for el in &class.body.body {
        let (key, span) = match el {
            ClassElement::PropertyDefinition(p) => (&p.key, p.key.span()),
            ClassElement::MethodDefinition(m)
                if m.kind == MethodDefinitionKind::Method && m.value.body.is_some() =>
            {
                (&m.key, m.key.span())
            }
            _ => continue,
        };
        let Some(member) = key_name(key) else {
            c.error(
                f,
                span,
                "unsupported_member",
                format!("{name} has a computed or private member name"),
                "unsupported name",
                "name model members with plain identifiers",
            );
            continue;
        };
        if let Some(first) = seen.get(&member) {
            let line = line_of(f.src, first.start);
            c.error(
                f,
                span,
                "duplicate_member",
                format!("Duplicate member {name}.{member} (first declared on line {line})"),
                "declared again here",
                "rename or remove one of them; a model's properties and methods need unique names",
            );
            continue;
        }
        seen.insert(member.clone(), span);
        match el {
            ClassElement::PropertyDefinition(p) => {
                property(p, &member, &mut model, &mut has_pk, f, c)
            }
            ClassElement::MethodDefinition(m) => method(m, &member, &mut model, f, c),
            _ => {}
        }
    }
    if !has_pk {
        // A member that failed (e.g. `@PrimaryKy id`) may be the missing key:
        // do not pile a second error on top of it.
        if c.diags.len() > errors_before {
            return None;
        }
        c.error(
            f,
            name_span,
            "missing_primary_key",
            format!("Missing primary key: {name}"),
            "no @PrimaryKey",
            format!("mark one column of {name} with `@PrimaryKey`, e.g. `@PrimaryKey id: number;`"),
        );
        return None;
    }
    Some(model)
}

fn line_of(src: &str, offset: u32) -> usize {
    src.get(..offset as usize)
        .map(|s| s.matches('\n').count() + 1)
        .unwrap_or(1)
}

fn property(
    p: &PropertyDefinition<'_>,
    member: &str,
    model: &mut Model,
    has_pk: &mut bool,
    f: &FileCtx<'_>,
    c: &mut Collector,
) {
    let m = model.name.clone();
    let full = format!("{m}.{member}");
    let site = DecoratorSite {
        kind: "property",
        what: format!("the property {full}"),
        owner: &full,
        belongs_help: "verbs go on methods, @Inject on method parameters, @D1/@WranglerEnv on classes",
        repeated: Some(Repeated {
            code: "multiple_decorators",
            message: format!("{full} has more than one property decorator"),
            label: "second decorator",
            help: "keep one of @PrimaryKey, @ForeignKey, @OneToOne, @OneToMany, @ManyToMany, @DataSource",
        }),
    };
    let (chosen, fine) = c.site_decorators(f, &p.decorators, &site, |name| {
        PROPERTY.contains(&name).then_some(())
    });
    if !fine {
        return;
    }
    let chosen = chosen.map(|(d, ())| d);
    let anchor = Anchor::Property(m.clone(), member.to_string());
    c.spans.insert(anchor.clone(), (f.idx, p.key.span()));
    let kind = chosen.as_ref().map(|d| d.name.as_str()).unwrap_or("");
    if kind == "DataSource" {
        data_source(p, member, model, f, c);
        return;
    }
    let Some(ann) = &p.type_annotation else {
        c.error(
            f,
            p.key.span(),
            "missing_type",
            format!("{full} has no type annotation"),
            "no type",
            "write the type, e.g. `name: string;`; cloesce reads types from annotations only",
        );
        return;
    };
    let ty = match map_type(&ann.type_annotation, f.src, false) {
        Ok(t) if p.optional => nullable_of(t),
        Ok(t) => t,
        Err(e) => {
            c.error(
                f,
                e.span,
                e.code,
                format!("{}: {full}", capitalise(&e.what)),
                "unsupported",
                e.help,
            );
            return;
        }
    };
    let value = NamedTypedValue {
        name: member.to_string(),
        cidl_type: ty.clone(),
        declared_as: declared_as(&ann.type_annotation),
    };
    match (kind, chosen.as_ref()) {
        ("", _) => model.attributes.push(ModelAttribute {
            value,
            foreign_key_reference: None,
        }),
        ("PrimaryKey", Some(d)) => {
            if *has_pk {
                c.error(
                    f,
                    d.span,
                    "multiple_primary_keys",
                    format!("{m} has more than one @PrimaryKey ({full})"),
                    "second primary key",
                    "a model has exactly one primary key; composite keys are not supported",
                );
                return;
            }
            *has_pk = true;
            model.primary_key = value;
        }
        ("ForeignKey", Some(d)) => {
            let target = d
                .args
                .and_then(|a| a.first())
                .and_then(|a| a.as_expression())
                .and_then(|e| match e.without_parentheses() {
                    Expression::Identifier(id) => Some(id.name.to_string()),
                    Expression::StringLiteral(s) => Some(s.value.to_string()),
                    _ => None,
                });
            match target {
                Some(t) => model.attributes.push(ModelAttribute {
                    value,
                    foreign_key_reference: Some(t),
                }),
                None => c.error(
                    f,
                    d.span,
                    "foreign_key_argument",
                    format!("@ForeignKey on {full} must name the target model"),
                    "no target model",
                    "write `@ForeignKey(Owner)` (or `@ForeignKey(\"Owner\")`)",
                ),
            }
        }
        (nav_kind, Some(d)) => {
            let arg = d
                .args
                .and_then(|a| a.first())
                .and_then(|a| a.as_expression())
                .and_then(|e| match e.without_parentheses() {
                    Expression::StringLiteral(s) => Some(s.value.to_string()),
                    _ => None,
                });
            let Some(arg) = arg else {
                let what = if nav_kind == "ManyToMany" {
                    "a unique junction table name"
                } else {
                    "the name of a foreign key property"
                };
                c.error(f, d.span, "navigation_argument", format!("@{nav_kind} on {full} must be given {what}"),
                    "missing argument", if nav_kind == "ManyToMany" { "write `@ManyToMany(\"StudentsCourses\")` on both sides" }
                    else if nav_kind == "OneToOne" { "write `@OneToOne(\"ownerId\")`, naming an @ForeignKey property of this model" }
                    else { "write `@OneToMany(\"ownerId\")`, naming the @ForeignKey property on the related model" });
                return;
            };
            let target = match (nav_kind, ty.non_null()) {
                ("OneToOne", CidlType::Model(x)) => Some(x.clone()),
                ("OneToMany" | "ManyToMany", CidlType::Array(inner)) => match &**inner {
                    CidlType::Model(x) => Some(x.clone()),
                    _ => None,
                },
                _ => None,
            };
            let Some(target) = target else {
                let want = if nav_kind == "OneToOne" {
                    "a model type, e.g. `owner: Owner | undefined`"
                } else {
                    "an array of a model, e.g. `pets: Pet[]`"
                };
                c.error(
                    f,
                    ann.type_annotation.span(),
                    "navigation_type",
                    format!(
                        "{nav_kind} navigation property {full} must hold {}",
                        if nav_kind == "OneToOne" {
                            "a model type"
                        } else {
                            "an array of a model type"
                        }
                    ),
                    "not a model type",
                    format!("type it as {want}"),
                );
                return;
            };
            let kind = match nav_kind {
                "OneToOne" => NavigationKind::OneToOne { reference: arg },
                "OneToMany" => NavigationKind::OneToMany { reference: arg },
                _ => NavigationKind::ManyToMany { unique_id: arg },
            };
            model.navigation_properties.push(NavigationProperty {
                var_name: member.to_string(),
                model_name: target,
                kind,
            });
        }
        _ => {}
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn data_source(
    p: &PropertyDefinition<'_>,
    member: &str,
    model: &mut Model,
    f: &FileCtx<'_>,
    c: &mut Collector,
) {
    let m = model.name.clone();
    c.spans.insert(
        Anchor::DataSource(m.clone(), member.to_string()),
        (f.idx, p.key.span()),
    );
    let value = p.value.as_ref().map(|v| strip_satisfies(v));
    let Some(Expression::ObjectExpression(obj)) = value else {
        let span = p.value.as_ref().map(|v| v.span()).unwrap_or(p.key.span());
        c.error(f, span, "data_source_initializer", format!("Invalid data source initializer on {m}.{member}: expected an object literal"),
            "not an include-tree literal", format!("write `@DataSource static readonly {member}: IncludeTree<{m}> = {{ … }};` with a plain object literal (no casts)"));
        return;
    };
    let mut ok = true;
    let tree = tree_of(obj, &m, member, "", f, c, &mut ok);
    if ok {
        model.data_sources.insert(
            member.to_string(),
            DataSource {
                name: member.to_string(),
                tree,
            },
        );
    }
}

fn strip_satisfies<'e, 'a>(e: &'e Expression<'a>) -> &'e Expression<'a> {
    match e.without_parentheses() {
        Expression::TSSatisfiesExpression(s) => strip_satisfies(&s.expression),
        other => other,
    }
}

fn tree_of(
    obj: &ObjectExpression<'_>,
    m: &str,
    ds: &str,
    path: &str,
    f: &FileCtx<'_>,
    c: &mut Collector,
    ok: &mut bool,
) -> IncludeTree {
    let mut tree = IncludeTree::default();
    for prop in &obj.properties {
        let ObjectPropertyKind::ObjectProperty(prop) = prop else {
            c.error(
                f,
                prop.span(),
                "include_tree_literal",
                format!("Invalid include tree in data source {m}.{ds}: spreads are not allowed"),
                "spread",
                "write every navigation property out as `name: {}`",
            );
            *ok = false;
            continue;
        };
        let Some(key) = (if prop.computed {
            None
        } else {
            prop.key.static_name()
        }) else {
            c.error(
                f,
                prop.key.span(),
                "include_tree_literal",
                format!("Invalid include tree in data source {m}.{ds}: computed key"),
                "computed key",
                "write navigation property names as plain keys",
            );
            *ok = false;
            continue;
        };
        let key_path = if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}/{key}")
        };
        c.spans.insert(
            Anchor::IncludeKey(m.to_string(), ds.to_string(), key_path.clone()),
            (f.idx, prop.key.span()),
        );
        match strip_satisfies(&prop.value) {
            Expression::ObjectExpression(sub) => {
                let sub = tree_of(sub, m, ds, &key_path, f, c, ok);
                tree.0.insert(key.to_string(), sub);
            }
            other => {
                c.error(f, other.span(), "include_tree_literal", format!("Invalid include tree in data source {m}.{ds} at `{key_path}`: expected an object literal"),
                    "not an object literal", "use `{}` to load a relation, or a nested object to go deeper");
                *ok = false;
            }
        }
    }
    tree
}

fn method(
    md: &MethodDefinition<'_>,
    member: &str,
    model: &mut Model,
    f: &FileCtx<'_>,
    c: &mut Collector,
) {
    let m = model.name.clone();
    let full = format!("{m}.{member}");
    let site = DecoratorSite {
        kind: "method",
        what: format!("the method {full}"),
        owner: &full,
        belongs_help: "methods take one of @GET, @POST, @PUT, @PATCH, @DELETE",
        repeated: Some(Repeated {
            code: "multiple_verbs",
            message: format!("{full} has more than one HTTP verb decorator"),
            label: "second verb",
            help: "keep exactly one of @GET, @POST, @PUT, @PATCH, @DELETE",
        }),
    };
    let (verb, fine) = c.site_decorators(f, &md.decorators, &site, HttpVerb::from_name);
    if !fine {
        return;
    }
    let verb = verb.map(|(_, verb)| verb);
    // R choice: a method without a verb is a local helper and is not exposed.
    let Some(verb) = verb else { return };
    c.spans.insert(
        Anchor::Method(m.clone(), member.to_string()),
        (f.idx, md.key.span()),
    );
    let func = &md.value;
    let mut ok = true;
    let mut parameters = Vec::new();
    for p in &func.params.items {
        match parameter(p, &full, &m, member, f, c) {
            Some(v) => parameters.push(v),
            None => ok = false,
        }
    }
    if let Some(rest) = &func.params.rest {
        c.error(
            f,
            rest.span,
            "unsupported_parameter",
            format!("Rest parameters are not supported: {full}"),
            "rest parameter",
            "declare each parameter separately, or take an array",
        );
        ok = false;
    }
    let return_type = match &func.return_type {
        None => {
            c.error(f, md.key.span(), "missing_return_type", format!("{full} has no return type annotation"),
                "no return type", "write the return type, e.g. `async get(): Promise<Horse>` or `: void`; cloesce reads types from annotations only");
            ok = false;
            CidlType::Void
        }
        Some(ann) => match map_type(&ann.type_annotation, f.src, false) {
            Ok(t) => t,
            Err(e) => {
                c.error(
                    f,
                    e.span,
                    e.code,
                    format!("{}: return type of {full}", capitalise(&e.what)),
                    "unsupported",
                    e.help,
                );
                ok = false;
                CidlType::Void
            }
        },
    };
    if ok {
        model.methods.insert(
            member.to_string(),
            ModelMethod {
                name: member.to_string(),
                is_static: md.r#static,
                http_verb: verb,
                return_type,
                parameters,
                return_declared_as: func
                    .return_type
                    .as_ref()
                    .and_then(|ann| declared_as(&ann.type_annotation)),
            },
        );
    }
}

fn parameter(
    p: &FormalParameter<'_>,
    full: &str,
    m: &str,
    method: &str,
    f: &FileCtx<'_>,
    c: &mut Collector,
) -> Option<NamedTypedValue> {
    let name = match &p.pattern {
        BindingPattern::BindingIdentifier(id) => id.name.to_string(),
        // The source text, whitespace collapsed (so CRLF and LF files agree).
        other => text(f.src, other.span())
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let pfull = format!("{full}.{name}");
    let site = DecoratorSite {
        kind: "parameter",
        what: format!("the parameter {pfull}"),
        owner: &pfull,
        belongs_help: "parameters take only @Inject",
        repeated: None,
    };
    let (inject, fine) = c.site_decorators(f, &p.decorators, &site, |name| {
        (name == "Inject").then_some(())
    });
    if !fine {
        return None;
    }
    let inject = inject.is_some();
    if !inject && !matches!(p.pattern, BindingPattern::BindingIdentifier(_)) {
        c.error(
            f,
            p.pattern.span(),
            "destructured_parameter",
            format!("The parameter {pfull} is destructured; only @Inject parameters may be"),
            "destructured",
            "give the parameter a plain name (`person: Person`) and destructure inside the method",
        );
        return None;
    }
    c.spans.insert(
        Anchor::Parameter(m.to_string(), method.to_string(), name.clone()),
        (f.idx, p.pattern.span()),
    );
    let Some(ann) = &p.type_annotation else {
        c.error(f, p.span, "missing_type", format!("The parameter {pfull} has no type annotation"), "no type",
            "write the parameter's type, e.g. `id: number`; cloesce reads types from annotations only");
        return None;
    };
    match map_type(&ann.type_annotation, f.src, inject) {
        Ok(t) => Some(NamedTypedValue {
            name,
            cidl_type: if p.optional { nullable_of(t) } else { t },
            declared_as: if inject {
                None
            } else {
                declared_as(&ann.type_annotation)
            },
        }),
        Err(e) => {
            c.error(
                f,
                e.span,
                e.code,
                format!("{}: {pfull}", capitalise(&e.what)),
                "unsupported",
                e.help,
            );
            None
        }
    }
}
