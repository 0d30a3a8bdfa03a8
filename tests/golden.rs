//! Golden output: the exact text `cloesce run` prints, on a terminal and
//! through a pipe, for the cases of issue #16 (output under the right rule,
//! explanations that name the cause, what a failed build leaves).
//! Durations are the only thing replaced (by `<t>`).

use crate::common::Project;

/// Four independent rules that each print a line; `x.txt` without `ok`
/// makes `failed` exit 3 after writing its output.
const FOUR_RULES: &str = r#"cloesce version=1
rule "fresh" {
    inputs "f.txt"
    outputs "f.out"
    run "sh" "-c" "cat f.txt > f.out; echo fresh says hi"
}
rule "restored" {
    inputs "r.txt"
    outputs "r.out"
    run "sh" "-c" "cat r.txt > r.out; echo restored says hi"
}
rule "ran" {
    inputs "n.txt"
    outputs "n.out"
    run "sh" "-c" "cat n.txt > n.out; echo ran says hi; echo ran warns >&2"
}
rule "failed" {
    inputs "x.txt"
    outputs "x.out"
    run "sh" "-c" "cat x.txt > x.out; echo failed says hi; grep -q ok x.txt || { echo failed breaks >&2; exit 3; }"
}
"#;

/// A project where the next `run -k -j1` has one rule of each kind: `fresh`
/// is fresh, `restored` comes back from the store (its input was reverted),
/// `ran` runs (new input) and `failed` fails.
fn one_of_each() -> Project {
    let p = Project::new(FOUR_RULES);
    for f in ["f", "r", "n", "x"] {
        p.write(&format!("{f}.txt"), "ok\n");
    }
    p.cloesce(&["run"]).expect_code(0);
    p.write("r.txt", "two\n");
    p.cloesce(&["run"]).expect_code(0);
    p.write("r.txt", "ok\n");
    p.write("n.txt", "new\n");
    p.write("x.txt", "bad\n");
    p
}

