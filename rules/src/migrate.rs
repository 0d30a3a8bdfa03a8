//! The next migration: the SQL that takes a database from one [`Schema`]
//! (the last snapshot) to another (the current models).
//!
//! [`diff`] writes, in this order, inside the one transaction wrangler runs
//! a migration in:
//!
//! 1. `PRAGMA defer_foreign_keys = on` when tables are rebuilt or dropped.
//!    D1 enforces foreign keys and a migration cannot turn them off, so the
//!    checks are postponed to the commit instead;
//! 2. `DROP VIEW` for every view that changed or reads a table this
//!    migration touches;
//! 3. the renames the user asked for (`ALTER TABLE … RENAME`), never guessed;
//! 4. `ALTER TABLE … DROP COLUMN` / `ADD COLUMN` where SQLite can do it:
//!    only nullable columns without a foreign key, appended after the
//!    existing ones, so the result equals a fresh `CREATE TABLE`;
//! 5. the table rebuild for everything else (type, nullability, keys,
//!    foreign keys, column order): a `_cloesce_new_T` copy per table,
//!    rows copied, old tables dropped, copies renamed. Every table with a
//!    foreign key into a rebuilt table is rebuilt with it, and the copies
//!    point at each other, because dropping a parent that still has
//!    `ON DELETE RESTRICT` children fails at once even with deferral;
//! 6. `CREATE TABLE` for new tables, then `CREATE VIEW`.
//!
//! Destructive steps (a dropped table or column, a rebuild that cannot keep
//! the rows) and NOT NULL columns without a value for existing rows are
//! refused with every affected table and column listed, unless
//! [`Options`] allows them.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::RuleDiagnostic;
use crate::schema::{create_table, create_view, Column, Schema, Table};

/// The prefix of the temporary copy of a table being rebuilt.
const NEW_PREFIX: &str = "_cloesce_new_";

/// What the user said about the changes (`cloesce migrate`'s flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `--rename`, in the order given.
    pub renames: Vec<Rename>,
    /// `--allow-drop`: dropping tables and columns is intended.
    pub allow_drop: bool,
    /// `--default Model.field=SQL`: the value existing rows get for a new
    /// NOT NULL column, or for NULLs in a column that becomes NOT NULL.
    pub defaults: BTreeMap<(String, String), String>,
}

/// One `--rename`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rename {
    /// `Old=New`: a model (its table) was renamed.
    Table { from: String, to: String },
    /// `Model.old=new`: a column was renamed (`Model` may be the old or the
    /// new name of a renamed model).
    Column {
        table: String,
        from: String,
        to: String,
    },
}

impl Rename {
    /// Parses `Old=New` or `Model.old=new`.
    pub fn parse(text: &str) -> Result<Rename, String> {
        let bad = || format!("`--rename {text}` is not `Model.old=new` or `OldModel=NewModel`");
        let (left, to) = text.split_once('=').ok_or_else(bad)?;
        let ident = |s: &str| !s.is_empty() && !s.contains(['.', '=', '"', ' ']);
        match left.split_once('.') {
            Some((table, from)) if ident(table) && ident(from) && ident(to) => Ok(Rename::Column {
                table: table.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            }),
            None if ident(left) && ident(to) => Ok(Rename::Table {
                from: left.to_string(),
                to: to.to_string(),
            }),
            _ => Err(bad()),
        }
    }
}

/// Parses `--default Model.field=SQL_LITERAL`. The literal is a number, a
/// quoted string (`'it''s'`) or a blob (`X'00ff'`).
pub fn parse_default(text: &str) -> Result<((String, String), String), String> {
    let bad = || format!("`--default {text}` is not `Model.field=VALUE`");
    let (left, value) = text.split_once('=').ok_or_else(bad)?;
    let (table, column) = left.split_once('.').ok_or_else(bad)?;
    if table.is_empty() || column.is_empty() {
        return Err(bad());
    }
    if !is_sql_literal(value) {
        return Err(format!(
            "`--default {text}`: `{value}` is not a SQL literal; write a number (42, 1.5), a quoted text ('none') or a blob (X'00'), and quote it for your shell: --default \"{left}='{value}'\""
        ));
    }
    Ok(((table.to_string(), column.to_string()), value.to_string()))
}

