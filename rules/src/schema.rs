//! The schema-shaping part of the IR: tables (models and junction tables),
//! their columns, keys and foreign keys, and the data-source views.
//!
//! A [`Schema`] is what a migration snapshot stores and what
//! [`crate::migrate`] diffs. It is built from the IR by [`Schema::from_ast`]
//! and rendered to SQL by [`create_table`] and [`create_view`], the one
//! renderer behind both the full schema (`cloesce/d1`) and every migration.
//! Maps are `BTreeMap`s and lists keep declaration order, so serialising a
//! schema gives the same bytes every time.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ir::{CidlType, CloesceAst, IncludeTree, Model, NavigationKind};
use crate::validate;

/// The foreign-key actions every generated foreign key carries.
const ON: &str = "ON DELETE RESTRICT ON UPDATE CASCADE";

/// Every table and view of a D1 database, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    pub views: BTreeMap<String, View>,
}

/// One table: a model's, or a many-to-many junction table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// In table order: the primary key first for a model.
    pub columns: Vec<Column>,
    /// One column for a model, two for a junction table.
    pub primary_key: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// `integer`, `real`, `text` or `blob`.
    #[serde(rename = "type")]
    pub sql_type: String,
    pub not_null: bool,
}

/// `FOREIGN KEY (column) REFERENCES table (to)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ForeignKey {
    pub column: String,
    pub table: String,
    pub to: String,
}

/// One data-source view: its `SELECT` and the tables it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub select: String,
    pub tables: BTreeSet<String>,
}