/// Replaces every duration (`12ms`, `1.50s`) by `<t>` and `\r\n` by `\n`.
fn normalize(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word =
            i == 0 || !chars[i - 1].is_ascii_alphanumeric() || out.ends_with("\u{1b}[2m");
        if starts_word && chars[i].is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let unit = if chars[j..].starts_with(&['m', 's']) {
                2
            } else if chars[j..].starts_with(&['s']) {
                1
            } else {
                0
            };
            let ends_word = chars
                .get(j + unit)
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            if unit > 0 && ends_word {
                out.push_str("<t>");
                i = j + unit;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Runs `cloesce run`, which must fail (exit 1) printing nothing on stdout
/// and exactly `stderr` (durations as `<t>`) on stderr.
#[track_caller]
fn run_fails_with(p: &Project, env: &[(&str, &str)], stderr: &str) {
    let run = p.cloesce_env(&["run"], env);
    run.expect_code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(normalize(&run.stderr), stderr);
}

/// What a terminal shows (stdout and stderr interleaved, in colour, no
/// status line as `CI` is set), through `script`'s pseudo-terminal. `None`
/// when `script` (util-linux) is missing, unless CLOESCE_REQUIRE_TOOLS.
fn on_a_terminal(p: &Project, args: &str) -> Option<String> {
    let out = p
        .on_a_terminal(args)?
        .env("CI", "true")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    Some(normalize(&String::from_utf8_lossy(&out.stdout)))
}

const FAILED_REPORT: &str = r#"FAILED   failed  <t>
  stdout:
  │ failed says hi
  stderr:
  │ failed breaks
cloesce::rule::failed

  × rule `failed` failed: exit code 3
    ╭─[cloesce.kdl:20:5]
 19 │     outputs "x.out"
 20 │     run "sh" "-c" "cat x.txt > x.out; echo failed says hi; grep -q ok x.txt || { echo failed breaks >&2; exit 3; }"
    ·     ───────────────────────────────────────────────────────┬───────────────────────────────────────────────────────
    ·                                                            ╰── this rule's command
 21 │ }
    ╰────
  help: the command was `sh -c 'cat x.txt > x.out; echo failed says hi; grep -q ok x.txt ||
        { echo failed breaks >&2; exit 3; }'`; run it yourself to investigate, fix the cause, then
        `cloesce run` again
cloesce: 1 ran, 1 restored, 1 fresh, 1 failed in <t>
"#;

// Issue #16 part 2: a rule's output is shown under its own header or not at
// all. Fresh and restored rules print nothing of theirs (their logs come from
// the store); only `ran` shows its output, under its line.
#[test]
fn fresh_restored_ran_and_failed_rules_through_a_pipe() {
    let p = one_of_each();
    let run = p.cloesce(&["run", "-k", "-j1"]);
    run.expect_code(1);
    assert_eq!(
        normalize(&run.stdout),
        "restored restored\nran      ran  <t>\n  │ ran says hi\n"
    );
    assert_eq!(
        normalize(&run.stderr),
        format!("  │ ran warns\n{FAILED_REPORT}")
    );
}

#[test]
fn fresh_restored_ran_and_failed_rules_on_a_terminal() {
    let p = one_of_each();
    let Some(screen) = on_a_terminal(&p, "run -k -j1") else {
        return;
    };
    let dim = |s: &str| format!("\u{1b}[2m{s}\u{1b}[0m");
    let green = |s: &str| format!("\u{1b}[32m{s}\u{1b}[0m");
    let red = |s: &str| format!("\u{1b}[1;31m{s}\u{1b}[0m");
    let head = format!(
        "{} restored\n{} ran  {}\n  {} ran says hi\n  {} ran warns\n{} failed  {}\n",
        green("restored"),
        green("ran     "),
        dim("<t>"),
        dim("│"),
        dim("│"),
        red("FAILED  "),
        dim("<t>"),
    );
    assert!(screen.starts_with(&head), "{screen:?}");
    // The rest is the failure report (miette draws it in colour) and the
    // summary: nothing of `fresh`'s or `restored`'s output anywhere.
    assert!(!screen.contains("fresh says hi"), "{screen}");
    assert!(!screen.contains("restored says hi"), "{screen}");
    assert!(screen.ends_with("cloesce: 1 ran, 1 restored, 1 fresh, 1 failed in <t>\n"));
}

// `--verbose` replays the stored output of fresh and restored rules, each
// under its own line. (`failed` is decided while `ran` runs: a finished job
// is recorded once its slot has been refilled.)
#[test]
fn verbose_replays_stored_output_under_each_rules_line() {
    let p = one_of_each();
    p.write("x.txt", "ok\n");
    let run = p.cloesce(&["run", "-k", "-j1", "-v"]);
    run.expect_code(0);
    assert_eq!(
        normalize(&run.stdout),
        "fresh    fresh
  │ fresh says hi
restored restored
         because input r.txt changed (ef40086ad8a3 → b576bf327e11)
         because these inputs were built before, so the outputs come from the store
  │ restored says hi
start    ran        sh -c 'cat n.txt > n.out; echo ran says hi; echo ran warns >&2'
fresh    failed
  │ failed says hi
ran      ran  <t>
         because input n.txt changed (b576bf327e11 → 79d1d8da0b62)
  │ ran says hi
cloesce: 1 ran, 1 restored, 2 fresh in <t>
"
    );
}

// No-op runs print the same thing whether or not `.cloesce/witness` exists
// (the first no-op writes it, the second is answered by it).
#[test]
fn two_no_op_runs_print_the_same() {
    let p = one_of_each();
    p.write("x.txt", "ok\n");
    p.cloesce(&["run"]).expect_code(0);
    let first = p.cloesce(&["run"]);
    assert!(p.exists(".cloesce/witness"));
    let second = p.cloesce(&["run"]);
    assert_eq!(normalize(&first.stdout), "cloesce: 4 fresh in <t>\n");
    assert_eq!(normalize(&second.stdout), normalize(&first.stdout));
    assert_eq!(first.stderr, "");
    assert_eq!(second.stderr, "");
}

/// What the `d1` rule says while the kennel model has `Owner.email` and
/// no migration does, as printed under its rule line.
const EMAIL_DRIFT: &str =
    "  │ warning: the models differ from the last migration (migrations/0001_init.sql):
  │   Owner.email added
  │   run `cloesce migrate NAME` to write the next migration, then apply it with wrangler
";

/// A built-in's log (warnings and notes) stands until a run of the rule
/// produces none: it is shown under its line when the rule runs, on every
/// fresh run after (no witness answers for it, so two no-op runs print the
/// same), when the rule is restored after a revert, and never after the
/// cause is gone. (A command's output is still shown once: the tests above.)
#[test]
fn a_builtin_warning_stands_until_its_cause_is_gone() {
    let p = Project::example("kennel");
    p.cloesce(&["run"]).expect_code(0);
    let model = p.read("src/kennel.cloesce.ts");
    let with_email = model.replacen(
        "  phone: string | null;\n",
        "  phone: string | null;\n  email: string | null;\n",
        1,
    );
    assert_ne!(with_email, model);
    let next = "\nNext:\n  npx wrangler d1 migrations apply db --local -c .generated/wrangler.toml\n  npx wrangler dev -c .generated/wrangler.toml\n";

    // The run that produces it.
    p.write("src/kennel.cloesce.ts", &with_email);
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert_eq!(
        normalize(&run.stdout),
        format!("ran      extract  <t>\nran      validate  <t>\nran      d1  <t>\n{EMAIL_DRIFT}ran      workers  <t>\nran      client  <t>\ncloesce: 5 ran, 1 fresh in <t>\n{next}")
    );

    // Every fresh run after it, the same with or without a witness: none is
    // written while the warning stands.
    let fresh = format!("fresh    d1\n{EMAIL_DRIFT}cloesce: 6 fresh in <t>\n");
    for _ in 0..2 {
        let run = p.cloesce(&["run"]);
        run.expect_code(0);
        assert_eq!(normalize(&run.stdout), fresh);
        assert_eq!(run.stderr, "");
        assert!(!p.exists(".cloesce/witness"));
    }
    // `--quiet` prints errors only; `--json` carries the log and names the rule.
    assert_eq!(p.cloesce(&["run", "-q"]).stdout, "");
    let json = p.cloesce(&["run", "--json"]).stdout;
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let d1 = events.iter().find(|e| e["rule"] == "d1").unwrap();
    assert_eq!(d1["status"], "fresh");
    assert!(
        d1["stdout"].as_str().unwrap().contains("Owner.email added"),
        "{d1}"
    );
    assert_eq!(events.last().unwrap()["warned"], serde_json::json!(["d1"]));

    // Restored from the store after a revert and a redo: the warning comes
    // back with the outputs.
    p.write("src/kennel.cloesce.ts", &model);
    let run = p.cloesce(&["run"]);
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
    p.write("src/kennel.cloesce.ts", &with_email);
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert_eq!(
        normalize(&run.stdout),
        format!("restored extract\nrestored validate\nrestored d1\n{EMAIL_DRIFT}restored workers\nrestored client\ncloesce: 5 restored, 1 fresh in <t>\n{next}")
    );

    // Gone once the migration is written; the witness answers again.
    p.cloesce(&["migrate", "add_email"]).expect_code(0);
    for _ in 0..2 {
        let run = p.cloesce(&["run"]);
        run.expect_code(0);
        assert_eq!(normalize(&run.stdout), "cloesce: 6 fresh in <t>\n");
    }
    assert!(p.exists(".cloesce/witness"));
}

/// `a` copies src.txt, `b` upper-cases `a`'s output.
const CHAIN: &str = r#"cloesce version=1
rule "a" {
    inputs "src.txt"
    outputs "gen/a.out"
    run "sh" "-c" "mkdir -p gen; cat src.txt > gen/a.out"
}
rule "b" {
    inputs "gen/a.out"
    outputs "gen/b.out"
    run "sh" "-c" "tr a-z A-Z < gen/a.out > gen/b.out"
}
"#;

// Issue #16 part 3: undoing an edit restores from the store, and the reasons
// name the input that changed back, not the outputs the last run wrote.
#[test]
fn a_revert_names_the_input_that_changed_back() {
    let p = Project::new(CHAIN);
    p.write("src.txt", "one\n");
    p.cloesce(&["run"]).expect_code(0);
    p.write("src.txt", "two\n");
    p.cloesce(&["run"]).expect_code(0);
    p.write("src.txt", "one\n");
    let run = p.cloesce(&["run", "--explain"]);
    run.expect_code(0);
    assert_eq!(
        normalize(&run.stdout),
        "restored a
         because input src.txt changed (ef40086ad8a3 → e0e63aa4c8e1)
         because these inputs were built before, so the outputs come from the store
restored b
         because input gen/a.out changed (ef40086ad8a3 → e0e63aa4c8e1)
         because these inputs were built before, so the outputs come from the store
cloesce: 2 restored in <t>
"
    );
    assert_eq!(p.read("gen/b.out"), "ONE\n");
    // An output the user did touch is still named.
    p.write("gen/b.out", "hand edit\n");
    let run = p.cloesce(&["run", "--explain"]);
    assert_eq!(
        normalize(&run.stdout),
        "restored b\n         because output gen/b.out was modified\ncloesce: 1 restored, 1 fresh in <t>\n"
    );
}

// Issue #16 part 3: a failed rule leaves what its last good run wrote, not
// what the failed run wrote; undoing the breaking edit is then a no-op.
#[test]
fn a_failed_rule_leaves_its_last_good_outputs() {
    let p = one_of_each();
    p.cloesce(&["run", "-k"]).expect_code(1);
    assert_eq!(p.read("x.out"), "ok\n", "the failed run's x.out must go");
    p.write("x.txt", "ok\n");
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert_eq!(normalize(&run.stdout), "cloesce: 4 fresh in <t>\n");
    // A rule that never succeeded has no last good output: nothing is left.
    p.write(
        "cloesce.kdl",
        &format!(
            "{FOUR_RULES}rule \"never\" {{\n    outputs \"never.out\"\n    run \"sh\" \"-c\" \"echo partial > never.out; exit 1\"\n}}\n"
        ),
    );
    p.cloesce(&["run"]).expect_code(1);
    assert!(!p.exists("never.out"));
}

// A failed model build leaves `.generated/` exactly as the last good build
// wrote it (so `wrangler dev` keeps serving a consistent Worker), and
// undoing the breaking edit finds everything fresh.
#[test]
fn a_failed_model_build_leaves_the_last_good_build() {
    let p = Project::example("kennel");
    p.cloesce(&["run"]).expect_code(0);
    let generated = |p: &Project| {
        p.snapshot()
            .into_iter()
            .filter(|(path, _)| path.starts_with(p.path().join(".generated")))
            .collect::<Vec<_>>()
    };
    let good = generated(&p);
    assert!(good.len() >= 5, "{good:?}");
    let model = p.read("src/kennel.cloesce.ts");
    p.write(
        "src/kennel.cloesce.ts",
        &format!("{model}\n@D2 class X {{}}\n"),
    );
    p.cloesce(&["run"]).expect_code(1);
    assert_eq!(generated(&p), good);
    p.write("src/kennel.cloesce.ts", &model);
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(
        normalize(&run.stdout).starts_with("cloesce: 6 fresh in <t>\n"),
        "{}",
        run.stdout
    );
}

// Issue #16 part 4: a misspelt program gets "did you mean" from the programs
// in node_modules/.bin and on PATH.
#[test]
fn a_misspelt_program_gets_did_you_mean() {
    let p =
        Project::new("cloesce version=1\nrule \"deploy\" {\n    run \"wranglr\" \"deploy\"\n}\n");
    p.write("node_modules/.bin/wrangler", "#!/bin/sh\necho deployed\n");
    std::fs::set_permissions(
        p.path().join("node_modules/.bin/wrangler"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    run_fails_with(
        &p,
        &[("PATH", "/usr/bin:/bin")],
        r#"FAILED   deploy  <t>
cloesce::rule::failed

  × rule `deploy` failed: could not start: program `wranglr` was not found in node_modules/.bin or
  │ on PATH; did you mean `wrangler`?
   ╭─[cloesce.kdl:3:5]
 2 │ rule "deploy" {
 3 │     run "wranglr" "deploy"
   ·     ───────────┬──────────
   ·                ╰── this rule's command
 4 │ }
   ╰────
  help: the command was `wranglr deploy`; fix the program's name in this rule's `run` line
cloesce: 1 failed in <t>
"#,
    );
    let doctor = p.cloesce_env(&["doctor"], &[("PATH", "/usr/bin:/bin")]);
    assert!(
        doctor
            .stdout
            .contains("program `wranglr` was not found in node_modules/.bin or on PATH; did you mean `wrangler`? (rule `deploy` runs it)"),
        "{}",
        doctor.stdout
    );
}

// Issue #16 part 4: an empty folder reports the root cause, alone.
#[test]
fn an_empty_folder_reports_no_model_files_alone() {
    let p = Project::empty();
    run_fails_with(
        &p,
        &[],
        "FAILED   extract  <t>
cloesce::model::no_models

  × cloesce found no model files: nothing matches **/*.cloesce.ts
  help: create a model file, e.g. src/dog.cloesce.ts (node_modules/cloesce/docs/guide.md
        has a complete one), then build again; model files end in .cloesce.ts and folders
        that .gitignore ignores are not searched
cloesce: 1 failed, 5 not started in <t>
",
    );
}

// Issue #16 part 4: a TypeScript syntax error says what the parser expected
// (no empty help), and nothing that only follows from the file not parsing.
#[test]
fn a_typescript_syntax_error_says_what_was_expected() {
    let p = Project::empty();
    p.write(
        "src/m.cloesce.ts",
        "@WranglerEnv\nexport class Env {\n  db: D1Database;\n}\n@D1\nexport class A {\n  @PrimaryKey id: number;\n  get(x: number {\n    return x;\n  }\n}\n",
    );
    run_fails_with(
        &p,
        &[],
        "FAILED   extract  <t>
cloesce::model::parse_error

  × src/m.cloesce.ts: Expected `,` or `)` but found `{`
   ╭─[src/m.cloesce.ts:8:17]
 7 │   @PrimaryKey id: number;
 8 │   get(x: number {
   ·                 ┬
   ·                 ╰── `,` or `)` expected
 9 │     return x;
   ╰────
cloesce: 1 failed, 5 not started in <t>
",
    );
}

// Issue #16 part 4: a missing output's frame points at the `outputs` entries
// that were not written, not at the whole rule.
#[test]
fn a_missing_output_points_at_its_outputs_entry() {
    let p = Project::new(
        r#"cloesce version=1
rule "gen" {
    outputs "gen/a.txt" "gen/b.txt" "gen/c.txt"
    run "sh" "-c" "mkdir -p gen; echo > gen/b.txt"
}
"#,
    );
    run_fails_with(
        &p,
        &[],
        "FAILED   gen  <t>
cloesce::rule::failed

  × rule `gen` succeeded but did not write gen/a.txt, gen/c.txt
   ╭─[cloesce.kdl:3:13]
 2 │ rule \"gen\" {
 3 │     outputs \"gen/a.txt\" \"gen/b.txt\" \"gen/c.txt\"
   ·             ─────┬─────             ─────┬─────
   ·                  │                       ╰── not written
   ·                  ╰── not written
 4 │     run \"sh\" \"-c\" \"mkdir -p gen; echo > gen/b.txt\"
   ╰────
  help: make the command write every declared output, or remove the ones it does not write from
        `outputs`
cloesce: 1 failed in <t>
",
    );
}
