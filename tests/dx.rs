//! Developer experience: `doctor`, `init`, `completions`, help, progress
//! output, the `--json` schema and `run --watch`.

use crate::common::{step_rule, Project};

/// Runs doctor and returns the line of the check named `name`.
fn check_line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.get(5..).is_some_and(|rest| rest.starts_with(name)))
        .unwrap_or_else(|| panic!("no check `{name}` in\n{stdout}"))
}

fn healthy_kennel() -> Project {
    let p = Project::example("kennel");
    p.write(".gitignore", "node_modules/\n.cloesce/\n.generated/\n");
    p
}

#[test]
fn doctor_on_a_healthy_project_exits_0_and_writes_nothing() {
    let p = healthy_kennel();
    let before = p.snapshot();
    let run = p.cloesce(&["doctor"]);
    run.expect_code(0);
    for name in [
        "pipeline",
        "models",
        "rule extract",
        "rule validate",
        "wrangler config",
        "store",
        ".gitignore",
    ] {
        assert!(
            check_line(&run.stdout, name).starts_with("ok   "),
            "{name}: {}",
            run.stdout
        );
    }
    assert!(run
        .stdout
        .ends_with("cloesce doctor: everything looks right\n"));
    assert_eq!(p.snapshot(), before, "doctor wrote something");
    // After a build the store is checked too, and still nothing is written.
    p.cloesce(&["run"]).expect_code(0);
    let before = p.snapshot();
    let run = p.cloesce(&["doctor"]);
    run.expect_code(0);
    assert!(
        check_line(&run.stdout, "store integrity").contains("intact"),
        "{}",
        run.stdout
    );
    assert_eq!(p.snapshot(), before, "doctor wrote something");
}

