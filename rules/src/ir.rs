//! The Cloesce IR (`cidl.json`), as specified in MODEL-LANGUAGE §2.
//!
//! Maps are `BTreeMap`s so that serialising is deterministic and consumers
//! iterate models, methods and data sources in sorted key order. Extensions
//! to the original shape are documented in `docs/ir.md`; each one is
//! `#[serde(default)]` so older IR files still load.

use std::collections::BTreeMap;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

/// The version string the extractor writes.
pub const IR_VERSION: &str = "v0.0.2";

/// The whole IR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloesceAst {
    pub version: String,
    pub project_name: String,
    pub language: Language,
    pub wrangler_env: WranglerEnv,
    #[serde(deserialize_with = "unique_keys")]
    pub models: BTreeMap<String, Model>,
}

/// The model files' language; TypeScript is the only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    TypeScript,
}

/// The `@WranglerEnv` class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WranglerEnv {
    pub name: String,
    pub source_path: String,
    /// Extension: the class's fields (bindings and vars), in declaration order.
    #[serde(default)]
    pub fields: Vec<EnvField>,
}

/// Extension: one field of the `@WranglerEnv` class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvField {
    pub name: String,
    /// The field's TypeScript type as written (`D1Database`, `string`).
    pub ts_type: String,
}

/// One `@D1` class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
    pub attributes: Vec<ModelAttribute>,
    pub primary_key: NamedTypedValue,
    pub navigation_properties: Vec<NavigationProperty>,
    #[serde(deserialize_with = "unique_keys")]
    pub methods: BTreeMap<String, ModelMethod>,
    #[serde(deserialize_with = "unique_keys")]
    pub data_sources: BTreeMap<String, DataSource>,
    /// The model file's workspace-relative path (`src/models/horse.cloesce.ts`).
    pub source_path: String,
}

/// A column other than the primary key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAttribute {
    pub value: NamedTypedValue,
    /// The target model of a foreign key.
    pub foreign_key_reference: Option<String>,
}

/// A name with a type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamedTypedValue {
    pub name: String,
    pub cidl_type: CidlType,
    /// Extension: what the scalar at the root of `cidl_type` was declared as,
    /// when the IR type alone loses it (`boolean` is Integer, `Date` is Text).
    #[serde(default)]
    pub declared_as: Option<DeclaredAs>,
}

impl Serialize for NamedTypedValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = serializer.is_human_readable();
        let mut s = serializer.serialize_struct("NamedTypedValue", 3)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("cidl_type", &self.cidl_type)?;
        extension(&mut s, text, "declared_as", &self.declared_as)?;
        s.end()
    }
}

/// Writes an optional extension field. In JSON an absent one is left out, so
/// an IR without the extension keeps its bytes; a compact format (extract's
/// memo) reads fields by position and always gets it.
fn extension<S: SerializeStruct, T: Serialize>(
    s: &mut S,
    text: bool,
    name: &'static str,
    value: &Option<T>,
) -> Result<(), S::Error> {
    if text && value.is_none() {
        s.skip_field(name)
    } else {
        s.serialize_field(name, value)
    }
}

/// Extension: a TypeScript scalar that the IR stores as another type. The
/// wire and SQL keep the IR type; the generated client converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeclaredAs {
    /// `boolean`: Integer 0/1 in SQL and in responses.
    Boolean,
    /// `Date`: ISO 8601 Text in SQL and on the wire.
    Date,
}

impl DeclaredAs {
    /// The name used in the IR and in the generated client.
    pub fn as_str(self) -> &'static str {
        match self {
            DeclaredAs::Boolean => "Boolean",
            DeclaredAs::Date => "Date",
        }
    }
}

/// A navigation property (not a column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NavigationProperty {
    pub var_name: String,
    pub model_name: String,
    pub kind: NavigationKind,
}

/// How a navigation property is linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NavigationKind {
    /// `reference` is an FK attribute on this model.
    OneToOne { reference: String },
    /// `reference` is an FK attribute on the related model.
    OneToMany { reference: String },
    /// `unique_id` is the junction table's name.
    ManyToMany { unique_id: String },
}

/// An HTTP verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HttpVerb {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
}