fn is_sql_literal(v: &str) -> bool {
    let number = |s: &str| {
        let s = s.strip_prefix('-').unwrap_or(s);
        let mut parts = s.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next();
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    let quoted = |s: &str| {
        s.len() >= 2
            && s.starts_with('\'')
            && s.ends_with('\'')
            && !s[1..s.len() - 1].replace("''", "").contains('\'')
    };
    let blob = |s: &str| {
        s.strip_prefix(['X', 'x']).is_some_and(|rest| {
            quoted(rest)
                && rest.len() % 2 == 0
                && rest[1..rest.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit())
        })
    };
    number(v) || quoted(v) || blob(v)
}

/// A migration: its SQL and what it changes, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub sql: String,
    pub changes: Vec<String>,
}

/// The field renames the user may have meant but did not give: in every
/// model that exists in `old` (after the renames `opts` gives) and in `new`,
/// each field that was removed paired with each field that was added, in
/// table and column order. `cloesce migrate` asks about each on a terminal;
/// nothing here is ever applied without that yes (renames are never
/// guessed).
pub fn rename_candidates(old: &Schema, new: &Schema, opts: &Options) -> Vec<Rename> {
    let renamed = apply_renames(
        old,
        new,
        &opts.renames,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut BTreeSet::new(),
        &mut Vec::new(),
    );
    let mut out = Vec::new();
    for (name, n) in new.tables.iter().filter(|(_, t)| !t.is_junction()) {
        let Some(o) = renamed.tables.get(name) else {
            continue;
        };
        let added: Vec<&str> = n
            .columns
            .iter()
            .filter(|c| o.column(&c.name).is_none())
            .map(|c| c.name.as_str())
            .collect();
        for removed in o.columns.iter().filter(|c| n.column(&c.name).is_none()) {
            out.extend(added.iter().map(|to| Rename::Column {
                table: name.clone(),
                from: removed.name.clone(),
                to: to.to_string(),
            }));
        }
    }
    out
}

/// What differs between `old` and `new`, one line each (`Writer.phone
/// added`), in a fixed order. Empty when nothing does.
pub fn changes(old: &Schema, new: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for (name, t) in &new.tables {
        let kind = if t.is_junction() {
            "junction table"
        } else {
            "model"
        };
        match old.tables.get(name) {
            None => out.push(format!("{kind} {name} added")),
            Some(o) if o != t => table_changes(name, o, t, &mut out),
            Some(_) => {}
        }
    }
    for (name, t) in &old.tables {
        if !new.tables.contains_key(name) {
            let kind = if t.is_junction() {
                "junction table"
            } else {
                "model"
            };
            out.push(format!("{kind} {name} removed"));
        }
    }
    // A view that changed only because a table it reads did is not listed.
    let changed_tables: BTreeSet<&String> = new
        .tables
        .keys()
        .chain(old.tables.keys())
        .filter(|t| old.tables.get(*t) != new.tables.get(*t))
        .collect();
    for (name, v) in &new.views {
        match old.views.get(name) {
            None => out.push(format!("data source view {name} added")),
            Some(o)
                if o.select != v.select && !v.tables.iter().any(|t| changed_tables.contains(t)) =>
            {
                out.push(format!("data source view {name} changed"))
            }
            Some(_) => {}
        }
    }
    for name in old.views.keys() {
        if !new.views.contains_key(name) {
            out.push(format!("data source view {name} removed"));
        }
    }
    out
}

fn column_type(c: &Column) -> String {
    if c.not_null {
        format!("{} NOT NULL", c.sql_type)
    } else {
        c.sql_type.clone()
    }
}

