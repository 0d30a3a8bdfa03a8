//! Migrations: the central invariant, as a property test.
//!
//! Random sequences of model edits (models, nullable and NOT NULL columns
//! with defaults, foreign keys with their one-to-one and one-to-many
//! navigation, many-to-many junction tables, data-source views, type and
//! nullability changes, column moves, explicit renames). After each edit
//! the migration from the last snapshot is written and applied, the way D1
//! runs it (`PRAGMA foreign_keys = ON`, one transaction), to a database that
//! holds rows inserted at every step. Then:
//! * its schema equals a fresh database created from the models in one go
//!   (sqlite_master names and view SQL, `pragma_table_info`,
//!   `pragma_foreign_key_list`, `pragma_index_list`);
//! * every row survives in every column that was not dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cloesce_rules::ir::{
    CidlType, CloesceAst, DataSource, IncludeTree, Language, Model, ModelAttribute,
    NamedTypedValue, NavigationKind, NavigationProperty, WranglerEnv,
};
use cloesce_rules::migrate::{self, Options, Rename};
use cloesce_rules::schema::Schema;

/// A tiny deterministic PRNG (xorshift64*): the same seed, the same edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Integer,
    Real,
    Text,
    Blob,
}

const TYPES: [Ty; 4] = [Ty::Integer, Ty::Real, Ty::Text, Ty::Blob];

impl Ty {
    fn cidl(self) -> CidlType {
        match self {
            Ty::Integer => CidlType::Integer,
            Ty::Real => CidlType::Real,
            Ty::Text => CidlType::Text,
            Ty::Blob => CidlType::Blob,
        }
    }
    /// A literal of this type, as `quote()` prints it back.
    fn literal(self, n: usize) -> String {
        match self {
            Ty::Integer => format!("{}", n * 7),
            Ty::Real => format!("{n}.5"),
            Ty::Text => format!("'t{n}'"),
            Ty::Blob => format!("X'{:02X}'", n % 256),
        }
    }
}

