//! D1 migrations through the CLI: the first migration `cloesce run` writes,
//! drift seen by `run`, `doctor` and `migrate --check`, `cloesce migrate`
//! with renames, defaults, `--allow-drop` and `--amend`, projects from an
//! older cloesce, and golden files of every refusal's message
//! (`tests/golden/migrate/*.txt`, refreshed with `SNAPSHOTS=overwrite`).

use std::path::Path;

use crate::common::{Project, Run};

const MODEL: &str = "src/kennel.cloesce.ts";

/// The kennel example without its migrations (as before its first run).
fn fresh_kennel() -> Project {
    let p = Project::example("kennel");
    let _ = std::fs::remove_dir_all(p.path().join("migrations"));
    p
}

/// The kennel example, built once: it has `migrations/0001_init.*`.
fn kennel() -> Project {
    let p = fresh_kennel();
    p.cloesce(&["run"]).expect_code(0);
    p
}

/// Edits the kennel's model: `from` (exactly once) becomes `to`.
fn edit(p: &Project, from: &str, to: &str) {
    let text = p.read(MODEL);
    assert_eq!(text.matches(from).count(), 1, "`{from}` in the model");
    p.write(MODEL, &text.replacen(from, to, 1));
}

/// Adds the field `decl` (`email: string | null`) to Owner, after `phone`.
fn add_field(p: &Project, decl: &str) {
    edit(
        p,
        "  phone: string | null;\n",
        &format!("  phone: string | null;\n  {decl};\n"),
    );
}

/// Compares `text` with `tests/golden/migrate/NAME.txt` (or writes it with
/// `SNAPSHOTS=overwrite`).
fn golden(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden/migrate")
        .join(format!("{name}.txt"));
    if std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with SNAPSHOTS=overwrite)", path.display()));
    assert_eq!(text, want, "golden {name} differs");
}

fn files(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_first_run_writes_the_first_migration_and_wrangler_points_at_it() {
    let p = fresh_kennel();
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("wrote migrations/0001_init.sql, the first migration"),
        "{}",
        run.stdout
    );
    assert_eq!(files(&p), ["0001_init.json", "0001_init.sql"]);
    let sql = p.read("migrations/0001_init.sql");
    assert!(sql.contains("CREATE TABLE \"Owner\""), "{sql}");
    assert!(sql.contains("CREATE VIEW \"Owner_withDogs\""), "{sql}");
    // The full schema is still written for reading, and wrangler applies
    // the committed folder (resolved from the generated config's folder).
    assert!(p
        .read(".generated/schema.sql")
        .contains("CREATE TABLE \"Dog\""));
    assert!(!p.exists(".generated/migrations"));
    let config = p.read(".generated/wrangler.toml");
    assert!(
        config.contains("migrations_dir = \"../migrations\""),
        "{config}"
    );
    // Nothing more to do: no drift, the first migration stays as it is, and
    // the committed example holds the same bytes.
    let again = p.cloesce(&["run"]);
    again.expect_code(0);
    assert!(again.stdout.contains("6 fresh"), "{}", again.stdout);
    let committed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kennel/migrations/0001_init.sql");
    assert_eq!(std::fs::read_to_string(committed).unwrap(), sql);
    assert!(!again.stdout.contains("warning"), "{}", again.stdout);
    assert!(!again.stdout.contains("wrote"), "{}", again.stdout);
    assert_eq!(p.read("migrations/0001_init.sql"), sql);
    p.cloesce(&["migrate", "--check"]).expect_code(0);
}