#[test]
fn doctor_reports_a_model_error_with_its_line_and_exits_1() {
    let p = healthy_kennel();
    let model = p.read("src/kennel.cloesce.ts");
    let broken = model.replacen("  @PrimaryKey\n", "", 1);
    assert_ne!(broken, model);
    p.write("src/kennel.cloesce.ts", &broken);
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    assert!(check_line(&run.stdout, "rule extract").starts_with("FAIL"));
    assert!(
        run.stdout.contains("cloesce::model::missing_primary_key"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("src/kennel.cloesce.ts:"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fix: fix the model file"));
    assert!(run.stdout.contains("cloesce doctor: 1 problem(s)"));
}

#[test]
fn doctor_without_model_files_says_how_to_add_one() {
    let p = Project::empty();
    p.write("package.json", "{}\n");
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    let line = check_line(&run.stdout, "models");
    assert!(
        line.starts_with("FAIL") && line.contains("no model files match **/*.cloesce.ts"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fix: add a model"), "{}", run.stdout);
    // No wrangler config is a warning, not a failure.
    assert!(check_line(&run.stdout, "wrangler config").starts_with("warn"));
    assert!(check_line(&run.stdout, ".gitignore").starts_with("warn"));
}

#[test]
fn doctor_reports_every_pipeline_problem_and_still_checks_the_models() {
    let p = Project::example("kennel");
    p.write("cloesce.kdl", "cloesce version=1\nrule \"x\" { bogus 1 }\n");
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    assert!(check_line(&run.stdout, "pipeline").starts_with("FAIL"));
    assert!(run.stdout.contains("cloesce::pipeline::unknown_node"));
    assert!(run.stdout.contains("cloesce::pipeline::missing_action"));
    assert!(check_line(&run.stdout, "rule extract").starts_with("ok"));
    assert!(!p.exists(".cloesce/pipeline"), "doctor cached the pipeline");
}

#[test]
fn doctor_reports_a_missing_tool_and_program() {
    let p = healthy_kennel();
    p.write(
        "cloesce.kdl",
        "cloesce version=1\nuse \"cloesce:default\"\ntool \"no-such-tool-xyz\"\nrule \"t\" {\n  run \"no-such-program-xyz\"\n  cache #false\n}\n",
    );
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    let tool = check_line(&run.stdout, "tool no-such-tool-xyz");
    assert!(tool.starts_with("FAIL"), "{}", run.stdout);
    assert!(run.stdout.contains("install `no-such-tool-xyz`"));
    assert!(check_line(&run.stdout, "program no-such-program-xyz").starts_with("FAIL"));
}

#[test]
fn doctor_reports_a_broken_wrangler_config() {
    let p = healthy_kennel();
    p.write("wrangler.toml", "name = \"kennel\"\n[[d1_databases]\n");
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    let line = check_line(&run.stdout, "wrangler config");
    assert!(
        line.starts_with("FAIL") && line.contains("does not parse"),
        "{}",
        run.stdout
    );
    p.write("wrangler.toml", "name = \"kennel\"\n");
    let run = p.cloesce(&["doctor"]);
    run.expect_code(0);
    assert!(check_line(&run.stdout, "wrangler config").contains("no d1_databases"));
    p.write("wrangler.json", "{}");
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    assert!(check_line(&run.stdout, "wrangler config").contains("several configs"));
}

#[test]
fn doctor_finds_a_damaged_store_without_repairing_it() {
    let p = healthy_kennel();
    p.cloesce(&["run"]).expect_code(0);
    let cas = p.path().join(".cloesce/cas");
    let shard = std::fs::read_dir(&cas).unwrap().next().unwrap().unwrap();
    let blob = std::fs::read_dir(shard.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    std::fs::write(blob.path(), "damaged").unwrap();
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    assert!(check_line(&run.stdout, "store integrity").starts_with("FAIL"));
    assert!(run.stdout.contains("cloesce cache verify"));
    assert!(blob.path().exists(), "doctor must not delete");
    // A lock file naming a process is a warning.
    p.write(".cloesce/lock", "999999\n");
    let run = p.cloesce(&["doctor"]);
    assert!(check_line(&run.stdout, "lock").starts_with("warn"));
}

#[test]
fn doctor_without_colour_uses_plain_words_and_with_colour_marks() {
    let p = healthy_kennel();
    let run = p.cloesce(&["doctor"]);
    assert!(!run.stdout.contains('\u{1b}'));
    let run = p.cloesce(&["--color", "always", "doctor"]);
    assert!(run.stdout.contains("✓"), "{}", run.stdout);
}

#[test]
fn init_writes_a_pipeline_that_loads_and_ignores_the_store() {
    let p = Project::example("kennel");
    p.write(".gitignore", "node_modules/\n.generated\n");
    let run = p.cloesce(&["init"]);
    run.expect_code(0);
    assert!(run.stdout.contains("wrote cloesce.kdl"));
    assert!(run.stdout.contains("added .cloesce/"), "{}", run.stdout);
    // Only the missing line is appended.
    assert_eq!(
        p.read(".gitignore"),
        "node_modules/\n.generated\n.cloesce/\n"
    );
    let kdl = p.read("cloesce.kdl");
    assert!(kdl.contains("use \"cloesce:default\""));
    // The written file loads, and gives the default pipeline.
    let run = p.cloesce(&["graph"]);
    run.expect_code(0);
    for rule in ["extract", "validate", "d1", "wrangler", "workers", "client"] {
        assert!(run.stdout.contains(rule), "{}", run.stdout);
    }
    p.cloesce(&["run"]).expect_code(0);
    p.cloesce(&["doctor"]).expect_code(0);
    // A second init refuses to overwrite.
    p.write(
        "cloesce.kdl",
        "cloesce version=1\nuse \"cloesce:default\"\n",
    );
    let run = p.cloesce(&["init"]);
    run.expect_code(2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(
        p.read("cloesce.kdl"),
        "cloesce version=1\nuse \"cloesce:default\"\n"
    );
}

#[test]
fn init_creates_a_gitignore() {
    let p = Project::empty();
    let run = p.cloesce(&["init"]);
    run.expect_code(0);
    assert_eq!(p.read(".gitignore"), ".cloesce/\n.generated/\n");
    assert!(run.stdout.contains("created .gitignore"));
}

#[test]
fn completions_for_every_shell() {
    let p = Project::empty();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef cloesce"),
        ("fish", "complete -c cloesce"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = p.cloesce(&["completions", shell]);
        run.expect_code(0);
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        assert!(run.stdout.contains("doctor"), "{shell}");
    }
    p.cloesce(&["completions", "tcsh"]).expect_code(2);
}

#[test]
fn every_command_help_has_an_example() {
    let p = Project::empty();
    for command in [
        "run",
        "graph",
        "explain",
        "clean",
        "cache",
        "doctor",
        "init",
        "completions",
    ] {
        let run = p.cloesce(&[command, "--help"]);
        run.expect_code(0);
        assert!(
            run.stdout.contains("Example"),
            "{command} --help has no example:\n{}",
            run.stdout
        );
    }
    let run = p.cloesce(&["doctr"]);
    run.expect_code(2);
    assert!(run.stderr.contains("'doctor'"), "{}", run.stderr);
}

#[test]
fn first_run_without_models_says_what_to_do() {
    let p = Project::empty();
    p.write("package.json", "{}\n");
    let run = p.cloesce(&["run"]);
    assert!(
        run.stdout.contains("no model files") || run.stderr.contains("no model files"),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn first_run_of_the_default_pipeline_says_what_is_next() {
    let p = Project::example("kennel");
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(run.stdout.contains("Next:"), "{}", run.stdout);
    assert!(run.stdout.contains("wrangler dev"), "{}", run.stdout);
}

#[test]
fn quiet_prints_nothing_on_success() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["a.out"], "")
    ));
    p.write("src.txt", "1\n");
    let run = p.cloesce(&["run", "--quiet"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "");
}
