//! The command line itself: errors, graph, explain, clean, cache.

use crate::common::{step_rule, Project};

#[test]
fn a_broken_pipeline_reports_every_problem_with_exit_code_2() {
    let p = Project::new(
        "cloesce version=1\nrule \"a\" {\n    run \"true\"\n    deps \"nope\"\n}\nrule \"a\" {\n    run \"true\"\n}\nrul \"b\" {}\n",
    );
    let run = p.cloesce(&["run"]);
    run.expect_code(2);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    assert!(run.stderr.contains("cloesce.kdl"), "{}", run.stderr);
    assert!(
        run.stderr.to_lowercase().contains("duplicate"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("rule"),
        "did-you-mean for `rul` missing: {}",
        run.stderr
    );
}

#[test]
fn unknown_commands_suggest_the_nearest_one() {
    let p = Project::new("cloesce version=1\n");
    let run = p.cloesce(&["grpah"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("similar subcommand exists: 'graph'"),
        "{}",
        run.stderr
    );
}

#[test]
fn explain_says_why_a_rule_would_run() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}{}",
        step_rule("a", &["src.txt"], &["a.out"], ""),
        step_rule("b", &["a.out"], &["b.out"], ""),
    ));
    p.write("src.txt", "1\n");
    let fresh = p.cloesce(&["explain", "b"]);
    fresh.expect_code(0);
    assert!(fresh.stdout.contains("would run"), "{}", fresh.stdout);
    assert!(
        fresh.stdout.contains("dependency `a` runs first"),
        "{}",
        fresh.stdout
    );
    p.cloesce(&["run"]).expect_code(0);
    let up_to_date = p.cloesce(&["explain", "b"]);
    assert!(
        up_to_date.stdout.contains("is up to date"),
        "{}",
        up_to_date.stdout
    );
    p.write("src.txt", "2\n");
    let changed = p.cloesce(&["explain", "a"]);
    assert!(
        changed.stdout.contains("because input src.txt changed"),
        "{}",
        changed.stdout
    );
    assert!(
        changed.stdout.contains("last successful run"),
        "{}",
        changed.stdout
    );
}

#[test]
fn clean_removes_outputs_and_store_then_everything_reruns() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["a.out"], "")
    ));
    p.write("src.txt", "1\n");
    p.cloesce(&["run"]).expect_code(0);
    p.take_runs();
    p.cloesce(&["clean"]).expect_code(0);
    assert!(!p.exists("a.out"));
    assert!(!p.exists(".cloesce/cas"));
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["a"]);
}

/// Temporary files a killed run left (issue 12, part 2): a glob never
/// lists them, the next run sweeps the staged ones, `clean` removes both
/// kinds. Pid 4000000 is above Linux's largest pid, so its writer is gone.
#[test]
fn leftover_temporary_files_are_never_inputs_and_are_swept() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}{}",
        step_rule("gen", &["src.txt"], &["gen/a.txt"], ""),
        "rule \"all\" {\n    inputs \"gen/*\"\n    outputs \"all.out\"\n    run \"sh\" \"-c\" \"echo all >> runs.log; cat gen/* > all.out\"\n}\n"
    ));
    p.write("src.txt", "1\n");
    p.cloesce(&["run"]).expect_code(0);
    p.take_runs();
    // A fallback temporary file beside an output, and a staged one.
    p.write("gen/.a.txt.cloesce-tmp.4000000.7", "partial");
    p.write(".cloesce/tmp/4000000.8", "partial");
    let run = p.cloesce(&["run", "--explain"]);
    run.expect_code(0);
    assert!(
        p.take_runs().is_empty(),
        "a leftover was taken for an input: {}",
        run.stdout
    );
    assert!(
        !p.exists(".cloesce/tmp/4000000.8"),
        "the staged leftover was not swept"
    );
    p.write(".cloesce/tmp/4000000.9", "partial");
    p.cloesce(&["clean"]).expect_code(0);
    assert!(!p.exists("gen/.a.txt.cloesce-tmp.4000000.7"));
    assert!(!p.exists(".cloesce/tmp"));
}