#[derive(Debug, Clone)]
struct Col {
    name: String,
    ty: Ty,
    nullable: bool,
    fk: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct M {
    cols: Vec<Col>,
    data_source: bool,
}

/// The models as the test edits them.
#[derive(Debug, Clone, Default)]
struct World {
    models: BTreeMap<String, M>,
    /// junction name → (model a, model b)
    m2m: BTreeMap<String, (String, String)>,
    fresh: usize,
}

impl World {
    fn name(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn ast(&self) -> CloesceAst {
        let mut models = BTreeMap::new();
        for (name, m) in &self.models {
            let mut navs = Vec::new();
            for c in &m.cols {
                if let Some(t) = &c.fk {
                    navs.push(NavigationProperty {
                        var_name: format!("one_{}", c.name),
                        model_name: t.clone(),
                        kind: NavigationKind::OneToOne {
                            reference: c.name.clone(),
                        },
                    });
                }
            }
            for (other, om) in &self.models {
                for c in &om.cols {
                    if c.fk.as_deref() == Some(name.as_str()) {
                        navs.push(NavigationProperty {
                            var_name: format!("many_{other}_{}", c.name),
                            model_name: other.clone(),
                            kind: NavigationKind::OneToMany {
                                reference: c.name.clone(),
                            },
                        });
                    }
                }
            }
            for (j, (a, b)) in &self.m2m {
                for (me, other) in [(a, b), (b, a)] {
                    if me == name {
                        navs.push(NavigationProperty {
                            var_name: format!("m2m_{j}"),
                            model_name: other.clone(),
                            kind: NavigationKind::ManyToMany {
                                unique_id: j.clone(),
                            },
                        });
                    }
                }
            }
            let mut data_sources = BTreeMap::new();
            if m.data_source {
                let tree = IncludeTree(
                    navs.iter()
                        .map(|n| (n.var_name.clone(), IncludeTree::default()))
                        .collect(),
                );
                data_sources.insert(
                    "all".to_string(),
                    DataSource {
                        name: "all".into(),
                        tree,
                    },
                );
            }
            models.insert(
                name.clone(),
                Model {
                    name: name.clone(),
                    attributes: m
                        .cols
                        .iter()
                        .map(|c| ModelAttribute {
                            value: NamedTypedValue {
                                name: c.name.clone(),
                                cidl_type: if c.nullable {
                                    CidlType::Nullable(Box::new(c.ty.cidl()))
                                } else {
                                    c.ty.cidl()
                                },
                                declared_as: None,
                            },
                            foreign_key_reference: c.fk.clone(),
                        })
                        .collect(),
                    primary_key: NamedTypedValue {
                        name: "id".into(),
                        cidl_type: CidlType::Integer,
                        declared_as: None,
                    },
                    navigation_properties: navs,
                    methods: BTreeMap::new(),
                    data_sources,
                    source_path: format!("src/{name}.cloesce.ts"),
                },
            );
        }
        CloesceAst {
            version: "v0.0.2".into(),
            project_name: "prop".into(),
            language: Language::TypeScript,
            wrangler_env: WranglerEnv {
                name: "Env".into(),
                source_path: "src/env.cloesce.ts".into(),
                fields: Vec::new(),
            },
            models,
        }
    }

    fn schema(&self) -> Option<Schema> {
        let ast = self.ast();
        if !cloesce_rules::validate::check(&ast).is_empty() {
            return None;
        }
        Schema::from_ast(&ast).ok()
    }
}

/// One expected cell.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Is(String),
    /// The column's type changed: SQLite may have converted the value.
    SomeValue,
}

/// The rows the database must hold: table → rows (column → cell).
type Rows = BTreeMap<String, Vec<BTreeMap<String, Cell>>>;

/// An edit: the new world, the options `cloesce migrate` gets, and how the
/// expected rows change.
struct Edit {
    world: World,
    options: Options,
    what: String,
}

fn edit(w: &World, rng: &mut Rng) -> Option<Edit> {
    let mut n = w.clone();
    let mut options = Options::default();
    let names: Vec<String> = w.models.keys().cloned().collect();
    let what;
    match rng.below(15) {
        0 | 1 => {
            let name = n.name("M");
            let mut m = M::default();
            for _ in 0..rng.below(3) {
                let col = n.name("c");
                m.cols.push(Col {
                    name: col,
                    ty: *rng.pick(&TYPES)?,
                    nullable: rng.below(2) == 0,
                    fk: None,
                });
            }
            if let Some(parent) = rng.pick(&names) {
                if rng.below(2) == 0 {
                    m.cols.push(Col {
                        name: n.name("fk"),
                        ty: Ty::Integer,
                        nullable: rng.below(2) == 0,
                        fk: Some(parent.clone()),
                    });
                }
            }
            what = format!("add model {name}");
            n.models.insert(name, m);
        }
        2 => {
            let victim = rng.pick(&names)?.clone();
            n.models.remove(&victim);
            for m in n.models.values_mut() {
                m.cols.retain(|c| c.fk.as_deref() != Some(victim.as_str()));
            }
            n.m2m.retain(|_, (a, b)| *a != victim && *b != victim);
            options.allow_drop = true;
            what = format!("remove model {victim}");
        }
        3 | 4 => {
            let model = rng.pick(&names)?.clone();
            let col = n.name("c");
            let ty = *rng.pick(&TYPES)?;
            let not_null = rng.below(2) == 0;
            n.models.get_mut(&model)?.cols.push(Col {
                name: col.clone(),
                ty,
                nullable: !not_null,
                fk: None,
            });
            if not_null {
                options
                    .defaults
                    .insert((model.clone(), col.clone()), ty.literal(999));
            }
            what = format!("add {model}.{col} (not null: {not_null})");
        }
        5 => {
            let model = rng.pick(&names)?.clone();
            let m = n.models.get_mut(&model)?;
            let i = rng.below(m.cols.len().max(1));
            if i >= m.cols.len() {
                return None;
            }
            let col = m.cols.remove(i);
            options.allow_drop = true;
            what = format!("remove {model}.{}", col.name);
        }
        6 => {
            let model = rng.pick(&names)?.clone();
            let m = n.models.get_mut(&model)?;
            let candidates: Vec<usize> = (0..m.cols.len())
                .filter(|i| m.cols[*i].fk.is_none())
                .collect();
            let i = *rng.pick(&candidates)?;
            let ty = *rng.pick(&TYPES)?;
            if ty == m.cols[i].ty {
                return None;
            }
            m.cols[i].ty = ty;
            what = format!("change type of {model}.{}", m.cols[i].name);
        }
        7 => {
            let model = rng.pick(&names)?.clone();
            let m = n.models.get_mut(&model)?;
            let i = rng.below(m.cols.len().max(1));
            let col = m.cols.get_mut(i)?;
            if col.fk.is_some() && col.nullable {
                return None;
            }
            col.nullable = !col.nullable;
            if !col.nullable {
                options
                    .defaults
                    .insert((model.clone(), col.name.clone()), col.ty.literal(777));
            }
            what = format!("toggle nullability of {model}.{}", col.name);
        }
        8 => {
            let model = rng.pick(&names)?.clone();
            let target = rng.pick(&names)?.clone();
            let col = n.name("fk");
            n.models.get_mut(&model)?.cols.push(Col {
                name: col.clone(),
                ty: Ty::Integer,
                nullable: true,
                fk: Some(target.clone()),
            });
            what = format!("add {model}.{col} -> {target}");
        }
        9 => {
            let a = rng.pick(&names)?.clone();
            let b = rng.pick(&names)?.clone();
            if a == b {
                return None;
            }
            let j = n.name("J");
            let (a, b) = if a < b { (a, b) } else { (b, a) };
            what = format!("add many-to-many {j} {a} {b}");
            n.m2m.insert(j, (a, b));
        }
        10 => {
            let js: Vec<String> = n.m2m.keys().cloned().collect();
            let j = rng.pick(&js)?.clone();
            n.m2m.remove(&j);
            options.allow_drop = true;
            what = format!("remove many-to-many {j}");
        }
        11 => {
            let model = rng.pick(&names)?.clone();
            let m = n.models.get_mut(&model)?;
            m.data_source = !m.data_source;
            what = format!("toggle data source of {model}");
        }
        12 => {
            let old = rng.pick(&names)?.clone();
            let new = n.name("R");
            let m = n.models.remove(&old)?;
            n.models.insert(new.clone(), m);
            for m in n.models.values_mut() {
                for c in &mut m.cols {
                    if c.fk.as_deref() == Some(old.as_str()) {
                        c.fk = Some(new.clone());
                    }
                }
            }
            for (a, b) in n.m2m.values_mut() {
                for side in [a, b] {
                    if *side == old {
                        *side = new.clone();
                    }
                }
            }
            // Junction sides stay sorted by name, as the schema orders them.
            for (a, b) in n.m2m.values_mut() {
                if *a > *b {
                    std::mem::swap(a, b);
                }
            }
            options.renames.push(Rename::Table {
                from: old.clone(),
                to: new.clone(),
            });
            what = format!("rename model {old} to {new}");
        }
        13 => {
            let model = rng.pick(&names)?.clone();
            let fresh = n.name("r");
            let m = n.models.get_mut(&model)?;
            let i = rng.below(m.cols.len().max(1));
            let col = m.cols.get_mut(i)?;
            let old = std::mem::replace(&mut col.name, fresh.clone());
            options.renames.push(Rename::Column {
                table: model.clone(),
                from: old.clone(),
                to: fresh.clone(),
            });
            what = format!("rename {model}.{old} to {fresh}");
        }
        _ => {
            let model = rng.pick(&names)?.clone();
            let m = n.models.get_mut(&model)?;
            if m.cols.len() < 2 {
                return None;
            }
            let c = m.cols.remove(0);
            m.cols.push(c);
            what = format!("move the first column of {model} last");
        }
    }
    Some(Edit {
        world: n,
        options,
        what,
    })
}

// ---- sqlite3 --------------------------------------------------------------

fn sqlite_bin() -> Option<&'static str> {
    let found = ["/usr/bin/sqlite3", "sqlite3"]
        .into_iter()
        .find(|b| Command::new(b).arg("-version").output().is_ok());
    if found.is_none() && std::env::var_os("CLOESCE_REQUIRE_TOOLS").is_some() {
        panic!("sqlite3 is required (CLOESCE_REQUIRE_TOOLS is set) but was not found");
    }
    found
}