impl HttpVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVerb::GET => "GET",
            HttpVerb::POST => "POST",
            HttpVerb::PUT => "PUT",
            HttpVerb::PATCH => "PATCH",
            HttpVerb::DELETE => "DELETE",
        }
    }

    pub fn from_name(name: &str) -> Option<HttpVerb> {
        Some(match name {
            "GET" => HttpVerb::GET,
            "POST" => HttpVerb::POST,
            "PUT" => HttpVerb::PUT,
            "PATCH" => HttpVerb::PATCH,
            "DELETE" => HttpVerb::DELETE,
            _ => return None,
        })
    }
}

/// A method exposed over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelMethod {
    pub name: String,
    pub is_static: bool,
    pub http_verb: HttpVerb,
    pub return_type: CidlType,
    pub parameters: Vec<NamedTypedValue>,
    /// Extension: [`NamedTypedValue::declared_as`] for the return type.
    #[serde(default)]
    pub return_declared_as: Option<DeclaredAs>,
}

impl Serialize for ModelMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = serializer.is_human_readable();
        let mut s = serializer.serialize_struct("ModelMethod", 6)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("is_static", &self.is_static)?;
        s.serialize_field("http_verb", &self.http_verb)?;
        s.serialize_field("return_type", &self.return_type)?;
        s.serialize_field("parameters", &self.parameters)?;
        extension(&mut s, text, "return_declared_as", &self.return_declared_as)?;
        s.end()
    }
}

/// A named include tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSource {
    pub name: String,
    pub tree: IncludeTree,
}

/// Which navigation properties to load, recursively; `{}` is a leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncludeTree(pub BTreeMap<String, IncludeTree>);

/// A type in the IR (externally tagged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CidlType {
    Void,
    Integer,
    Real,
    Text,
    Blob,
    Inject(String),
    Model(String),
    Array(Box<CidlType>),
    HttpResult(Box<CidlType>),
    Nullable(Box<CidlType>),
}

impl CidlType {
    /// True for `Integer | Real | Text | Blob`.
    pub fn is_sql_scalar(&self) -> bool {
        matches!(
            self,
            CidlType::Integer | CidlType::Real | CidlType::Text | CidlType::Blob
        )
    }

    /// The type under any `Nullable`.
    pub fn non_null(&self) -> &CidlType {
        match self {
            CidlType::Nullable(inner) => inner.non_null(),
            other => other,
        }
    }

    /// The innermost type, looking through Array, Nullable and HttpResult.
    pub fn root(&self) -> &CidlType {
        match self {
            CidlType::Array(inner) | CidlType::Nullable(inner) | CidlType::HttpResult(inner) => {
                inner.root()
            }
            other => other,
        }
    }

    /// True when an `Array` appears anywhere in the type.
    pub fn has_array(&self) -> bool {
        match self {
            CidlType::Array(_) => true,
            CidlType::Nullable(inner) | CidlType::HttpResult(inner) => inner.has_array(),
            _ => false,
        }
    }

    /// The SQL column type, for scalars (nullability aside).
    pub fn sql_type(&self) -> Option<&'static str> {
        match self.non_null() {
            CidlType::Integer => Some("integer"),
            CidlType::Real => Some("real"),
            CidlType::Text => Some("text"),
            CidlType::Blob => Some("blob"),
            _ => None,
        }
    }
}

/// Reads a JSON object into a map, rejecting duplicate keys (serde would keep
/// the last one silently).
fn unique_keys<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Visitor<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut access: A,
        ) -> Result<Self::Value, A::Error> {
            let mut map = BTreeMap::new();
            while let Some((key, value)) = access.next_entry::<String, V>()? {
                if map.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!(
                        "invalid entry: found duplicate key `{key}`"
                    )));
                }
                map.insert(key, value);
            }
            Ok(map)
        }
    }
    deserializer.deserialize_map(Visitor(std::marker::PhantomData))
}

/// Serialises the IR the way the extractor writes it: 4-space indent, keys in
/// a fixed order, a trailing newline.
pub fn to_json(ast: &CloesceAst) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, crate::pretty::Pretty::default());
    // Serialising plain data structures into a Vec cannot fail.
    if ast.serialize(&mut ser).is_err() {
        out.clear();
    }
    out.push(b'\n');
    out
}

/// Reads an IR file; the error is serde's message (with line and column).
pub fn from_json(bytes: &[u8]) -> Result<CloesceAst, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("cidl.json is not UTF-8: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| e.to_string())
}