#[test]
fn cache_stats_verify_and_gc() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["a.out"], "")
    ));
    // Outputs over INLINE_MAX bytes, so each is a blob of its own.
    for i in 0..3 {
        p.write("src.txt", &format!("{i}\n").repeat(10_000));
        p.cloesce(&["run"]).expect_code(0);
    }
    let stats = p.cloesce(&["cache", "stats"]);
    stats.expect_code(0);
    assert!(
        stats.stdout.contains("action entries: 3"),
        "{}",
        stats.stdout
    );
    // Corrupt one blob of an earlier result: verify removes it and the
    // entry naming it.
    let current = std::fs::read(p.path().join("a.out")).unwrap();
    let blob = std::fs::read_dir(p.path().join(".cloesce/cas"))
        .unwrap()
        .flat_map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap())
        .map(|blob| blob.unwrap().path())
        .find(|blob| std::fs::read(blob).unwrap() != current)
        .expect("a blob of an earlier result");
    std::fs::write(&blob, b"bad").unwrap();
    // Damage found is a problem found: exit 1, saying what was removed
    // (issue #12); verifying again finds the rest intact.
    let verify = p.cloesce(&["cache", "verify"]);
    verify.expect_code(1);
    assert!(
        verify
            .stdout
            .contains("the store was damaged: removed 1 blob(s) and 1 action entr(ies)"),
        "{}",
        verify.stdout
    );
    let again = p.cloesce(&["cache", "verify"]);
    again.expect_code(0);
    assert!(
        again.stdout.contains("the store is intact"),
        "{}",
        again.stdout
    );
    assert!(
        verify.stdout.contains("content does not match"),
        "{}",
        verify.stdout
    );
    assert!(
        verify.stdout.contains("names a missing blob"),
        "{}",
        verify.stdout
    );
    // gc to a tiny cap keeps only the current result.
    let gc = p.cloesce(&["cache", "gc", "--max-size", "1"]);
    gc.expect_code(0);
    let stats = p.cloesce(&["cache", "stats"]);
    assert!(
        stats.stdout.contains("action entries: 1"),
        "{}",
        stats.stdout
    );
    p.take_runs();
    p.remove("a.out");
    p.cloesce(&["run"]).expect_code(0);
    assert!(p.take_runs().is_empty(), "gc must keep the current result");
    let bad = p.cloesce(&["cache", "gc", "--max-size", "lots"]);
    bad.expect_code(2);
}

#[test]
fn json_events_are_one_object_per_line() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["a.out"], "")
    ));
    p.write("src.txt", "1\n");
    let run = p.cloesce(&["run", "--json"]);
    run.expect_code(0);
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(events[0]["event"], "started");
    assert_eq!(events[1]["event"], "finished");
    assert_eq!(events[1]["status"], "ran");
    assert_eq!(events[1]["reasons"][0]["reason"], "never_built");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "summary");
    assert_eq!(last["ran"], 1);
    assert_eq!(last["success"], true);
}

#[test]
fn plain_output_has_no_escape_codes() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["a.out"], "")
    ));
    p.write("src.txt", "1\n");
    let mut cmd = p.command(&["run"]);
    cmd.env_remove("NO_COLOR");
    let out = cmd.output().unwrap();
    assert!(!out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b));
}

#[test]
fn the_annotated_example_pipeline_parses_and_extends_the_default() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cloesce.kdl.example"
    ))
    .unwrap();
    let p = Project::new(&example);
    let run = p.cloesce(&["graph", "--format", "json"]);
    run.expect_code(0);
    let graph: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = graph["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for expected in [
        "extract",
        "validate",
        "d1",
        "wrangler",
        "workers",
        "client",
        "typecheck",
        "bundle-size",
        "deploy",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[test]
fn without_a_pipeline_file_the_default_pipeline_runs() {
    let p = Project::new("");
    std::fs::remove_file(p.path().join("cloesce.kdl")).unwrap();
    let run = p.cloesce(&["graph"]);
    run.expect_code(0);
    assert!(run.stdout.contains("cloesce/extract"), "{}", run.stdout);
}

#[test]
fn graph_dot_output_renders_with_graphviz() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}{}",
        step_rule("gen:a", &["src.txt"], &["a.out"], ""),
        step_rule("b", &["a.out"], &["b.out"], ""),
    ));
    let run = p.cloesce(&["graph", "--format", "dot"]);
    run.expect_code(0);
    let Some(svg) = crate::common::graphviz_svg(&run.stdout) else {
        return;
    };
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("b.out") || svg.contains(">b<"), "{svg}");
}

#[test]
fn the_store_stays_under_its_cap_after_each_run() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["a.out"], "")
    ));
    for i in 0..3 {
        p.write("src.txt", &format!("{i}\n"));
        p.cloesce_env(&["run"], &[("CLOESCE_CACHE_MAX_SIZE", "1")])
            .expect_code(0);
    }
    let stats = p.cloesce(&["cache", "stats"]);
    assert!(
        stats.stdout.contains("action entries: 1"),
        "{}",
        stats.stdout
    );
    // The current result survives eviction.
    p.take_runs();
    p.remove("a.out");
    p.cloesce(&["run"]).expect_code(0);
    assert!(p.take_runs().is_empty());
}