fn table_changes(name: &str, o: &Table, n: &Table, out: &mut Vec<String>) {
    for c in &n.columns {
        match o.column(&c.name) {
            None => out.push(format!("{name}.{} added", c.name)),
            Some(oc) if oc != c => out.push(format!(
                "{name}.{} changed: {} -> {}",
                c.name,
                column_type(oc),
                column_type(c)
            )),
            Some(_) => {}
        }
    }
    for c in &o.columns {
        if n.column(&c.name).is_none() {
            out.push(format!("{name}.{} removed", c.name));
        }
    }
    if o.primary_key != n.primary_key {
        out.push(format!(
            "{name}: primary key changed from ({}) to ({})",
            o.primary_key.join(", "),
            n.primary_key.join(", ")
        ));
    }
    for fk in &n.foreign_keys {
        if !o.foreign_keys.contains(fk) {
            out.push(format!("{name}.{} now references {}", fk.column, fk.table));
        }
    }
    for fk in &o.foreign_keys {
        if !n.foreign_keys.contains(fk) {
            out.push(format!(
                "{name}.{} no longer references {}",
                fk.column, fk.table
            ));
        }
    }
    let common = |a: &Table, b: &Table| -> Vec<String> {
        a.columns
            .iter()
            .filter(|c| b.column(&c.name).is_some())
            .map(|c| c.name.clone())
            .collect()
    };
    if common(o, n) != common(n, o) {
        out.push(format!("{name}: columns reordered"));
    }
}

/// Renames `from` to `to` in `schema`: the table and every foreign key and
/// view that names it.
fn rename_table(schema: &mut Schema, from: &str, to: &str) {
    if let Some(t) = schema.tables.remove(from) {
        schema.tables.insert(to.to_string(), t);
    }
    for t in schema.tables.values_mut() {
        for fk in &mut t.foreign_keys {
            if fk.table == from {
                fk.table = to.to_string();
            }
        }
    }
    for v in schema.views.values_mut() {
        if v.tables.remove(from) {
            v.tables.insert(to.to_string());
        }
    }
}

/// Renames column `from` of `table` to `to`, with the keys that name it.
fn rename_column(schema: &mut Schema, table: &str, from: &str, to: &str) {
    if let Some(t) = schema.tables.get_mut(table) {
        for c in &mut t.columns {
            if c.name == from {
                c.name = to.to_string();
            }
        }
        for k in &mut t.primary_key {
            if k == from {
                *k = to.to_string();
            }
        }
        for fk in &mut t.foreign_keys {
            if fk.column == from {
                fk.column = to.to_string();
            }
        }
    }
    for t in schema.tables.values_mut() {
        for fk in &mut t.foreign_keys {
            if fk.table == table && fk.to == from {
                fk.to = to.to_string();
            }
        }
    }
}