impl Table {
    /// True for a many-to-many junction table (a composite primary key).
    pub fn is_junction(&self) -> bool {
        self.primary_key.len() > 1
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl Schema {
    /// The schema the IR's models describe. The IR must have passed
    /// [`validate::check`] (a foreign-key cycle is reported here too).
    pub fn from_ast(ast: &CloesceAst) -> Result<Schema, Box<validate::Problem>> {
        validate::table_order(ast)?;
        let mut schema = Schema::default();
        for model in ast.models.values() {
            schema
                .tables
                .insert(model.name.clone(), model_table(ast, model));
            for ds in model.data_sources.values() {
                schema.views.insert(
                    format!("{}_{}", model.name, ds.name),
                    view(ast, model, &ds.tree),
                );
            }
        }
        for (junction, sides) in validate::junctions(ast) {
            if let [(a, _, _), (b, _, _)] = sides.as_slice() {
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                schema.tables.insert(
                    junction.to_string(),
                    junction_table(&ast.models[*a], &ast.models[*b]),
                );
            }
        }
        Ok(schema)
    }

    /// The order to create `names` in: model tables first, each after the
    /// tables its NOT NULL foreign keys point at (ties by name), then the
    /// junction tables by name. Names not in the schema are left out.
    pub fn creation_order<'a>(&'a self, names: &BTreeSet<&'a str>) -> Vec<&'a str> {
        let present = |n: &&str| names.contains(n);
        let models: Vec<&str> = self
            .tables
            .iter()
            .filter(|(n, t)| !t.is_junction() && present(&n.as_str()))
            .map(|(n, _)| n.as_str())
            .collect();
        let is_model: BTreeSet<&str> = models.iter().copied().collect();
        let mut edges = Vec::new();
        for name in &models {
            for fk in &self.tables[*name].foreign_keys {
                let nullable = self.tables[*name]
                    .column(&fk.column)
                    .is_some_and(|c| !c.not_null);
                if !nullable && fk.table != *name && is_model.contains(fk.table.as_str()) {
                    edges.push((fk.table.as_str(), *name));
                }
            }
        }
        let mut order = validate::kahn(&models, &edges);
        // A cycle cannot pass validation; keep every table anyway.
        if order.len() < models.len() {
            let ordered: BTreeSet<&str> = order.iter().copied().collect();
            order.extend(models.iter().filter(|m| !ordered.contains(*m)));
        }
        order.extend(
            self.tables
                .iter()
                .filter(|(n, t)| t.is_junction() && present(&n.as_str()))
                .map(|(n, _)| n.as_str()),
        );
        order
    }

    /// The whole schema as SQL, one statement per line: tables in
    /// [`Schema::creation_order`], then views by name.
    pub fn to_sql(&self) -> String {
        let mut out = String::new();
        self.write_sql(&mut out);
        out
    }

    /// [`Schema::to_sql`], appended to `out`.
    pub fn write_sql(&self, out: &mut String) {
        let all: BTreeSet<&str> = self.tables.keys().map(String::as_str).collect();
        for name in self.creation_order(&all) {
            write_create_table(out, name, &self.tables[name], &|t| t.to_string());
            out.push('\n');
        }
        for (name, v) in &self.views {
            write_create_view(out, name, v);
            out.push('\n');
        }
    }
}

/// Appends each of `parts` to `out`: the renderer writes its SQL piece by
/// piece into one string (a schema of hundreds of tables and views is most
/// of `cloesce/d1`'s output, and a string per column was most of its time).
fn push_all(out: &mut String, parts: &[&str]) {
    for part in parts {
        out.push_str(part);
    }
}

/// `CREATE TABLE "name" ( … );` for `table`. `target` maps the table a
/// foreign key points at to the name written (a rebuild points at the new
/// copies of the tables it rebuilds).
pub fn create_table(name: &str, table: &Table, target: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    write_create_table(&mut out, name, table, target);
    out
}

/// [`create_table`], appended to `out`.
fn write_create_table(
    out: &mut String,
    name: &str,
    table: &Table,
    target: &dyn Fn(&str) -> String,
) {
    let single_pk = match table.primary_key.as_slice() {
        [one] => Some(one.as_str()),
        _ => None,
    };
    push_all(out, &["CREATE TABLE \"", name, "\" ( "]);
    let mut first = true;
    let mut item = |out: &mut String| {
        if !first {
            out.push_str(", ");
        }
        first = false;
    };
    for c in &table.columns {
        item(out);
        let pk = if single_pk == Some(c.name.as_str()) {
            " PRIMARY KEY"
        } else {
            ""
        };
        let not_null = if c.not_null { " NOT NULL" } else { "" };
        push_all(out, &["\"", &c.name, "\" ", &c.sql_type, pk, not_null]);
    }
    if single_pk.is_none() {
        item(out);
        out.push_str("PRIMARY KEY (");
        for (i, c) in table.primary_key.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            push_all(out, &[sep, "\"", c, "\""]);
        }
        out.push(')');
    }
    for fk in &table.foreign_keys {
        item(out);
        let to = target(&fk.table);
        push_all(
            out,
            &[
                "FOREIGN KEY (\"",
                &fk.column,
                "\") REFERENCES \"",
                &to,
                "\" (\"",
                &fk.to,
                "\") ",
                ON,
            ],
        );
    }
    out.push_str(" );");
}

/// `CREATE VIEW "name" AS SELECT …;`.
pub fn create_view(name: &str, view: &View) -> String {
    let mut out = String::new();
    write_create_view(&mut out, name, view);
    out
}

/// [`create_view`], appended to `out`.
fn write_create_view(out: &mut String, name: &str, view: &View) {
    push_all(out, &["CREATE VIEW \"", name, "\" AS ", &view.select, ";"]);
}

fn sql_type(ty: &CidlType) -> String {
    ty.sql_type().unwrap_or("blob").to_string()
}

fn model_table(ast: &CloesceAst, model: &Model) -> Table {
    let pk = &model.primary_key;
    let mut columns = vec![Column {
        name: pk.name.clone(),
        sql_type: sql_type(&pk.cidl_type),
        not_null: false,
    }];
    let mut foreign_keys = Vec::new();
    for attr in &model.attributes {
        let v = &attr.value;
        columns.push(Column {
            name: v.name.clone(),
            sql_type: sql_type(&v.cidl_type),
            not_null: !matches!(v.cidl_type, CidlType::Nullable(_)),
        });
        if let Some(target) = attr
            .foreign_key_reference
            .as_deref()
            .and_then(|t| ast.models.get(t))
        {
            foreign_keys.push(ForeignKey {
                column: v.name.clone(),
                table: target.name.clone(),
                to: target.primary_key.name.clone(),
            });
        }
    }
    Table {
        columns,
        primary_key: vec![pk.name.clone()],
        foreign_keys,
    }
}

/// The junction column that holds `model`'s primary key.
pub(crate) fn junction_column(model: &Model) -> String {
    format!("{}_{}", model.name, model.primary_key.name)
}

fn junction_table(a: &Model, b: &Model) -> Table {
    let (ca, cb) = (junction_column(a), junction_column(b));
    let column = |name: &str, m: &Model| Column {
        name: name.to_string(),
        sql_type: sql_type(&m.primary_key.cidl_type),
        not_null: true,
    };
    let fk = |name: &str, m: &Model| ForeignKey {
        column: name.to_string(),
        table: m.name.clone(),
        to: m.primary_key.name.clone(),
    };
    Table {
        columns: vec![column(&ca, a), column(&cb, b)],
        primary_key: vec![ca.clone(), cb.clone()],
        foreign_keys: vec![fk(&ca, a), fk(&cb, b)],
    }
}

/// Aliases handed out within one view.
#[derive(Default)]
struct Aliases(BTreeMap<String, usize>);

impl Aliases {
    fn next(&mut self, name: &str) -> String {
        let n = self.0.entry(name.to_string()).or_insert(0);
        let alias = if *n == 0 {
            name.to_string()
        } else {
            format!("{name}_{n}")
        };
        *n += 1;
        alias
    }
}

/// Builds one view's `SELECT`. Every use of a model *and* of a junction
/// table gets its own alias, so nested and repeated many-to-many relations
/// stay queryable. The select list and the joins are each written straight
/// into one string.
struct ViewBuilder<'a> {
    ast: &'a CloesceAst,
    aliases: Aliases,
    /// `"a"."c" AS "a_c", …`
    columns: String,
    /// ` LEFT JOIN … ON …` for each join, in order.
    joins: String,
    tables: BTreeSet<String>,
}

