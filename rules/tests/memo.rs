//! Built-in memos: whatever memo `cloesce/extract` or `cloesce/d1` is given,
//! it gives exactly the output or the diagnostics it gives without one.

use cloesce_engine::builtin::{BuiltinFailure, BuiltinOutput};
use cloesce_rules::diag;
use cloesce_rules::extract::{extract, extract_memo};
use cloesce_rules::history::{self, History};
use cloesce_rules::ir;
use cloesce_rules::migrate::{self, Options};
use cloesce_rules::schema::Schema;

use crate::common::{model_inputs, render, run, run_memo};

type Files = Vec<(String, Vec<u8>)>;

/// The IR's bytes, or every diagnostic rendered with its source snippet.
fn outcome(result: Result<ir::CloesceAst, Vec<diag::RuleDiagnostic>>) -> String {
    match result {
        Ok(ast) => String::from_utf8(ir::to_json(&ast)).unwrap(),
        Err(diags) => render(&diag::failure(diags)),
    }
}

fn refs(files: &Files) -> Vec<(String, &[u8])> {
    let mut out: Vec<(String, &[u8])> = files.iter().map(|(p, b)| (p.clone(), &b[..])).collect();
    out.sort();
    out
}

/// Runs extract on `files` with and without `memo`; both must agree. Returns
/// the new memo when extract succeeded.
fn agree(step: &str, files: &Files, memo: Option<&[u8]>) -> Option<Vec<u8>> {
    let inputs = refs(files);
    let clean = outcome(extract(&inputs));
    let with_memo = extract_memo(&inputs, memo);
    let next = with_memo.as_ref().ok().map(|(_, m)| m.clone());
    assert_eq!(outcome(with_memo.map(|(ast, _)| ast)), clean, "{step}");
    next
}

fn set(files: &mut Files, path: &str, text: &str) {
    files.retain(|(p, _)| p != path);
    files.push((path.to_string(), text.as_bytes().to_vec()));
}

fn edit(files: &mut Files, path: &str, from: &str, to: &str) {
    let text = files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, b)| String::from_utf8(b.clone()).unwrap())
        .unwrap();
    assert!(text.contains(from), "{path} has no `{from}`");
    set(files, path, &text.replacen(from, to, 1));
}

const HEAD: &str = "import { D1, PrimaryKey, ForeignKey } from \"cloesce\";\n\n";
const PEOPLE: &str = "src/models/people.cloesce.ts";
const SCHOOL: &str = "src/models/school.cloesce.ts";
const TARGET: &str = "src/models/a_target.cloesce.ts";
const REF: &str = "src/models/c_ref.cloesce.ts";

#[test]
fn extract_with_a_memo_gives_what_it_gives_without_one() {
    let mut files = model_inputs("big");
    set(
        &mut files,
        TARGET,
        &format!("{HEAD}@D1\nexport class Target {{\n  @PrimaryKey\n  id!: number;\n}}\n"),
    );
    set(&mut files, REF, &format!("{HEAD}@D1\nexport class Ref {{\n  @PrimaryKey\n  id!: number;\n\n  @ForeignKey(Target)\n  targetId!: number;\n}}\n"));

    let first = agree("no memo", &files, None).expect("the fixture extracts");
    let again = agree("every file from the memo", &files, Some(&first)).unwrap();
    assert_eq!(again, first, "an unchanged project keeps the same memo");

    // Each step starts from the memo of the last successful run, as builds do.
    let mut memo = first.clone();
    let step = |name: &str, files: &Files, memo: &mut Vec<u8>| -> bool {
        let next = agree(name, files, Some(memo));
        let ok = next.is_some();
        if let Some(next) = next {
            *memo = next;
        }
        ok
    };
    edit(
        &mut files,
        PEOPLE,
        "  name!: string;\n",
        "  name!: string;\n  extra!: string | null;\n",
    );
    assert!(step("a column added", &files, &mut memo));
    edit(
        &mut files,
        SCHOOL,
        "export class Student {",
        "export class Student {{",
    );
    assert!(!step("a syntax error", &files, &mut memo));
    edit(
        &mut files,
        SCHOOL,
        "export class Student {{",
        "export class Student {",
    );
    assert!(step("the syntax error fixed", &files, &mut memo));
    // An unchanged file's problem comes from what another file changed: its
    // spans come from the memo, and a new first file moves every index.
    set(
        &mut files,
        "src/models/0_first.cloesce.ts",
        "// nothing here yet\n",
    );
    edit(&mut files, TARGET, "class Target", "class Target2");
    assert!(!step("a reference into a renamed model", &files, &mut memo));
    edit(&mut files, TARGET, "class Target2", "class Target");
    assert!(step("the model named back", &files, &mut memo));
    // The same text under another path is another file.
    let text = files.iter().find(|(p, _)| p == REF).unwrap().1.clone();
    files.retain(|(p, _)| p != REF);
    set(
        &mut files,
        "src/models/z_ref.cloesce.ts",
        std::str::from_utf8(&text).unwrap(),
    );
    assert!(step("a file moved", &files, &mut memo));
    set(
        &mut files,
        "src/models/d_dup.cloesce.ts",
        &format!("{HEAD}@D1\nexport class Dog {{\n  @PrimaryKey\n  id!: number;\n}}\n"),
    );
    assert!(!step("a duplicate model in a new file", &files, &mut memo));

    // A memo of another project, or no memo at all, changes nothing.
    agree("a stale memo", &files, Some(&first));
    agree("a damaged memo", &files, Some(&first[..first.len() / 2]));
    agree("garbage", &files, Some(b"not a memo"));
}