#[test]
fn drift_is_named_by_run_doctor_and_check() {
    let p = kennel();
    add_field(&p, "email: string | null");
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains(
            "warning: the models differ from the last migration (migrations/0001_init.sql)"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Owner.email added"), "{}", run.stdout);
    assert!(
        run.stdout.contains("cloesce migrate NAME"),
        "{}",
        run.stdout
    );

    let doctor = p.cloesce(&["doctor"]);
    assert!(
        doctor
            .stdout
            .lines()
            .any(|l| l.starts_with("warn") && l.contains("rule d1")),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor.stdout.contains("Owner.email added"),
        "{}",
        doctor.stdout
    );

    let check = p.cloesce(&["migrate", "--check"]);
    check.expect_code(1);
    golden("check_drift", &check.stderr);
}

#[test]
fn migrate_adds_a_nullable_column_with_alter_table_and_then_matches() {
    let p = kennel();
    add_field(&p, "email: string | null");
    let run = p.cloesce(&["migrate", "add_email"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .starts_with("wrote migrations/0002_add_email.sql\n"),
        "{}",
        run.stdout
    );
    assert_eq!(
        files(&p),
        [
            "0001_init.json",
            "0001_init.sql",
            "0002_add_email.json",
            "0002_add_email.sql"
        ]
    );
    let sql = p.read("migrations/0002_add_email.sql");
    assert!(
        sql.contains("ALTER TABLE \"Owner\" ADD COLUMN \"email\" text;"),
        "{sql}"
    );
    assert!(!sql.contains("_cloesce_new_"), "no rebuild needed:\n{sql}");
    p.cloesce(&["migrate", "--check"]).expect_code(0);
    let again = p.cloesce(&["migrate", "again"]);
    again.expect_code(0);
    assert!(
        again.stdout.starts_with("nothing to migrate"),
        "{}",
        again.stdout
    );
    let run = p.cloesce(&["run"]);
    // `migrate` left the d1 rule fresh: only the rules it did not need run.
    assert!(!run.stdout.contains("ran      d1"), "{}", run.stdout);
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
}

#[test]
fn a_dropped_field_is_refused_until_allowed_or_renamed() {
    let p = kennel();
    edit(
        &p,
        "  phone: string | null;\n",
        "  mobile: string | null;\n",
    );
    let refused = p.cloesce(&["migrate", "mobile"]);
    refused.expect_code(2);
    golden("drop_without_consent", &refused.stderr);
    assert_eq!(files(&p).len(), 2, "nothing written");

    let renamed = p.cloesce(&["migrate", "mobile", "--rename", "Owner.phone=mobile"]);
    renamed.expect_code(0);
    let sql = p.read("migrations/0002_mobile.sql");
    assert!(
        sql.contains("ALTER TABLE \"Owner\" RENAME COLUMN \"phone\" TO \"mobile\";"),
        "{sql}"
    );
    assert!(!sql.contains("DROP COLUMN"), "{sql}");
}

#[test]
fn allow_drop_lets_a_removed_field_go() {
    let p = kennel();
    edit(&p, "  phone: string | null;\n", "");
    p.cloesce(&["migrate", "no_phone", "--allow-drop"])
        .expect_code(0);
    let sql = p.read("migrations/0002_no_phone.sql");
    assert!(
        sql.contains("ALTER TABLE \"Owner\" DROP COLUMN \"phone\";"),
        "{sql}"
    );
}

#[test]
fn a_not_null_field_needs_a_value_for_existing_rows() {
    let p = kennel();
    add_field(&p, "age: number");
    let refused = p.cloesce(&["migrate", "age"]);
    refused.expect_code(2);
    golden("not_null_without_value", &refused.stderr);

    p.cloesce(&["migrate", "age", "--default", "Owner.age=0"])
        .expect_code(0);
    let sql = p.read("migrations/0002_age.sql");
    assert!(sql.contains("PRAGMA defer_foreign_keys = on;"), "{sql}");
    assert!(
        sql.contains("SELECT \"id\", \"name\", \"phone\", 0 FROM \"Owner\";"),
        "{sql}"
    );
    let bad = p.cloesce(&["migrate", "x", "--default", "Owner.age=zero"]);
    bad.expect_code(2);
    assert!(
        bad.stderr.contains("is not a SQL literal"),
        "{}",
        bad.stderr
    );
}

#[test]
fn an_edited_migration_or_snapshot_is_an_error() {
    let p = kennel();
    let sql = p.read("migrations/0001_init.sql");
    p.write(
        "migrations/0001_init.sql",
        &sql.replace("\"phone\" text", "\"phone\" text NOT NULL"),
    );
    let json = p.read("migrations/0001_init.json");
    p.write(
        "migrations/0001_init.json",
        &json.replacen("\"not_null\": false", "\"not_null\": true", 1),
    );
    let run = p.cloesce(&["migrate", "next"]);
    run.expect_code(1);
    golden("edited_history", &run.stderr);
    // `cloesce run` reports the same, and still builds everything else.
    let build = p.cloesce(&["run"]);
    build.expect_code(1);
    assert!(
        build.stderr.contains("was edited by hand"),
        "{}",
        build.stderr
    );
    assert!(p.exists(".generated/workers.ts"));
}

#[test]
fn a_hole_or_two_branches_in_the_history_is_an_error() {
    let p = kennel();
    add_field(&p, "a: string | null");
    p.cloesce(&["migrate", "a"]).expect_code(0);
    edit(
        &p,
        "  a: string | null;\n",
        "  a: string | null;\n  b: string | null;\n",
    );
    p.cloesce(&["migrate", "b"]).expect_code(0);
    // Another branch wrote its own 0002 on top of 0001.
    let other_sql = p.read("migrations/0002_a.sql");
    let other_json = p.read("migrations/0002_a.json");
    p.write("migrations/0002_other.sql", &other_sql);
    p.write(
        "migrations/0002_other.json",
        &other_json.replace("0002_a.sql", "0002_other.sql"),
    );
    let run = p.cloesce(&["migrate", "--check"]);
    run.expect_code(1);
    golden("ambiguous_history", &run.stderr);

    p.remove("migrations/0002_other.sql");
    p.remove("migrations/0002_other.json");
    p.remove("migrations/0002_a.sql");
    p.remove("migrations/0002_a.json");
    let run = p.cloesce(&["migrate", "--check"]);
    run.expect_code(1);
    golden("hole_in_history", &run.stderr);
}

#[test]
fn amend_rewrites_the_latest_migration() {
    let p = kennel();
    add_field(&p, "email: string | null");
    p.cloesce(&["migrate", "add_email"]).expect_code(0);
    edit(
        &p,
        "  email: string | null;\n",
        "  email: string | null;\n  web: string | null;\n",
    );
    let run = p.cloesce(&["migrate", "--amend", "contact"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .starts_with("rewrote migrations/0002_contact.sql"),
        "{}",
        run.stdout
    );
    assert_eq!(
        files(&p),
        [
            "0001_init.json",
            "0001_init.sql",
            "0002_contact.json",
            "0002_contact.sql"
        ]
    );
    let sql = p.read("migrations/0002_contact.sql");
    assert!(sql.contains("ADD COLUMN \"email\""), "{sql}");
    assert!(sql.contains("ADD COLUMN \"web\""), "{sql}");
    p.cloesce(&["migrate", "--check"]).expect_code(0);
}

#[test]
fn a_project_from_an_older_cloesce_adopts_its_first_migration() {
    let p = fresh_kennel();
    // What the older d1 rule wrote (and wrangler recorded as applied).
    p.cloesce(&["run"]).expect_code(0);
    let schema = p.read(".generated/schema.sql");
    std::fs::remove_dir_all(p.path().join("migrations")).unwrap();
    p.write(".generated/migrations/0001_cloesce.sql", &schema);
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains(
            "adopted .generated/migrations/0001_cloesce.sql (written by an older cloesce) as migrations/0001_cloesce.sql"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
    assert_eq!(files(&p), ["0001_cloesce.json", "0001_cloesce.sql"]);
    p.cloesce(&["migrate", "--check"]).expect_code(0);
}

#[test]
fn bad_flags_are_user_errors() {
    let p = kennel();
    for (args, says) in [
        (&["migrate", "bad name"][..], "cannot name a migration"),
        (
            &["migrate", "x", "--rename", "nonsense"][..],
            "is not `Model.old=new`",
        ),
        (
            &["migrate", "x", "--rename", "Owner.nope=other"][..],
            "cloesce::migrate::bad_rename",
        ),
        (&["migrate"][..], "NAME"),
    ] {
        let run: Run = p.cloesce(args);
        run.expect_code(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    assert_eq!(files(&p).len(), 2, "nothing written");
}

#[test]
fn a_model_error_stops_migrate_with_the_same_diagnostic_as_run() {
    let p = kennel();
    edit(
        &p,
        "@D1\nexport class Dog {\n  @PrimaryKey\n",
        "@D1\nexport class Dog {\n",
    );
    let run = p.cloesce(&["migrate", "x"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("cloesce::model::missing_primary_key"),
        "{}",
        run.stderr
    );
    assert_eq!(files(&p).len(), 2, "nothing written");
}

#[test]
fn amend_can_redo_the_first_migration() {
    let p = kennel();
    add_field(&p, "email: string | null");
    p.cloesce(&["migrate", "--amend"]).expect_code(0);
    assert_eq!(files(&p), ["0001_init.json", "0001_init.sql"]);
    let sql = p.read("migrations/0001_init.sql");
    assert!(sql.contains("\"email\" text"), "{sql}");
    assert!(
        !sql.contains("ALTER TABLE"),
        "a first migration creates: {sql}"
    );
    p.cloesce(&["migrate", "--check"]).expect_code(0);
}

/// `cloesce migrate NAME` run on a terminal, typing `input`: its exit code
/// and the screen (`\r\n` as `\n`). `None` without `script`.
fn migrate_on_a_terminal(p: &Project, name: &str, input: &str) -> Option<(i32, String)> {
    use std::io::Write;
    let mut child = p
        .on_a_terminal(&format!("migrate {name}"))?
        .env("NO_COLOR", "1")
        .env("CI", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    Some((out.status.code().unwrap_or(-1), screen))
}

// On a terminal, a field removed while others were added to its model is
// asked about, one pair at a time (y/N, as Prisma and Drizzle do); only a
// yes renames. Through a pipe nothing is asked: `--rename` is needed (see
// a_dropped_field_is_refused_until_allowed_or_renamed).
#[test]
fn on_a_terminal_migrate_asks_whether_a_removed_field_was_renamed() {
    let p = kennel();
    edit(
        &p,
        "  phone: string | null;\n",
        "  mobile: string | null;\n  fax: string | null;\n",
    );
    let Some((code, screen)) = migrate_on_a_terminal(&p, "contact", "n\ny\n") else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    let first = screen
        .find("Owner: was `phone` renamed to `mobile`? (y/N) ")
        .unwrap_or_else(|| panic!("{screen}"));
    let second = screen
        .find("Owner: was `phone` renamed to `fax`? (y/N) ")
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(first < second, "{screen}");
    assert!(
        screen.contains("  Owner.phone renamed to fax\n  Owner.mobile added\n"),
        "{screen}"
    );
    let sql = p.read("migrations/0002_contact.sql");
    assert!(
        sql.contains("ALTER TABLE \"Owner\" RENAME COLUMN \"phone\" TO \"fax\";"),
        "{sql}"
    );

    // No (Enter) to the only question: refused as through a pipe.
    let p = kennel();
    edit(
        &p,
        "  phone: string | null;\n",
        "  mobile: string | null;\n",
    );
    let Some((code, screen)) = migrate_on_a_terminal(&p, "mobile", "\n") else {
        return;
    };
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("Owner: was `phone` renamed to `mobile`? (y/N) "),
        "{screen}"
    );
    assert!(screen.contains("cloesce::migrate::data_loss"), "{screen}");
    assert_eq!(files(&p).len(), 2, "nothing written");
    // A --rename given is not asked about again.
    let Some((code, screen)) = migrate_on_a_terminal(&p, "mobile --rename Owner.phone=mobile", "")
    else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("(y/N)"), "{screen}");
}
