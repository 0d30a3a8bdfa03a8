//! Order-preserving conversion between TOML and JSON config documents.
//!
//! `serde_json::Map` sorts its keys, so conversions go through [`Tree`],
//! which keeps keys in the order the user wrote them. Comments are not
//! carried over (the wrangler rule says so in its log).

use serde_json::Value;
use toml_edit::Item;

use crate::jsonc;

/// A config value with ordered keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Scalar(Value),
    Array(Vec<Tree>),
    Object(Vec<(String, Tree)>),
}

impl Tree {
    /// From a parsed JSONC node.
    pub fn from_jsonc(node: &jsonc::Node) -> Tree {
        match node {
            jsonc::Node::Scalar { value, .. } => Tree::Scalar(value.clone()),
            jsonc::Node::Array { items, .. } => {
                Tree::Array(items.iter().map(Tree::from_jsonc).collect())
            }
            jsonc::Node::Object { members, .. } => {
                let mut out: Vec<(String, Tree)> = Vec::new();
                for m in members {
                    let t = Tree::from_jsonc(&m.value);
                    match out.iter_mut().find(|(k, _)| *k == m.key) {
                        Some(slot) => slot.1 = t,
                        None => out.push((m.key.clone(), t)),
                    }
                }
                Tree::Object(out)
            }
        }
    }

    /// From a TOML item (`None` for an empty item).
    pub fn from_toml(item: &Item) -> Option<Tree> {
        match item {
            Item::None => None,
            Item::Value(v) => Some(Tree::from_toml_value(v)),
            Item::Table(t) => Some(Tree::Object(
                t.iter()
                    .filter_map(|(k, v)| Tree::from_toml(v).map(|v| (k.to_string(), v)))
                    .collect(),
            )),
            Item::ArrayOfTables(a) => Some(Tree::Array(
                a.iter()
                    .map(|t| {
                        Tree::Object(
                            t.iter()
                                .filter_map(|(k, v)| Tree::from_toml(v).map(|v| (k.to_string(), v)))
                                .collect(),
                        )
                    })
                    .collect(),
            )),
        }
    }

    fn from_toml_value(v: &toml_edit::Value) -> Tree {
        use toml_edit::Value as V;
        match v {
            V::String(s) => Tree::Scalar(Value::String(s.value().clone())),
            V::Integer(i) => Tree::Scalar(Value::from(*i.value())),
            V::Float(f) => Tree::Scalar(
                serde_json::Number::from_f64(*f.value())
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            ),
            V::Boolean(b) => Tree::Scalar(Value::Bool(*b.value())),
            V::Datetime(d) => Tree::Scalar(Value::String(d.value().to_string())),
            V::Array(a) => Tree::Array(a.iter().map(Tree::from_toml_value).collect()),
            V::InlineTable(t) => Tree::Object(
                t.iter()
                    .map(|(k, v)| (k.to_string(), Tree::from_toml_value(v)))
                    .collect(),
            ),
        }
    }

    /// Renders JSON text indented with `unit`, nested at `base`.
    pub fn to_json(&self, unit: &str, base: &str) -> String {
        match self {
            Tree::Scalar(v) => v.to_string(),
            Tree::Array(items) if items.is_empty() => "[]".to_string(),
            Tree::Object(members) if members.is_empty() => "{}".to_string(),
            Tree::Array(items) => {
                let inner = format!("{base}{unit}");
                let items: Vec<String> = items
                    .iter()
                    .map(|t| format!("{inner}{}", t.to_json(unit, &inner)))
                    .collect();
                format!("[\n{}\n{base}]", items.join(",\n"))
            }
            Tree::Object(members) => {
                let inner = format!("{base}{unit}");
                let items: Vec<String> = members
                    .iter()
                    .map(|(k, t)| {
                        format!(
                            "{inner}{}: {}",
                            Value::String(k.clone()),
                            t.to_json(unit, &inner)
                        )
                    })
                    .collect();
                format!("{{\n{}\n{base}}}", items.join(",\n"))
            }
        }
    }

    /// A TOML value (inline form); `None` for JSON null.
    pub fn to_toml_value(&self) -> Option<toml_edit::Value> {
        Some(match self {
            Tree::Scalar(Value::Null) => return None,
            Tree::Scalar(Value::Bool(b)) => (*b).into(),
            Tree::Scalar(Value::Number(n)) => match n.as_i64() {
                Some(i) => i.into(),
                None => n.as_f64().unwrap_or(0.0).into(),
            },
            Tree::Scalar(Value::String(s)) => s.as_str().into(),
            Tree::Scalar(other) => other.to_string().into(),
            Tree::Array(items) => {
                let mut arr = toml_edit::Array::new();
                for v in items.iter().filter_map(Tree::to_toml_value) {
                    arr.push(v);
                }
                toml_edit::Value::Array(arr)
            }
            Tree::Object(members) => {
                let mut t = toml_edit::InlineTable::new();
                for (k, v) in members {
                    if let Some(v) = v.to_toml_value() {
                        t.insert(k, v);
                    }
                }
                toml_edit::Value::InlineTable(t)
            }
        })
    }

    /// A TOML item: objects become tables, arrays of objects arrays of tables.
    pub fn to_toml_item(&self) -> Item {
        match self {
            Tree::Object(members) => {
                let mut t = toml_edit::Table::new();
                for (k, v) in members {
                    let item = v.to_toml_item();
                    if !item.is_none() {
                        t.insert(k, item);
                    }
                }
                Item::Table(t)
            }
            Tree::Array(items)
                if !items.is_empty() && items.iter().all(|i| matches!(i, Tree::Object(_))) =>
            {
                let mut a = toml_edit::ArrayOfTables::new();
                for i in items {
                    if let Item::Table(t) = i.to_toml_item() {
                        a.push(t);
                    }
                }
                Item::ArrayOfTables(a)
            }
            other => other.to_toml_value().map(Item::Value).unwrap_or(Item::None),
        }
    }
}

/// A TOML document from an object tree.
pub fn toml_document(tree: &Tree) -> toml_edit::DocumentMut {
    let mut doc = toml_edit::DocumentMut::new();
    if let Tree::Object(members) = tree {
        for (k, v) in members {
            let item = v.to_toml_item();
            if !item.is_none() {
                doc.insert(k, item);
            }
        }
    }
    doc
}
