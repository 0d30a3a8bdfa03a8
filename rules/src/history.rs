//! The migration history: `NNNN_name.sql` files in the project's migrations
//! folder, each with the [`Snapshot`] of the schema it produces beside it
//! (`NNNN_name.json`).
//!
//! A snapshot records a blake3 hash of its own schema, of its migration's
//! SQL and of the previous snapshot's schema (`parent`). [`History::load`]
//! checks all of them and the numbering, so a file edited by hand, a
//! migration deleted from the middle, or two branches' migrations merged
//! side by side are errors that say what to do, never a wrong diff.

use std::collections::BTreeMap;

use cloesce_engine::fingerprint::Digest;
use serde::{Deserialize, Serialize};

use crate::diag::RuleDiagnostic;
use crate::schema::Schema;

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The JSON file beside each migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub cloesce_snapshot: u32,
    /// The migration's file name (`0002_add_phone.sql`).
    pub migration: String,
    /// The previous snapshot's `schema_hash` (none for the first).
    pub parent: Option<String>,
    /// The blake3 hash of the migration's SQL (line endings as `\n`).
    pub sql_hash: String,
    /// The blake3 hash of `schema` (its compact JSON).
    pub schema_hash: String,
    /// The schema after this migration.
    pub schema: Schema,
}

/// One migration of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub number: u32,
    /// The file stem, `0002_add_phone`.
    pub stem: String,
    pub snapshot: Snapshot,
}

/// The checked history of one migrations folder, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub dir: String,
    pub entries: Vec<Entry>,
}

/// The hash recorded for a schema.
pub fn schema_hash(schema: &Schema) -> String {
    let bytes = serde_json::to_vec(schema).unwrap_or_default();
    Digest::of(&bytes).to_hex()
}

/// The hash recorded for a migration's SQL.
pub fn sql_hash(sql: &[u8]) -> String {
    let text = String::from_utf8_lossy(sql).replace("\r\n", "\n");
    Digest::of(text.as_bytes()).to_hex()
}

fn history_error(message: String, help: &str) -> RuleDiagnostic {
    RuleDiagnostic::new("cloesce::migrate::history", message).with_help(help.to_string())
}