/// Runs `script` against the database file `db`; stdout, or stderr on
/// failure.
fn sqlite(bin: &str, db: &Path, script: &str) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("-bail")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if out.status.success() && stderr.is_empty() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(stderr)
    }
}

/// Applies one migration the way D1 does: foreign keys enforced, the whole
/// file in one transaction.
fn apply(bin: &str, db: &Path, sql: &str) -> Result<String, String> {
    sqlite(
        bin,
        db,
        &format!("PRAGMA foreign_keys = ON;\nBEGIN;\n{sql}COMMIT;\n"),
    )
}

/// The schema of a database, normalised to text.
fn dump_schema(bin: &str, db: &Path) -> String {
    sqlite(
        bin,
        db,
        "SELECT type, name, tbl_name, CASE type WHEN 'view' THEN sql ELSE '' END FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type, name;\n\
         SELECT m.name, p.cid, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid;\n\
         SELECT m.name, f.\"table\", f.\"from\", f.\"to\", f.on_update, f.on_delete FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table' ORDER BY m.name, f.\"from\";\n\
         SELECT m.name, i.name, i.\"unique\", i.origin FROM sqlite_master m JOIN pragma_index_list(m.name) i WHERE m.type = 'table' ORDER BY m.name, i.name;\n\
         PRAGMA foreign_key_check;\n",
    )
    .unwrap()
}

struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!(
            "cloesce-migrations-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Temp(dir)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- expected rows ----------------------------------------------------------

/// Inserts one row into every table (parents first), recording it.
fn insert_rows(schema: &Schema, rows: &mut Rows, step: usize) -> String {
    let mut sql = String::new();
    let all = schema.tables.keys().map(String::as_str).collect();
    'tables: for table in schema.creation_order(&all) {
        let t = &schema.tables[table];
        let id = step * 1000 + rows.get(table).map_or(0, Vec::len) + 1;
        let mut row = BTreeMap::new();
        for c in &t.columns {
            let fk = t.foreign_keys.iter().find(|f| f.column == c.name);
            let value = if let Some(fk) = fk {
                // The newest row of the parent (inserted above, parents first).
                let parent = rows.get(&fk.table).and_then(|r| r.last());
                match parent.and_then(|p| p.get("id")) {
                    Some(Cell::Is(v)) if fk.table != table || t.is_junction() => v.clone(),
                    _ => "NULL".to_string(),
                }
            } else if t.primary_key == [c.name.clone()] {
                id.to_string()
            } else {
                let ty = match c.sql_type.as_str() {
                    "integer" => Ty::Integer,
                    "real" => Ty::Real,
                    "text" => Ty::Text,
                    _ => Ty::Blob,
                };
                ty.literal(id)
            };
            if value == "NULL" && c.not_null {
                // A NOT NULL foreign key without a parent row: no row.
                continue 'tables;
            }
            row.insert(c.name.clone(), Cell::Is(value));
        }
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        let vals: Vec<String> = t
            .columns
            .iter()
            .map(|c| match &row[&c.name] {
                Cell::Is(v) => v.clone(),
                Cell::SomeValue => unreachable!(),
            })
            .collect();
        sql.push_str(&format!(
            "INSERT INTO \"{table}\" ({}) VALUES ({});\n",
            cols.join(", "),
            vals.join(", ")
        ));
        rows.entry(table.to_string()).or_default().push(row);
    }
    sql
}

/// How the expected rows change with a migration from `old` to `new`.
fn migrate_rows(rows: &mut Rows, old: &Schema, new: &Schema, options: &Options) {
    let mut table_renames: BTreeMap<String, String> = BTreeMap::new();
    let mut column_renames: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in &options.renames {
        match r {
            Rename::Table { from, to } => {
                table_renames.insert(from.clone(), to.clone());
            }
            Rename::Column { table, from, to } => {
                column_renames.insert((table.clone(), from.clone()), to.clone());
            }
        }
    }
    let mut out = Rows::new();
    for (name, old_rows) in std::mem::take(rows) {
        let new_name = table_renames.get(&name).cloned().unwrap_or(name.clone());
        let Some(nt) = new.tables.get(&new_name) else {
            continue;
        };
        let ot = &old.tables[&name];
        let mut moved = Vec::new();
        for row in old_rows {
            let mut renamed: BTreeMap<String, Cell> = BTreeMap::new();
            for (col, cell) in row {
                let mut to = column_renames
                    .get(&(new_name.clone(), col.clone()))
                    .cloned()
                    .unwrap_or(col.clone());
                // Junction columns follow their model's name.
                if nt.is_junction() {
                    if let Some(fk) = ot.foreign_keys.iter().find(|f| f.column == col) {
                        let target = table_renames.get(&fk.table).unwrap_or(&fk.table);
                        if let Some(nf) = nt.foreign_keys.iter().find(|f| &f.table == target) {
                            to = nf.column.clone();
                        }
                    }
                }
                renamed.insert(to, cell);
            }
            let mut next = BTreeMap::new();
            for c in &nt.columns {
                let default = options.defaults.get(&(new_name.clone(), c.name.clone()));
                let old_col = ot.column(
                    &column_renames
                        .iter()
                        .find(|((t, _), to)| *t == new_name && **to == c.name)
                        .map(|((_, from), _)| from.clone())
                        .unwrap_or(c.name.clone()),
                );
                let cell = match (renamed.get(&c.name), default) {
                    (Some(Cell::Is(v)), Some(d)) if v == "NULL" => Cell::Is(d.clone()),
                    (Some(cell), _) => {
                        let type_changed = old_col.is_some_and(|o| o.sql_type != c.sql_type);
                        match cell {
                            Cell::Is(v) if type_changed && v != "NULL" => Cell::SomeValue,
                            other => other.clone(),
                        }
                    }
                    (None, Some(d)) => Cell::Is(d.clone()),
                    (None, None) => Cell::Is("NULL".into()),
                };
                next.insert(c.name.clone(), cell);
            }
            moved.push(next);
        }
        out.insert(new_name, moved);
    }
    *rows = out;
}