impl ViewBuilder<'_> {
    /// Adds `"alias"."column" AS "alias_column"` to the select list.
    fn column(&mut self, alias: &str, column: &str) {
        if !self.columns.is_empty() {
            self.columns.push_str(", ");
        }
        push_all(
            &mut self.columns,
            &[
                "\"", alias, "\".\"", column, "\" AS \"", alias, "_", column, "\"",
            ],
        );
    }

    fn columns_of(&mut self, model: &Model, alias: &str) {
        if !self.tables.contains(&model.name) {
            self.tables.insert(model.name.clone());
        }
        self.column(alias, &model.primary_key.name);
        for attr in &model.attributes {
            self.column(alias, &attr.value.name);
        }
    }

    /// Adds ` LEFT JOIN "table" [AS "alias"] ON "a"."x" = "b"."y"`.
    fn join(&mut self, table: &str, alias: &str, on: [&str; 4]) {
        push_all(&mut self.joins, &[" LEFT JOIN \"", table, "\""]);
        if table != alias {
            push_all(&mut self.joins, &[" AS \"", alias, "\""]);
        }
        let [a, x, b, y] = on;
        push_all(
            &mut self.joins,
            &[" ON \"", a, "\".\"", x, "\" = \"", b, "\".\"", y, "\""],
        );
    }

    fn walk(&mut self, model: &Model, alias: &str, tree: &IncludeTree) {
        self.columns_of(model, alias);
        for (key, sub) in &tree.0 {
            let Some(nav) = model
                .navigation_properties
                .iter()
                .find(|n| &n.var_name == key)
            else {
                continue;
            };
            let Some(child) = self.ast.models.get(&nav.model_name) else {
                continue;
            };
            let child_alias = self.aliases.next(&child.name);
            let cpk = &child.primary_key.name;
            let ppk = &model.primary_key.name;
            match &nav.kind {
                NavigationKind::OneToOne { reference } => self.join(
                    &child.name,
                    &child_alias,
                    [alias, reference, &child_alias, cpk],
                ),
                NavigationKind::OneToMany { reference } => self.join(
                    &child.name,
                    &child_alias,
                    [alias, ppk, &child_alias, reference],
                ),
                NavigationKind::ManyToMany { unique_id } => {
                    if !self.tables.contains(unique_id) {
                        self.tables.insert(unique_id.clone());
                    }
                    let j = self.aliases.next(unique_id);
                    self.join(unique_id, &j, [alias, ppk, &j, &junction_column(model)]);
                    self.join(
                        &child.name,
                        &child_alias,
                        [&j, &junction_column(child), &child_alias, cpk],
                    );
                }
            }
            self.walk(child, &child_alias, sub);
        }
    }
}

fn view(ast: &CloesceAst, model: &Model, tree: &IncludeTree) -> View {
    let mut b = ViewBuilder {
        ast,
        aliases: Aliases::default(),
        columns: String::new(),
        joins: String::new(),
        tables: BTreeSet::new(),
    };
    let root = b.aliases.next(&model.name);
    b.walk(model, &root, tree);
    let mut select = String::with_capacity(b.columns.len() + b.joins.len() + 32);
    push_all(
        &mut select,
        &[
            "SELECT ",
            &b.columns,
            " FROM \"",
            &model.name,
            "\"",
            &b.joins,
        ],
    );
    View {
        select,
        tables: b.tables,
    }
}