/// Applies the user's renames to `old`, returning the renamed schema, the
/// SQL and the change lines; problems go to `problems`.
fn apply_renames(
    old: &Schema,
    new: &Schema,
    renames: &[Rename],
    sql: &mut Vec<String>,
    changes: &mut Vec<String>,
    touched: &mut BTreeSet<String>,
    problems: &mut Vec<RuleDiagnostic>,
) -> Schema {
    let mut renamed = old.clone();
    let mut table_names: BTreeMap<String, String> = BTreeMap::new();
    let bad = |text: String, help: &str| {
        RuleDiagnostic::new("cloesce::migrate::bad_rename", text).with_help(help.to_string())
    };
    for r in renames {
        if let Rename::Table { from, to } = r {
            if !renamed.tables.contains_key(from) {
                problems.push(bad(
                    format!("--rename {from}={to}: the last migration has no model `{from}`"),
                    "name the model as it was in the last migration",
                ));
            } else if !new.tables.contains_key(to) {
                problems.push(bad(
                    format!("--rename {from}={to}: there is no model `{to}` now"),
                    "name the model as it is in the model files now",
                ));
            } else if renamed.tables.contains_key(to) || new.tables.contains_key(from) {
                problems.push(bad(
                    format!("--rename {from}={to}: both `{from}` and `{to}` exist before or after"),
                    "a rename takes a model that is gone to one that is new",
                ));
            } else {
                rename_table(&mut renamed, from, to);
                sql.push(format!("ALTER TABLE \"{from}\" RENAME TO \"{to}\";"));
                changes.push(format!("model {from} renamed to {to}"));
                table_names.insert(from.clone(), to.clone());
                touched.insert(to.clone());
            }
        }
    }
    for r in renames {
        if let Rename::Column { table, from, to } = r {
            let table = table_names.get(table).unwrap_or(table);
            let (Some(o), Some(n)) = (renamed.tables.get(table), new.tables.get(table)) else {
                problems.push(bad(
                    format!("--rename {table}.{from}={to}: there is no model `{table}` both in the last migration and now"),
                    "name a model that exists before and after (after its own --rename, if any)",
                ));
                continue;
            };
            if o.column(from).is_none() || n.column(from).is_some() {
                problems.push(bad(
                    format!("--rename {table}.{from}={to}: `{from}` is not a field of {table} that was removed"),
                    "the old name must be in the last migration and gone from the model",
                ));
            } else if n.column(to).is_none() || o.column(to).is_some() {
                problems.push(bad(
                    format!("--rename {table}.{from}={to}: `{to}` is not a field of {table} that was added"),
                    "the new name must be in the model and not in the last migration",
                ));
            } else {
                rename_column(&mut renamed, table, from, to);
                sql.push(format!(
                    "ALTER TABLE \"{table}\" RENAME COLUMN \"{from}\" TO \"{to}\";"
                ));
                changes.push(format!("{table}.{from} renamed to {to}"));
                touched.insert(table.clone());
            }
        }
    }
    // A junction table's columns are named after its models and their keys:
    // they follow a model or key rename without being asked.
    let junctions: Vec<String> = new
        .tables
        .iter()
        .filter(|(n, t)| t.is_junction() && renamed.tables.contains_key(*n))
        .map(|(n, _)| n.clone())
        .collect();
    for name in junctions {
        let (o, n) = (&renamed.tables[&name], &new.tables[&name]);
        let target = |t: &Table, col: &str| {
            t.foreign_keys
                .iter()
                .find(|f| f.column == col)
                .map(|f| f.table.clone())
        };
        let mut pairs = Vec::new();
        for oc in o.columns.iter().filter(|c| n.column(&c.name).is_none()) {
            let matches: Vec<&Column> = n
                .columns
                .iter()
                .filter(|c| o.column(&c.name).is_none())
                .filter(|c| target(n, &c.name) == target(o, &oc.name))
                .collect();
            if let [one] = matches.as_slice() {
                pairs.push((oc.name.clone(), one.name.clone()));
            }
        }
        for (from, to) in pairs {
            rename_column(&mut renamed, &name, &from, &to);
            sql.push(format!(
                "ALTER TABLE \"{name}\" RENAME COLUMN \"{from}\" TO \"{to}\";"
            ));
            touched.insert(name.clone());
        }
    }
    renamed
}

/// The tables of `a` that `b` does not have.
fn tables_missing_from<'a>(a: &'a Schema, b: &Schema) -> BTreeSet<&'a str> {
    a.tables
        .keys()
        .filter(|n| !b.tables.contains_key(*n))
        .map(String::as_str)
        .collect()
}

/// True when SQLite's `ALTER TABLE` turns `o` into exactly `n`: same keys
/// and foreign keys, same columns in the same order except for dropped ones
/// and nullable, foreign-key-free ones appended at the end.
fn alterable(o: &Table, n: &Table) -> bool {
    if o.primary_key != n.primary_key || o.foreign_keys != n.foreign_keys {
        return false;
    }
    let kept: Vec<&Column> = o
        .columns
        .iter()
        .filter(|c| n.column(&c.name).is_some())
        .collect();
    let (head, tail) = n.columns.split_at(kept.len().min(n.columns.len()));
    head.iter().zip(&kept).all(|(a, b)| a == *b)
        && head.len() == kept.len()
        && tail
            .iter()
            .all(|c| !c.not_null && o.column(&c.name).is_none())
}

