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
        "tsconfig",
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
    // The run's pack of action entries (which also hold their rules'
    // small outputs): one entry's last byte flipped.
    let packs = crate::common::pack_files(p.path());
    assert_eq!(packs.len(), 1, "one pack for the run");
    let pack = &packs[0];
    let mut bytes = std::fs::read(pack).unwrap();
    let slot = cloesce_engine::pack::scan(&bytes).unwrap().records[0];
    bytes[(slot.offset + slot.len as u64 - 1) as usize] ^= 1;
    std::fs::write(pack, &bytes).unwrap();
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    assert!(check_line(&run.stdout, "store integrity").starts_with("FAIL"));
    assert!(run.stdout.contains("cloesce cache verify"));
    assert!(pack.exists(), "doctor must not delete");
    assert_eq!(
        std::fs::read(pack).unwrap(),
        bytes,
        "doctor must not repair"
    );
    // A lock file naming a live process is a warning (a run is going on)...
    p.write(".cloesce/lock", &format!("{}\n", std::process::id()));
    let run = p.cloesce(&["doctor"]);
    let line = check_line(&run.stdout, "lock");
    assert!(line.starts_with("warn"), "{line}");
    assert!(
        line.contains(&format!("held by process {}", std::process::id())),
        "{line}"
    );
    // ...one naming a process that is gone is stale, which the next run fixes.
    let gone = {
        let mut child = std::process::Command::new(crate::common::cloesce_bin())
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    p.write(".cloesce/lock", &format!("{gone}\n"));
    let run = p.cloesce(&["doctor"]);
    let line = check_line(&run.stdout, "lock");
    assert!(line.starts_with("ok"), "{line}");
    assert!(line.contains("stale"), "{line}");
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

/// Issue #16: the guide's project had no tsconfig.json, so `wrangler dev`
/// failed on the models' parameter decorators; init writes one.
#[test]
fn init_writes_a_tsconfig_with_decorators_and_says_what_comes_next() {
    let p = Project::empty();
    let run = p.cloesce(&["init"]);
    run.expect_code(0);
    assert_eq!(p.read("tsconfig.json"), cloesce_rules::tsconfig::TEMPLATE);
    assert!(
        run.stdout
            .contains("wrote tsconfig.json (experimentalDecorators on"),
        "{}",
        run.stdout
    );
    // Said as the user runs cloesce: `npx cloesce` through the npm package.
    let next = run.stdout.replace("\n  npx cloesce ", "\n  cloesce ");
    assert!(
        next.ends_with(
            "\nNext:\n  cloesce doctor    check the project (models, tools, wrangler config)\n  cloesce run       build it\n"
        ),
        "{}",
        run.stdout
    );
    // An existing tsconfig.json is kept; what it lacks is named.
    let p = Project::empty();
    let mine = "{ \"compilerOptions\": { \"strict\": true } }\n";
    p.write("tsconfig.json", mine);
    let run = p.cloesce(&["init"]);
    run.expect_code(0);
    assert_eq!(p.read("tsconfig.json"), mine);
    assert!(
        run.stdout.contains(
            "warning: tsconfig.json does not set compilerOptions.experimentalDecorators to true"
        ) && run
            .stdout
            .contains("fix: add \"experimentalDecorators\": true"),
        "{}",
        run.stdout
    );
}

#[test]
fn doctor_and_run_name_the_fix_for_a_missing_tsconfig() {
    let p = healthy_kennel();
    p.remove("tsconfig.json");
    let run = p.cloesce(&["doctor"]);
    run.expect_code(1);
    let line = check_line(&run.stdout, "tsconfig");
    assert!(
        line.starts_with("FAIL") && line.contains("there is no tsconfig.json"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("fix: run `npx cloesce init` to write one"),
        "{}",
        run.stdout
    );
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("warning: there is no tsconfig.json, so `wrangler dev` and `wrangler deploy` would fail"),
        "{}",
        run.stdout
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

/// Every line of `out` validates against docs/events.schema.json; returns
/// the events.
pub(crate) fn validate_events(out: &str) -> Vec<serde_json::Value> {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../docs/events.schema.json"))
            .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    out.lines()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let errors: Vec<String> = validator
                .iter_errors(&event)
                .map(|e| format!("{e} at {}", e.instance_path))
                .collect();
            assert!(errors.is_empty(), "{line}\n{}", errors.join("\n"));
            event
        })
        .collect()
}

#[test]
fn json_events_match_the_schema() {
    // Built-ins: ran, then a model error (builtin diagnostics), restore,
    // fresh, dry run.
    let p = Project::example("kennel");
    let mut statuses = std::collections::BTreeSet::new();
    let mut reasons = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeSet::new();
    let mut record = |events: &[serde_json::Value]| {
        for e in events {
            if let Some(s) = e["status"].as_str() {
                statuses.insert(s.to_string());
            }
            for r in e["reasons"].as_array().into_iter().flatten() {
                reasons.insert(r["reason"].as_str().unwrap().to_string());
            }
            if let Some(k) = e["error"]["kind"].as_str() {
                kinds.insert(k.to_string());
            }
        }
    };
    record(&validate_events(&p.cloesce(&["run", "--json"]).stdout));
    let model = p.read("src/kennel.cloesce.ts");
    p.write(
        "src/kennel.cloesce.ts",
        &model.replacen("  @PrimaryKey\n", "", 1),
    );
    record(&validate_events(&p.cloesce(&["run", "--json"]).stdout));
    p.write("src/kennel.cloesce.ts", &model);
    record(&validate_events(&p.cloesce(&["run", "--json"]).stdout));
    record(&validate_events(&p.cloesce(&["run", "--json"]).stdout));
    std::fs::remove_file(p.path().join(".generated/client.ts")).unwrap();
    record(&validate_events(
        &p.cloesce(&["run", "--json", "--dry-run"]).stdout,
    ));
    record(&validate_events(&p.cloesce(&["run", "--json"]).stdout));
    record(&validate_events(
        &p.cloesce(&["run", "--json", "--no-cache"]).stdout,
    ));

    // Processes: a failure with an exit code, a missing output, a missing
    // program, output on both streams, not started.
    let q = Project::new(&format!(
        "cloesce version=1\n{}{}rule \"missing\" {{\n  outputs \"m.out\"\n  run \"true\"\n}}\nrule \"noprog\" {{\n  run \"no-such-program-xyz\"\n}}\nrule \"loud\" {{\n  run \"sh\" \"-c\" \"echo out; echo err >&2\"\n  cache #false\n}}\n",
        step_rule("a", &["src.txt"], &["a.out"], ""),
        "rule \"fails\" {\n  run \"sh\" \"-c\" \"exit 3\"\n}\nrule \"after\" {\n  deps \"fails\"\n  run \"true\"\n}\n",
    ));
    q.write("src.txt", "1\n");
    record(&validate_events(
        &q.cloesce(&["run", "--json", "-k"]).stdout,
    ));
    q.write("src.txt", "2\n");
    record(&validate_events(
        &q.cloesce(&["run", "--json", "-k", "a"]).stdout,
    ));
    q.write("src.txt", "3\n");
    record(&validate_events(
        &q.cloesce(&["run", "--json", "--dry-run"]).stdout,
    ));
    for s in ["ran", "fresh", "restored", "failed", "would-run"] {
        assert!(statuses.contains(s), "{s} not seen: {statuses:?}");
    }
    for r in [
        "never_built",
        "input_changed",
        "dependency_runs",
        "no_cache_flag",
        "cache_disabled",
        "output_missing",
    ] {
        assert!(reasons.contains(r), "{r} not seen: {reasons:?}");
    }
    for k in ["process", "builtin", "missing_outputs"] {
        assert!(kinds.contains(k), "{k} not seen: {kinds:?}");
    }
}

#[test]
fn progress_line_on_a_terminal_and_plain_lines_elsewhere() {
    // `script` gives the process a pseudo-terminal (util-linux).
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no `script` command");
        return;
    }
    let p = Project::new(
        "cloesce version=1\nrule \"slow\" {\n  outputs \"s.out\"\n  run \"sh\" \"-c\" \"sleep 0.4; echo s > s.out\"\n}\n",
    );
    let bin = crate::common::cloesce_bin();
    let tty = |env: &str| {
        let out = std::process::Command::new("script")
            .args([
                "-qec",
                &format!("{env} {} run --no-cache", bin.display()),
                "/dev/null",
            ])
            .current_dir(p.path())
            .env_remove("CI")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let screen = tty("NO_COLOR=1");
    assert!(screen.contains("\r\u{1b}[2K"), "{screen:?}");
    assert!(screen.contains("[0/1] running slow"), "{screen:?}");
    // Redrawn on the tick while the rule sleeps.
    assert!(
        screen.contains("0.2s") || screen.contains("0.3s"),
        "{screen:?}"
    );
    assert!(screen.contains("cloesce: 1 ran"), "{screen:?}");
    // CI set: plain lines, no redraws.
    let screen = tty("CI=true NO_COLOR=1");
    assert!(!screen.contains('\u{1b}'), "{screen:?}");
    assert!(screen.contains("ran      slow"), "{screen:?}");
    // Not a terminal: no escape codes either.
    let run = p.cloesce(&["run", "--no-cache"]);
    assert!(!run.stdout.contains('\u{1b}') && !run.stderr.contains('\u{1b}'));
}

/// Waits until `f` is true, up to 10 s.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn watch_reruns_only_what_changed_and_restores_a_revert() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}{}{}",
        step_rule("a", &["a.txt"], &["out/a"], ""),
        step_rule("b", &["b.txt"], &["out/b"], ""),
        step_rule("c", &["out/a"], &["out/c"], ""),
    ));
    p.write("a.txt", "1\n");
    p.write("b.txt", "1\n");
    let mut watch = p.watch();
    eventually("the first run", || watch.rounds() == 1);
    assert_eq!(p.take_runs_sorted(), ["a", "b", "c"]);
    // Writing an output, the log or a file in .cloesce does not start a round.
    p.write("runs.log.tmp", "");
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(watch.rounds(), 1);

    p.write("a.txt", "2\n");
    eventually("the second run", || watch.rounds() == 2);
    assert_eq!(p.take_runs(), ["a", "c"]);
    let out = std::fs::read_to_string(&watch.stdout).unwrap();
    assert!(out.contains("ran      a"), "{out}");

    p.write("a.txt", "1\n");
    eventually("the third run", || watch.rounds() == 3);
    assert_eq!(p.take_runs(), Vec::<String>::new(), "a revert restores");
    let out = std::fs::read_to_string(&watch.stdout).unwrap();
    assert!(out.contains("restored a"), "{out}");
    assert_eq!(p.read("out/a"), "a\n1\n");

    // A failing round keeps watching.
    p.write("cloesce.kdl", "cloesce version=1\nrule \"x\" {}\n");
    eventually("the failing round", || watch.rounds() == 4);
    let err = std::fs::read_to_string(&watch.stderr).unwrap();
    assert!(err.contains("cloesce::pipeline::missing_action"), "{err}");
    assert!(watch.child.try_wait().unwrap().is_none(), "watch stopped");

    // Ctrl-C ends it, and leaves the project unlocked.
    std::process::Command::new("kill")
        .args(["-INT", &watch.child.id().to_string()])
        .status()
        .unwrap();
    let start = std::time::Instant::now();
    while watch.child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "SIGINT did not stop watch"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    p.write(
        "cloesce.kdl",
        &format!(
            "cloesce version=1\n{}",
            step_rule("a", &["a.txt"], &["out/a"], "")
        ),
    );
    p.cloesce(&["run", "--no-wait"]).expect_code(0);
}

/// Issue #16: `run --help` said `--watch` works "natively only"; it works
/// through npm too.
#[test]
fn run_help_does_not_call_watch_native_only() {
    let run = Project::empty().cloesce(&["run", "--help"]);
    run.expect_code(0);
    let watch = run
        .stdout
        .lines()
        .skip_while(|l| !l.contains("--watch"))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        watch.contains("run again whenever an input changes"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.to_lowercase().contains("native"),
        "{}",
        run.stdout
    );
}