const IR: &str = ".generated/cidl.json";
const D1_SETTINGS: &[(&str, &str)] = &[("migrations", "migrations")];

/// The IR of `files` (model files), as `cidl.json` bytes.
fn cidl(files: &Files) -> Vec<u8> {
    ir::to_json(&extract(&refs(files)).expect("the models extract"))
}

/// d1's schema, log and memo-free outcome: its files and log, or every
/// diagnostic rendered.
fn d1_outcome(result: Result<BuiltinOutput, BuiltinFailure>) -> String {
    match result {
        Ok(out) => {
            let mut text = out.log;
            for (path, bytes) in out.files {
                text.push_str(&format!(
                    "--- {path}\n{}",
                    String::from_utf8(bytes).unwrap()
                ));
            }
            text
        }
        Err(failure) => render(&failure),
    }
}

/// Runs d1 on `cidl` and the `history` files with `memo` and without one;
/// both must agree. Returns the outcome, and for a success the memo the
/// rule keeps (`None`: the memo it was given answered and stays).
fn d1_agree(
    step: &str,
    cidl: &[u8],
    history: &Files,
    memo: Option<&[u8]>,
) -> (String, Result<Option<Vec<u8>>, ()>) {
    let mut inputs = vec![(IR.to_string(), cidl.to_vec())];
    inputs.extend(history.iter().cloned());
    let outputs = [".generated/schema.sql"];
    let clean = d1_outcome(run("cloesce/d1", &inputs, &outputs, D1_SETTINGS));
    let with_memo = run_memo("cloesce/d1", &inputs, &outputs, D1_SETTINGS, memo);
    let kept = with_memo.as_ref().map(|(_, m)| m.clone()).map_err(|_| ());
    assert_eq!(d1_outcome(with_memo.map(|(out, _)| out)), clean, "{step}");
    (clean, kept)
}

/// The next migration `stem` of `history`, from its last snapshot to the
/// models of `cidl`.
fn add_migration(history: &mut Files, stem: &str, cidl: &[u8]) {
    let borrowed: Vec<(&str, &[u8])> = history.iter().map(|(p, b)| (p.as_str(), &b[..])).collect();
    let loaded = History::load("migrations", &borrowed).expect("a clean history");
    let schema = Schema::from_ast(&ir::from_json(cidl).unwrap()).unwrap();
    let m = migrate::diff(&loaded.schema(), &schema, &Options::default()).unwrap();
    let (sql, json) = history::write(stem, loaded.entries.last(), &schema, &m.sql, &m.changes);
    history.push((format!("migrations/{stem}.sql"), sql));
    history.push((format!("migrations/{stem}.json"), json));
}

/// Replaces `from` (it must be there) with `to` in the history file `path`.
fn tamper(history: &mut Files, path: &str, from: &str, to: &str) {
    let (_, bytes) = history.iter_mut().find(|(p, _)| p == path).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(from), "{path} has no `{from}`");
    *bytes = text.replacen(from, to, 1).into_bytes();
}