/// Checks every table's rows against the expectation.
fn check_rows(bin: &str, db: &Path, schema: &Schema, rows: &Rows, context: &str) {
    for (table, t) in &schema.tables {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("quote(\"{}\")", c.name))
            .collect();
        let got = sqlite(
            bin,
            db,
            &format!(
                "SELECT {} FROM \"{table}\" ORDER BY rowid;\n",
                cols.join(" || '|' || ")
            ),
        )
        .unwrap();
        let got: Vec<Vec<&str>> = got.lines().map(|l| l.split('|').collect()).collect();
        let want = rows.get(table).cloned().unwrap_or_default();
        assert_eq!(
            got.len(),
            want.len(),
            "{context}: {table} has {} rows, expected {}",
            got.len(),
            want.len()
        );
        for (g, w) in got.iter().zip(&want) {
            for (i, c) in t.columns.iter().enumerate() {
                match &w[&c.name] {
                    Cell::Is(v) => {
                        assert_eq!(g[i], v, "{context}: {table}.{} lost its value", c.name)
                    }
                    Cell::SomeValue => {
                        assert_ne!(g[i], "NULL", "{context}: {table}.{} lost its value", c.name)
                    }
                }
            }
        }
    }
}

// ---- the property -----------------------------------------------------------

/// Runs one random sequence; returns the number of migrations applied.
fn sequence(bin: &str, seed: u64, steps: usize) -> usize {
    let tmp = Temp::new(&format!("seq{seed}"));
    let db = tmp.0.join("migrated.db");
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut world = World::default();
    let mut schema = Schema::default();
    let mut rows = Rows::new();
    let mut log = Vec::new();
    let mut applied = 0;
    let mut attempts = 0;
    while applied < steps && attempts < steps * 20 {
        attempts += 1;
        let Some(e) = edit(&world, &mut rng) else {
            continue;
        };
        let Some(next) = e.world.schema() else {
            continue;
        };
        log.push(e.what.clone());
        let context = format!("seed {seed}, edits:\n  {}\n", log.join("\n  "));
        let migration = migrate::diff(&schema, &next, &e.options).unwrap_or_else(|p| {
            let msgs: Vec<String> = p.iter().map(|d| d.to_string()).collect();
            panic!("{context}refused: {msgs:?}")
        });
        if let Err(err) = apply(bin, &db, &migration.sql) {
            panic!("{context}migration failed: {err}\n{}", migration.sql);
        }
        migrate_rows(&mut rows, &schema, &next, &e.options);
        world = e.world;
        schema = next;
        applied += 1;

        // Same schema as creating the final models in one go.
        let fresh = tmp.0.join(format!("fresh{applied}.db"));
        apply(bin, &fresh, &schema.to_sql()).unwrap();
        let (a, b) = (dump_schema(bin, &db), dump_schema(bin, &fresh));
        assert_eq!(a, b, "{context}schema differs\n{}", migration.sql);
        check_rows(bin, &db, &schema, &rows, &context);

        // Rows for the next step.
        let inserts = insert_rows(&schema, &mut rows, applied);
        if let Err(err) = apply(bin, &db, &inserts) {
            panic!("{context}insert failed: {err}\n{inserts}");
        }
    }
    applied
}

#[test]
fn migrating_step_by_step_equals_creating_at_once_and_keeps_rows() {
    let Some(bin) = sqlite_bin() else {
        eprintln!("\n!!!!! SKIPPED: sqlite3 is not installed; migrations were NOT checked !!!!!\n");
        return;
    };
    let seeds: u64 = std::env::var("CLOESCE_MIGRATION_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let mut total = 0;
    for seed in 1..=seeds {
        total += sequence(bin, seed, 12);
    }
    assert!(
        total >= seeds as usize * 6,
        "too few edits were valid: {total}"
    );
}
