//! TypeScript type annotations → [`CidlType`] (MODEL-LANGUAGE §1.4, with the
//! R choices).
//!
//! * `T | null` → `Nullable(T)`; `boolean | null` → `Nullable(Integer)`.
//! * `T | undefined` and `x?: T` are treated like `T | null` (documented in
//!   docs/model-language.md).
//! * Any other union with two or more non-null members is rejected.
//! * `Uint8Array` / `ArrayBuffer` → `Blob`; `Date` → `Text`.
//! * `any`, `unknown`, `bigint`, object literals, literal types (other than
//!   `true`/`false`) are rejected here with a clear message.

use oxc_ast::ast::{TSLiteral, TSType, TSTypeName};
use oxc_span::{GetSpan, Span};

use crate::ir::{CidlType, DeclaredAs};

/// Why a type cannot be mapped.
#[derive(Debug)]
pub struct TypeError {
    pub code: &'static str,
    /// What is wrong, without the `Model.member` (the caller adds it).
    pub what: String,
    pub help: &'static str,
    pub span: Span,
}

/// The text of a type name (`Foo`, `ns.Foo`).
pub fn type_name_text(name: &TSTypeName<'_>) -> String {
    match name {
        TSTypeName::IdentifierReference(id) => id.name.to_string(),
        TSTypeName::QualifiedName(q) => format!("{}.{}", type_name_text(&q.left), q.right.name),
        TSTypeName::ThisExpression(_) => "this".to_string(),
    }
}

/// The last segment of a type name (`Foo` for `ns.Foo`).
fn last_segment(name: &TSTypeName<'_>) -> String {
    match name {
        TSTypeName::QualifiedName(q) => q.right.name.to_string(),
        other => type_name_text(other),
    }
}

/// Maps a type. `inject` marks an `@Inject` parameter: a named type becomes
/// `Inject(name)` instead of `Model(name)`.
pub fn map_type(ty: &TSType<'_>, src: &str, inject: bool) -> Result<CidlType, TypeError> {
    match ty {
        TSType::TSParenthesizedType(p) => map_type(&p.type_annotation, src, inject),
        TSType::TSUnionType(u) => {
            let mut members = Vec::new();
            flatten_union(ty, &mut members);
            let mut nullable = false;
            let mut rest = Vec::new();
            for m in members {
                match m {
                    TSType::TSNullKeyword(_) | TSType::TSUndefinedKeyword(_) => nullable = true,
                    other => rest.push(other),
                }
            }
            let base = if !rest.is_empty() && rest.iter().all(|t| is_boolean(t)) {
                CidlType::Integer
            } else if rest.len() == 1 {
                map_type(rest[0], src, inject)?
            } else if rest.is_empty() {
                CidlType::Void
            } else {
                return Err(TypeError {
                    code: "unsupported_union",
                    what: format!("unsupported union type `{}`", text(src, u.span)),
                    help: "use a single type, optionally with `| null` (e.g. `string | null`)",
                    span: u.span,
                });
            };
            Ok(if nullable { nullable_of(base) } else { base })
        }
        TSType::TSNumberKeyword(_) => Ok(CidlType::Integer),
        TSType::TSStringKeyword(_) => Ok(CidlType::Text),
        TSType::TSBooleanKeyword(_) => Ok(CidlType::Integer),
        TSType::TSVoidKeyword(_) | TSType::TSUndefinedKeyword(_) => Ok(CidlType::Void),
        TSType::TSNullKeyword(_) => Ok(CidlType::Nullable(Box::new(CidlType::Void))),
        TSType::TSArrayType(a) => Ok(CidlType::Array(Box::new(map_type(&a.element_type, src, inject)?))),
        TSType::TSLiteralType(l) if matches!(l.literal, TSLiteral::BooleanLiteral(_)) => Ok(CidlType::Integer),
        TSType::TSTypeReference(r) => {
            let name = last_segment(&r.type_name);
            let args: Vec<&TSType<'_>> = r
                .type_arguments
                .as_ref()
                .map(|a| a.params.iter().collect())
                .unwrap_or_default();
            match args.len() {
                0 => Ok(match name.as_str() {
                    "Number" => CidlType::Integer,
                    "String" | "Date" => CidlType::Text,
                    "Boolean" => CidlType::Integer,
                    "Uint8Array" | "ArrayBuffer" => CidlType::Blob,
                    _ if inject => CidlType::Inject(name),
                    _ => CidlType::Model(name),
                }),
                1 => match name.as_str() {
                    "Promise" | "IncludeTree" => map_type(args[0], src, inject),
                    "Array" | "ReadonlyArray" => Ok(CidlType::Array(Box::new(map_type(args[0], src, inject)?))),
                    "HttpResult" => Ok(CidlType::HttpResult(Box::new(map_type(args[0], src, inject)?))),
                    _ => Err(TypeError {
                        code: "unknown_generic",
                        what: format!("unknown generic type `{}`", text(src, r.span)),
                        help: "only Promise<T>, Array<T>, HttpResult<T> and IncludeTree<T> take a type argument",
                        span: r.span,
                    }),
                },
                _ => Err(TypeError {
                    code: "multiple_generics",
                    what: format!("multiple generics are not supported: `{}`", text(src, r.span)),
                    help: "use a model class or an array instead of Map/Record-like types",
                    span: r.span,
                }),
            }
        }
        other => Err(TypeError {
            code: "unsupported_type",
            what: format!("unsupported type `{}`", text(src, other.span())),
            help: "use number, string, boolean, Date, Uint8Array, ArrayBuffer, a @D1 model, an array of those, or `T | null`",
            span: other.span(),
        }),
    }
}