#[test]
fn d1_with_a_memo_gives_what_it_gives_without_one() {
    let mut models = model_inputs("big");
    let before = cidl(&models);
    edit(
        &mut models,
        PEOPLE,
        "  name!: string;\n",
        "  name!: string;\n  extra!: string | null;\n",
    );
    let after = cidl(&models);

    // Each step starts from the memo of the last successful run, as builds
    // do; a success that returns no memo leaves the last one in place.
    let mut memo: Option<Vec<u8>> = None;
    let mut step = |name: &str, cidl: &[u8], history: &Files| -> (String, bool) {
        let (outcome, kept) = d1_agree(name, cidl, history, memo.as_deref());
        let answered = matches!(kept, Ok(None));
        if let Ok(Some(next)) = kept {
            memo = Some(next);
        }
        (outcome, answered)
    };

    let mut history = Files::new();
    let (_, answered) = step("no migrations yet", &before, &history);
    assert!(!answered);
    let (_, answered) = step("no migrations, again", &before, &history);
    assert!(answered, "the memo answers for an empty history too");
    add_migration(&mut history, "0001_init", &before);
    let (out, answered) = step("the first migration", &before, &history);
    assert!(!answered, "a new migration is checked");
    assert!(!out.contains("warning"), "{out}");
    let (out, answered) = step("a column added", &after, &history);
    assert!(answered, "an unchanged history is not checked again");
    assert!(out.contains("Person.extra added"), "{out}");
    let clean = history.clone();

    tamper(
        &mut history,
        "migrations/0001_init.json",
        "\"not_null\": false",
        "\"not_null\": true",
    );
    let (out, _) = step("a snapshot edited by hand", &after, &history);
    assert!(out.contains("0001_init.json was edited by hand"), "{out}");
    history = clean.clone();
    let (out, answered) = step("the snapshot restored", &after, &history);
    assert!(answered, "a failed run leaves the memo as it was");
    assert!(out.contains("Person.extra added"), "{out}");

    tamper(
        &mut history,
        "migrations/0001_init.sql",
        "CREATE TABLE",
        "CREATE  TABLE",
    );
    let (out, _) = step("a migration edited by hand", &after, &history);
    assert!(out.contains("0001_init.sql was edited by hand"), "{out}");
    history = clean.clone();
    tamper(&mut history, "migrations/0001_init.sql", "\n", "\r\n");
    let (out, answered) = step("a migration's line endings", &after, &history);
    assert!(!answered, "changed bytes are checked again");
    assert!(out.contains("Person.extra added"), "{out}");

    history = clean.clone();
    add_migration(&mut history, "0002_extra", &after);
    let (out, answered) = step("the next migration", &after, &history);
    assert!(!answered);
    assert!(!out.contains("warning"), "{out}");
    let (out, _) = step("the models put back", &before, &history);
    assert!(out.contains("Person.extra removed"), "{out}");
    history.retain(|(p, _)| !p.starts_with("migrations/0001"));
    let (out, _) = step("a hole in the history", &before, &history);
    assert!(out.contains("has a hole"), "{out}");
    history = clean.clone();
    history.retain(|(p, _)| !p.ends_with(".json"));
    let (out, _) = step("a snapshot deleted", &before, &history);
    assert!(out.contains("has no snapshot"), "{out}");

    // A memo of another history, a damaged one, or garbage changes nothing.
    let latest = memo.clone().expect("the memo of the two migrations");
    let (_, kept) = d1_agree("another history's memo", &after, &clean, Some(&latest));
    assert!(matches!(kept, Ok(Some(_))), "another history is checked");
    history = clean;
    add_migration(&mut history, "0002_extra", &after);
    let (_, kept) = d1_agree("the memo", &after, &history, Some(&latest));
    assert_eq!(kept, Ok(None), "the memo answers for its own history");
    let torn = &latest[..latest.len() / 2];
    for (name, bad) in [("a damaged memo", torn), ("garbage", &b"not a memo"[..])] {
        let (_, kept) = d1_agree(name, &after, &history, Some(bad));
        assert!(
            matches!(kept, Ok(Some(_))),
            "{name}: the history is checked"
        );
    }
}