/// Takes a database from `old` to `new`. Every problem (a destructive step
/// without `allow_drop`, a missing value, a bad rename or default) is
/// reported at once.
pub fn diff(old: &Schema, new: &Schema, opts: &Options) -> Result<Migration, Vec<RuleDiagnostic>> {
    let mut problems = Vec::new();
    let mut rename_sql = Vec::new();
    let mut change_lines = Vec::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let renamed = apply_renames(
        old,
        new,
        &opts.renames,
        &mut rename_sql,
        &mut change_lines,
        &mut touched,
        &mut problems,
    );
    change_lines.extend(changes(&renamed, new));

    let created = tables_missing_from(new, &renamed);
    let removed = tables_missing_from(&renamed, new);
    let mut rebuild: BTreeSet<&str> = BTreeSet::new();
    let mut altered: BTreeSet<&str> = BTreeSet::new();
    for (name, n) in &new.tables {
        let Some(o) = renamed.tables.get(name) else {
            continue;
        };
        if o == n {
            continue;
        }
        if alterable(o, n) {
            altered.insert(name);
        } else {
            rebuild.insert(name);
        }
    }
    // Every table that points at a rebuilt one is rebuilt with it.
    loop {
        let children: Vec<&str> = renamed
            .tables
            .iter()
            .filter(|(name, t)| {
                new.tables.contains_key(*name)
                    && !rebuild.contains(name.as_str())
                    && t.foreign_keys
                        .iter()
                        .any(|fk| rebuild.contains(fk.table.as_str()))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        if children.is_empty() {
            break;
        }
        rebuild.extend(children);
    }
    altered.retain(|t| !rebuild.contains(t));
    touched.extend(rebuild.iter().map(|s| s.to_string()));
    touched.extend(altered.iter().map(|s| s.to_string()));
    touched.extend(removed.iter().map(|s| s.to_string()));

    // What would lose data, and what needs a value.
    let mut lost = Vec::new();
    let mut needs_value = Vec::new();
    let mut used_defaults = BTreeSet::new();
    for t in &removed {
        lost.push(format!("table {t} (all its rows)"));
    }
    let mut keeps_rows: BTreeMap<&str, bool> = BTreeMap::new();
    for name in rebuild.iter().chain(altered.iter()) {
        let (o, n) = (&renamed.tables[*name], &new.tables[*name]);
        for c in &o.columns {
            if n.column(&c.name).is_none() {
                lost.push(format!("{name}.{}", c.name));
            }
        }
        let new_key = n.primary_key.iter().any(|k| o.column(k).is_none());
        // New key values cannot be made up (rows pointing at the old ones
        // would dangle): a primary key that was renamed needs --rename.
        if new_key {
            lost.push(format!(
                "table {name} (all its rows: its primary key ({}) is new)",
                n.primary_key.join(", ")
            ));
            keeps_rows.insert(name, false);
            continue;
        }
        keeps_rows.insert(name, true);
        for c in &n.columns {
            let needs = match o.column(&c.name) {
                None => c.not_null,
                Some(oc) => c.not_null && !oc.not_null,
            };
            if !needs {
                continue;
            }
            let key = (name.to_string(), c.name.clone());
            if opts.defaults.contains_key(&key) {
                used_defaults.insert(key);
            } else {
                needs_value.push((
                    name.to_string(),
                    c.name.clone(),
                    o.column(&c.name).is_some(),
                ));
            }
        }
    }
    if !lost.is_empty() && !opts.allow_drop {
        problems.push(data_loss(&lost));
    }
    if !needs_value.is_empty() {
        problems.push(missing_values(new, &needs_value));
    }
    for (table, column) in opts.defaults.keys() {
        if !used_defaults.contains(&(table.clone(), column.clone())) {
            problems.push(
                RuleDiagnostic::new(
                    "cloesce::migrate::unused_default",
                    format!("--default {table}.{column}: {table}.{column} is not a NOT NULL field that existing rows lack a value for"),
                )
                .with_help("give --default only for a new NOT NULL field, or one that was nullable before"),
            );
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    // Views to drop (old names) and to create.
    let mut drop_views = Vec::new();
    for (name, v) in &renamed.views {
        let changed = new.views.get(name).is_none_or(|n| n.select != v.select);
        if changed || v.tables.iter().any(|t| touched.contains(t)) {
            drop_views.push(name.clone());
        }
    }
    let create_views: Vec<&String> = new
        .views
        .keys()
        .filter(|n| !renamed.views.contains_key(*n) || drop_views.contains(n))
        .collect();

    let mut sql = Vec::new();
    if !rebuild.is_empty() || !removed.is_empty() {
        sql.push("PRAGMA defer_foreign_keys = on;".to_string());
    }
    for name in &drop_views {
        sql.push(format!("DROP VIEW \"{name}\";"));
    }
    sql.extend(rename_sql);
    for name in &altered {
        let (o, n) = (&renamed.tables[*name], &new.tables[*name]);
        for c in o.columns.iter().filter(|c| n.column(&c.name).is_none()) {
            sql.push(format!(
                "ALTER TABLE \"{name}\" DROP COLUMN \"{}\";",
                c.name
            ));
        }
        for c in n.columns.iter().filter(|c| o.column(&c.name).is_none()) {
            sql.push(format!(
                "ALTER TABLE \"{name}\" ADD COLUMN \"{}\" {};",
                c.name, c.sql_type
            ));
        }
    }
    let order = new.creation_order(&rebuild);
    let copy_name = |t: &str| {
        if rebuild.contains(t) {
            format!("{NEW_PREFIX}{t}")
        } else {
            t.to_string()
        }
    };
    for name in &order {
        sql.push(create_table(
            &copy_name(name),
            &new.tables[*name],
            &copy_name,
        ));
    }
    for name in &order {
        if keeps_rows.get(name) == Some(&true) {
            sql.push(copy_rows(
                name,
                &renamed.tables[*name],
                &new.tables[*name],
                opts,
            ));
        }
    }
    let dropped: BTreeSet<&str> = rebuild.iter().chain(removed.iter()).copied().collect();
    for name in &dropped {
        let t = &renamed.tables[*name];
        for fk in &t.foreign_keys {
            let nullable = t.column(&fk.column).is_some_and(|c| !c.not_null);
            if nullable && dropped.contains(fk.table.as_str()) {
                sql.push(format!("UPDATE \"{name}\" SET \"{}\" = NULL;", fk.column));
            }
        }
    }
    for name in renamed.creation_order(&dropped).iter().rev() {
        sql.push(format!("DROP TABLE \"{name}\";"));
    }
    for name in &order {
        sql.push(format!(
            "ALTER TABLE \"{NEW_PREFIX}{name}\" RENAME TO \"{name}\";"
        ));
    }
    for name in new.creation_order(&created) {
        sql.push(create_table(name, &new.tables[name], &|t| t.to_string()));
    }
    for name in create_views {
        sql.push(create_view(name, &new.views[name]));
    }
    let mut text = String::new();
    for line in &sql {
        text.push_str(line);
        text.push('\n');
    }
    Ok(Migration {
        sql: text,
        changes: change_lines,
    })
}

/// `INSERT INTO "_cloesce_new_T" (…) SELECT … FROM "T";`
fn copy_rows(name: &str, o: &Table, n: &Table, opts: &Options) -> String {
    let mut into = Vec::new();
    let mut from = Vec::new();
    for c in &n.columns {
        let default = opts.defaults.get(&(name.to_string(), c.name.clone()));
        let value = match (o.column(&c.name), default) {
            (Some(_), Some(d)) => format!("COALESCE(\"{}\", {d})", c.name),
            (Some(_), None) => format!("\"{}\"", c.name),
            (None, Some(d)) => d.clone(),
            (None, None) => continue,
        };
        into.push(format!("\"{}\"", c.name));
        from.push(value);
    }
    format!(
        "INSERT INTO \"{NEW_PREFIX}{name}\" ({}) SELECT {} FROM \"{name}\";",
        into.join(", "),
        from.join(", ")
    )
}

fn data_loss(lost: &[String]) -> RuleDiagnostic {
    let mut message = String::from("this migration would delete data:");
    for l in lost {
        message.push_str("\n  - ");
        message.push_str(l);
    }
    RuleDiagnostic::new("cloesce::migrate::data_loss", message).with_help(
        "if a model or field was renamed, say so with --rename Model.old=new (or --rename OldModel=NewModel) to keep the data; if the data may go, run again with --allow-drop",
    )
}

fn missing_values(new: &Schema, items: &[(String, String, bool)]) -> RuleDiagnostic {
    let mut message = String::from("existing rows have no value for these NOT NULL fields:");
    for (table, column, existed) in items {
        message.push_str(&format!(
            "\n  - {table}.{column} ({})",
            if *existed {
                "was nullable"
            } else {
                "new field"
            }
        ));
    }
    let (table, column, _) = &items[0];
    let example = match new.tables[table]
        .column(column)
        .map(|c| c.sql_type.as_str())
    {
        Some("integer") | Some("real") => "0",
        Some("blob") => "X''",
        _ => "''",
    };
    RuleDiagnostic::new("cloesce::migrate::needs_value", message).with_help(format!(
        "make the field nullable in the model (`{column}: … | null`), or give existing rows a value: --default {table}.{column}={example}"
    ))
}

#[cfg(test)]
mod tests {
    use super::{is_sql_literal, parse_default, rename_candidates, Options, Rename};
    use crate::schema::{Column, Schema, Table};

    /// A schema of models with `id` and these text columns.
    fn schema(tables: &[(&str, &[&str])]) -> Schema {
        let column = |name: &str, sql_type: &str| Column {
            name: name.into(),
            sql_type: sql_type.into(),
            not_null: false,
        };
        let mut schema = Schema::default();
        for (name, columns) in tables {
            let mut all = vec![column("id", "integer")];
            all.extend(columns.iter().map(|c| column(c, "text")));
            let table = Table {
                columns: all,
                primary_key: vec!["id".into()],
                foreign_keys: vec![],
            };
            schema.tables.insert(name.to_string(), table);
        }
        schema
    }

    fn field(table: &str, from: &str, to: &str) -> Rename {
        Rename::Column {
            table: table.into(),
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn rename_candidates_pair_removed_and_added_fields_of_one_model() {
        let old = schema(&[("Owner", &["email", "fax"]), ("Dog", &["name"])]);
        let new = schema(&[("Owner", &["contact"]), ("Pet", &["name", "tag"])]);
        let none = Options::default();
        // Only within a model that is in both: `Dog` → `Pet` is not a field pair.
        assert_eq!(
            rename_candidates(&old, &new, &none),
            vec![
                field("Owner", "email", "contact"),
                field("Owner", "fax", "contact")
            ]
        );
        // After the renames given: a renamed model's fields pair up, and a
        // field already renamed is not asked about again.
        let given = Options {
            renames: vec![
                Rename::parse("Dog=Pet").unwrap(),
                Rename::parse("Owner.fax=contact").unwrap(),
            ],
            ..Options::default()
        };
        assert_eq!(rename_candidates(&old, &new, &given), vec![]);
        let new = schema(&[("Owner", &["email", "fax"]), ("Pet", &["label"])]);
        let given = Options {
            renames: vec![Rename::parse("Dog=Pet").unwrap()],
            ..Options::default()
        };
        assert_eq!(
            rename_candidates(&old, &new, &given),
            vec![field("Pet", "name", "label")]
        );
    }

    #[test]
    fn renames_parse() {
        assert_eq!(
            Rename::parse("Writer.bio=biography"),
            Ok(Rename::Column {
                table: "Writer".into(),
                from: "bio".into(),
                to: "biography".into()
            })
        );
        assert_eq!(
            Rename::parse("Label=Tag"),
            Ok(Rename::Table {
                from: "Label".into(),
                to: "Tag".into()
            })
        );
        for bad in ["x", "=y", "a.b=", "a.b.c=d", "a=b=c", "a.=b"] {
            assert!(Rename::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_are_sql_literals() {
        for ok in ["0", "-12", "1.5", "''", "'it''s'", "X'00ff'", "x''"] {
            assert!(is_sql_literal(ok), "{ok}");
        }
        for bad in [
            "zero",
            "1.",
            ".5",
            "'a'b'",
            "X'0'",
            "X'zz'",
            "NULL",
            "1; DROP TABLE x",
        ] {
            assert!(!is_sql_literal(bad), "{bad}");
        }
        assert_eq!(
            parse_default("Writer.phone='none'"),
            Ok((("Writer".into(), "phone".into()), "'none'".into()))
        );
        assert!(parse_default("Writer=1").is_err());
    }
}
