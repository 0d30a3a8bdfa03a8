//! `cloesce/extract`'s memo: whatever memo it is given, extract gives exactly
//! the IR or the diagnostics it gives without one.

use cloesce_rules::diag;
use cloesce_rules::extract::{extract, extract_memo};
use cloesce_rules::ir;

use crate::common::{model_inputs, render};

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
