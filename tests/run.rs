//! `cloesce run` on hand-written pipelines: order, parallelism, failures.

use crate::common::{step_rule, Project};

fn pipeline(rules: &[String]) -> String {
    format!("cloesce version=1\n{}", rules.concat())
}

#[test]
fn diamond_runs_each_rule_once_in_dependency_order() {
    let p = Project::new(&pipeline(&[
        step_rule("a", &["src.txt"], &["a.out"], ""),
        step_rule("b", &["a.out"], &["b.out"], ""),
        step_rule("c", &["a.out"], &["c.out"], ""),
        step_rule("d", &["b.out", "c.out"], &["d.out"], ""),
    ]));
    p.write("src.txt", "x\n");
    p.cloesce(&["run"]).expect_code(0);
    let runs = p.take_runs();
    assert_eq!(runs.len(), 4, "{runs:?}");
    assert_eq!(runs[0], "a");
    assert_eq!(runs[3], "d");
    assert_eq!(p.read("d.out"), "d\nb\na\nx\nc\na\nx\n");
}

#[test]
fn wide_graph_runs_every_rule() {
    let rules: Vec<String> = (0..40)
        .map(|i| {
            step_rule(
                &format!("r{i:02}"),
                &[&format!("in/{i}.txt")],
                &[&format!("out/{i}.txt")],
                "",
            )
        })
        .collect();
    let p = Project::new(&pipeline(&rules));
    for i in 0..40 {
        p.write(&format!("in/{i}.txt"), &format!("{i}\n"));
    }
    p.cloesce(&["run", "--jobs", "4"]).expect_code(0);
    assert_eq!(p.take_runs_sorted().len(), 40);
    assert_eq!(p.read("out/7.txt"), "r07\n7\n");
}

#[test]
fn independent_rules_overlap_in_time() {
    let sleeper = |name: &str| {
        format!(
            "rule \"{name}\" {{\n    outputs \"{name}.times\"\n    run \"sh\" \"-c\" \"date +%s%N > {name}.times; sleep 1; date +%s%N >> {name}.times\"\n}}\n"
        )
    };
    let p = Project::new(&pipeline(&[sleeper("one"), sleeper("two")]));
    p.cloesce(&["run", "--jobs", "2"]).expect_code(0);
    let times = |name: &str| -> (u128, u128) {
        let text = p.read(&format!("{name}.times"));
        let v: Vec<u128> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
        (v[0], v[1])
    };
    let (s1, e1) = times("one");
    let (s2, e2) = times("two");
    assert!(
        s1 < e2 && s2 < e1,
        "the two rules did not overlap: one {s1}..{e1}, two {s2}..{e2}"
    );
    // And with one job they must not overlap.
    p.cloesce(&["run", "--jobs", "1", "--no-cache"])
        .expect_code(0);
    let (s1, e1) = times("one");
    let (s2, e2) = times("two");
    assert!(e1 <= s2 || e2 <= s1, "with --jobs 1 the rules overlapped");
}