/// `NNNN_name` of `NNNN_name.ext`, with its number.
fn parse_stem(stem: &str) -> Option<u32> {
    let (digits, name) = stem.split_once('_')?;
    (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
        .then(|| digits.parse().ok())
        .flatten()
}

impl History {
    /// Checks the `.sql` and `.json` files directly in `dir` among `files`
    /// (workspace paths with their bytes) and returns the history, or every
    /// problem found.
    pub fn load(dir: &str, files: &[(&str, &[u8])]) -> Result<History, Vec<RuleDiagnostic>> {
        let mut problems = Vec::new();
        let mut sqls: BTreeMap<String, &[u8]> = BTreeMap::new();
        let mut jsons: BTreeMap<String, &[u8]> = BTreeMap::new();
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        for (path, bytes) in files {
            let Some(name) = path.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if name.contains('/') {
                continue;
            }
            if let Some(stem) = name.strip_suffix(".sql") {
                sqls.insert(stem.to_string(), bytes);
            } else if let Some(stem) = name.strip_suffix(".json") {
                jsons.insert(stem.to_string(), bytes);
            }
        }
        let mut numbered: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for stem in sqls.keys() {
            match parse_stem(stem) {
                Some(n) => numbered.entry(n).or_default().push(stem.clone()),
                None => problems.push(history_error(
                    format!("{prefix}{stem}.sql is not named like a migration (NNNN_name.sql)"),
                    "the migrations folder holds only migrations written by `cloesce migrate`; move other SQL elsewhere",
                )),
            }
            if !jsons.contains_key(stem) {
                problems.push(history_error(
                    format!("{prefix}{stem}.sql has no snapshot {prefix}{stem}.json"),
                    "restore the snapshot from version control (git checkout -- the file); every migration needs the snapshot `cloesce migrate` wrote beside it",
                ));
            }
        }
        for stem in jsons.keys() {
            if !sqls.contains_key(stem) {
                problems.push(history_error(
                    format!("{prefix}{stem}.json is a snapshot without its migration {prefix}{stem}.sql"),
                    "restore the migration from version control, or delete the snapshot if the migration was deleted on purpose and never applied anywhere",
                ));
            }
        }
        for (n, stems) in &numbered {
            if stems.len() > 1 {
                problems.push(history_error(
                    format!(
                        "several migrations share the number {n:04}: {}",
                        stems.join(", ")
                    ),
                    "two branches each added a migration: keep the one already applied, delete the other's .sql and .json, and run `cloesce migrate NAME` again",
                ));
            }
        }
        let mut hole = false;
        for (expected, n) in (1u32..).zip(numbered.keys()) {
            if *n != expected {
                problems.push(history_error(
                    format!(
                        "the migration history has a hole: {prefix}{expected:04}_*.sql is missing{}",
                        if *n > expected { format!(" before {n:04}") } else { String::new() }
                    ),
                    "restore the deleted migration and its snapshot from version control (git checkout -- the folder); a database created from a history with a hole differs from the models",
                ));
                hole = true;
                break;
            }
        }
        let mut entries = Vec::new();
        let mut parent: Option<String> = None;
        for stems in numbered.values() {
            let stem = &stems[0];
            let (Some(sql), Some(json)) = (sqls.get(stem), jsons.get(stem)) else {
                continue;
            };
            let file = format!("{prefix}{stem}.json");
            let snapshot: Snapshot = match serde_json::from_slice(json) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(history_error(
                        format!("{file} is not a cloesce snapshot: {e}"),
                        "restore it from version control; snapshots are written by `cloesce migrate`",
                    ));
                    continue;
                }
            };
            if snapshot.cloesce_snapshot != SNAPSHOT_FORMAT {
                problems.push(history_error(
                    format!(
                        "{file} has snapshot format {}, this cloesce reads {SNAPSHOT_FORMAT}",
                        snapshot.cloesce_snapshot
                    ),
                    "use the cloesce version that wrote it, or a newer one",
                ));
                continue;
            }
            if schema_hash(&snapshot.schema) != snapshot.schema_hash {
                problems.push(history_error(
                    format!("{file} was edited by hand: its schema does not match its hash"),
                    "restore it from version control (git checkout -- the file); to change the schema, edit the models and run `cloesce migrate NAME`",
                ));
            }
            if sql_hash(sql) != snapshot.sql_hash {
                problems.push(history_error(
                    format!("{prefix}{stem}.sql was edited by hand: it is not the SQL its snapshot recorded"),
                    "restore it from version control (git checkout -- the file); a migration that was never applied anywhere may instead be deleted with its snapshot and written again with `cloesce migrate NAME`",
                ));
            }
            if snapshot.migration != format!("{stem}.sql") {
                problems.push(history_error(
                    format!("{file} belongs to {}, not to {stem}.sql", snapshot.migration),
                    "give the migration and its snapshot back their names; wrangler records applied migrations by name",
                ));
            }
            // After a hole the chain is broken by definition: said above.
            if snapshot.parent != parent && !hole {
                problems.push(history_error(
                    format!("{prefix}{stem}.sql was written on top of a different history than the migrations before it"),
                    "two branches each added migrations: keep the ones already applied, delete the others' .sql and .json, and run `cloesce migrate NAME` again",
                ));
            }
            parent = Some(snapshot.schema_hash.clone());
            entries.push(Entry {
                number: entries.len() as u32 + 1,
                stem: stem.clone(),
                snapshot,
            });
        }
        if problems.is_empty() {
            Ok(History {
                dir: dir.trim_end_matches('/').to_string(),
                entries,
            })
        } else {
            Err(problems)
        }
    }

    /// The schema the whole history produces (empty without migrations).
    pub fn schema(&self) -> Schema {
        self.entries
            .last()
            .map(|e| e.snapshot.schema.clone())
            .unwrap_or_default()
    }

    /// The paths of migration `stem`: (`.sql`, `.json`).
    pub fn paths(&self, stem: &str) -> (String, String) {
        (
            format!("{}/{stem}.sql", self.dir),
            format!("{}/{stem}.json", self.dir),
        )
    }
}

/// The two files of a new migration (`.sql`, `.json`) with their bytes.
/// `parent` is the previous entry, `body` the statements, `changes` the
/// lines for the header.
pub fn write(
    stem: &str,
    parent: Option<&Entry>,
    schema: &Schema,
    body: &str,
    changes: &[String],
) -> (Vec<u8>, Vec<u8>) {
    let mut sql = format!("-- {stem}: written by cloesce from the model files. Do not edit: {stem}.json records its hash.\n");
    if !changes.is_empty() {
        sql.push_str("-- Changes:\n");
        for c in changes {
            sql.push_str(&format!("--   {c}\n"));
        }
    }
    sql.push_str(body);
    let snapshot = Snapshot {
        cloesce_snapshot: SNAPSHOT_FORMAT,
        migration: format!("{stem}.sql"),
        parent: parent.map(|e| e.snapshot.schema_hash.clone()),
        sql_hash: sql_hash(sql.as_bytes()),
        schema_hash: schema_hash(schema),
        schema: schema.clone(),
    };
    let mut json = serde_json::to_vec_pretty(&snapshot).unwrap_or_default();
    json.push(b'\n');
    (sql.into_bytes(), json)
}