/// What the scalar at the root of an annotation was declared as, when the IR
/// type loses it: `boolean` (Integer) or `Date` (Text). Looks through the
/// same wrappers as [`map_type`]: parentheses, `| null`, arrays, `Promise`,
/// `HttpResult`.
pub fn declared_as(ty: &TSType<'_>) -> Option<DeclaredAs> {
    match ty {
        TSType::TSParenthesizedType(p) => declared_as(&p.type_annotation),
        TSType::TSUnionType(_) => {
            let mut members = Vec::new();
            flatten_union(ty, &mut members);
            members
                .retain(|m| !matches!(m, TSType::TSNullKeyword(_) | TSType::TSUndefinedKeyword(_)));
            if !members.is_empty() && members.iter().all(|t| is_boolean(t)) {
                Some(DeclaredAs::Boolean)
            } else if let [only] = members.as_slice() {
                declared_as(only)
            } else {
                None
            }
        }
        TSType::TSArrayType(a) => declared_as(&a.element_type),
        _ if is_boolean(ty) => Some(DeclaredAs::Boolean),
        TSType::TSTypeReference(r) => {
            let name = last_segment(&r.type_name);
            match r.type_arguments.as_ref().map(|a| a.params.as_slice()) {
                None if name == "Date" => Some(DeclaredAs::Date),
                Some([arg])
                    if matches!(
                        name.as_str(),
                        "Promise" | "Array" | "ReadonlyArray" | "HttpResult"
                    ) =>
                {
                    declared_as(arg)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Wraps in `Nullable` unless it already is.
pub fn nullable_of(ty: CidlType) -> CidlType {
    match ty {
        CidlType::Nullable(_) => ty,
        other => CidlType::Nullable(Box::new(other)),
    }
}

fn flatten_union<'t, 'a>(ty: &'t TSType<'a>, out: &mut Vec<&'t TSType<'a>>) {
    match ty {
        TSType::TSUnionType(u) => u.types.iter().for_each(|t| flatten_union(t, out)),
        TSType::TSParenthesizedType(p) => flatten_union(&p.type_annotation, out),
        other => out.push(other),
    }
}

fn is_boolean(ty: &TSType<'_>) -> bool {
    match ty {
        TSType::TSBooleanKeyword(_) => true,
        TSType::TSLiteralType(l) => matches!(l.literal, TSLiteral::BooleanLiteral(_)),
        TSType::TSTypeReference(r) => {
            type_name_text(&r.type_name) == "Boolean" && r.type_arguments.is_none()
        }
        _ => false,
    }
}

/// The source text of a span (empty when out of range).
pub fn text(src: &str, span: Span) -> &str {
    src.get(span.start as usize..span.end as usize)
        .unwrap_or("")
}