#[test]
fn fail_fast_stops_new_rules_and_reports_the_command() {
    let p = Project::new(&pipeline(&[
        "rule \"broken\" {\n    outputs \"broken.out\"\n    run \"sh\" \"-c\" \"echo some context; echo the real problem >&2; exit 3\"\n}\n".to_string(),
        step_rule("after", &["broken.out"], &["after.out"], ""),
        step_rule("independent", &["src.txt"], &["independent.out"], ""),
    ]));
    p.write("src.txt", "x\n");
    let run = p.cloesce(&["run", "--jobs", "1"]);
    run.expect_code(1);
    assert!(
        p.take_runs().is_empty(),
        "nothing may start after the failure"
    );
    assert!(
        run.stderr.contains("rule `broken` failed: exit code 3"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the real problem"),
        "stderr tail missing: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("cloesce.kdl:4"),
        "no pointer to the definition: {}",
        run.stderr
    );
    assert!(run.stderr.contains("sh -c"), "argv missing: {}", run.stderr);
    assert!(run.stderr.contains("not started"), "{}", run.stderr);
}

#[test]
fn keep_going_runs_everything_not_downstream_of_the_failure() {
    let p = Project::new(&pipeline(&[
        "rule \"broken\" {\n    outputs \"broken.out\"\n    run \"sh\" \"-c\" \"exit 1\"\n}\n"
            .to_string(),
        step_rule("after", &["broken.out"], &["after.out"], ""),
        step_rule("independent", &["src.txt"], &["independent.out"], ""),
    ]));
    p.write("src.txt", "x\n");
    p.cloesce(&["run", "--keep-going", "--jobs", "1"])
        .expect_code(1);
    assert_eq!(p.take_runs(), vec!["independent"]);
    assert!(!p.exists("after.out"));
}

#[test]
fn a_rule_that_does_not_write_its_output_fails_and_names_the_file() {
    let p = Project::new(&pipeline(&[
        "rule \"lazy\" {\n    outputs \"promised.txt\"\n    run \"sh\" \"-c\" \"true\"\n}\n"
            .to_string(),
    ]));
    let run = p.cloesce(&["run"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("did not write promised.txt"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_program_is_a_clear_failure() {
    let p = Project::new(&pipeline(&[
        "rule \"gen\" {\n    outputs \"x\"\n    run \"definitely-not-a-program-xyz\" \"--flag\"\n}\n".to_string(),
    ]));
    let run = p.cloesce(&["run"]);
    run.expect_code(1);
    let flat = run.flat_stderr();
    assert!(
        flat.contains(
            "`definitely-not-a-program-xyz` was not found in node_modules/.bin or on PATH"
        ),
        "{flat}"
    );
    assert!(
        flat.contains("npm install -D definitely-not-a-program-xyz"),
        "{flat}"
    );
}

#[test]
fn programs_in_node_modules_bin_come_first() {
    let p = Project::new(&pipeline(&[
        "rule \"tool\" {\n    outputs \"tool.out\"\n    run \"mytool\"\n}\n".to_string(),
    ]));
    p.write(
        "node_modules/.bin/mytool",
        "#!/bin/sh\necho local > tool.out\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            p.path().join("node_modules/.bin/mytool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.read("tool.out"), "local\n");
}

#[test]
fn named_rules_run_with_only_what_they_need() {
    let p = Project::new(&pipeline(&[
        step_rule("a", &["src.txt"], &["a.out"], ""),
        step_rule("b", &["a.out"], &["b.out"], ""),
        step_rule("c", &["src.txt"], &["c.out"], ""),
    ]));
    p.write("src.txt", "x\n");
    p.cloesce(&["run", "b"]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["a", "b"]);
    let run = p.cloesce(&["run", "bb"]);
    run.expect_code(2);
    assert!(run.stderr.contains("did you mean `b`"), "{}", run.stderr);
}

#[test]
fn rules_see_only_allowlisted_and_declared_environment() {
    let p = Project::new(&pipeline(&[
        "rule \"env\" {\n    outputs \"env.txt\"\n    env \"DECLARED\"\n    run \"sh\" \"-c\" \"env > env.txt\"\n}\n".to_string(),
    ]));
    p.cloesce_env(
        &["run"],
        &[("CANARY_SECRET", "leak"), ("DECLARED", "visible")],
    )
    .expect_code(0);
    let env = p.read("env.txt");
    assert!(
        !env.contains("CANARY_SECRET"),
        "an undeclared variable reached the rule:\n{env}"
    );
    assert!(env.contains("DECLARED=visible"));
    assert!(env.contains("PATH="));
}

#[test]
fn grouped_output_is_shown_under_its_rule() {
    let p = Project::new(&pipeline(&[
        "rule \"talk\" {\n    outputs \"t\"\n    run \"sh\" \"-c\" \"echo hello from talk; touch t\"\n}\n".to_string(),
    ]));
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    let line = run
        .stdout
        .lines()
        .position(|l| l.contains("talk"))
        .expect("a line for the rule");
    assert!(
        run.stdout
            .lines()
            .nth(line + 1)
            .unwrap()
            .contains("hello from talk"),
        "{}",
        run.stdout
    );
}
