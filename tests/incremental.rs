//! Incremental builds, observed through what actually ran (runs.log) and the
//! bytes on disk.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{step_rule, Project};

/// src.txt -> a -> b ; other.txt -> c
fn chain() -> Project {
    let p = Project::new(&format!(
        "cloesce version=1\n{}{}{}",
        step_rule("a", &["src.txt"], &["gen/a.out"], ""),
        step_rule("b", &["gen/a.out"], &["gen/b.out"], ""),
        step_rule("c", &["other.txt"], &["gen/c.out"], "    env \"MODE\"\n"),
    ));
    p.write("src.txt", "one\n");
    p.write("other.txt", "other\n");
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.take_runs_sorted(), vec!["a", "b", "c"]);
    p
}

#[test]
fn second_run_runs_nothing() {
    let p = chain();
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(p.take_runs().is_empty());
    assert!(run.stdout.contains("3 fresh"), "{}", run.stdout);
}

/// Runs once more with `.cloesce/pipeline` deleted: an answer from the
/// witness says `summary` and never loads (so never rewrites) the pipeline.
#[track_caller]
fn assert_answered_by_the_witness(p: &Project, summary: &str) {
    p.remove(".cloesce/pipeline");
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(run.stdout.contains(summary), "{}", run.stdout);
    assert!(
        !p.exists(".cloesce/pipeline"),
        "the answer came from the witness: the pipeline was not loaded"
    );
}

#[test]
fn an_all_fresh_run_answers_the_next_one_without_loading_the_pipeline() {
    let p = chain();
    let files = ["src.txt", "other.txt", "gen/a.out", "gen/b.out"];
    let settle = || {
        // Old enough not to be "racy", then one all-fresh run: it leaves
        // .cloesce/witness.
        files.iter().for_each(|f| p.age(f));
        ["gen/c.out", "gen/c2.out"]
            .iter()
            .filter(|f| p.exists(f))
            .for_each(|f| p.age(f));
        p.cloesce(&["run"]).expect_code(0);
        assert!(p.take_runs().is_empty());
        assert!(p.exists(".cloesce/witness"));
    };
    settle();
    assert_answered_by_the_witness(&p, "3 fresh");
    // An edit still runs exactly what is downstream, and voids the witness.
    p.write("src.txt", "two\n");
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["a", "b"]);
    assert!(!p.exists(".cloesce/witness"));
    // So do a deleted output, a new version of cloesce.kdl and a declared
    // environment value.
    settle();
    p.remove("gen/b.out");
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(run.stdout.contains("1 restored"), "{}", run.stdout);
    assert_eq!(p.read("gen/b.out"), "b\na\ntwo\n");
    settle();
    let kdl = p.read("cloesce.kdl");
    p.write("cloesce.kdl", &kdl.replace("gen/c.out", "gen/c2.out"));
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["c"]);
    settle();
    p.cloesce_env(&["run"], &[("MODE", "prod")]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["c"]);
}

#[test]
fn touching_without_changing_runs_nothing() {
    let p = chain();
    p.age("src.txt");
    p.cloesce(&["run"]).expect_code(0);
    assert!(p.take_runs().is_empty());
}

#[test]
fn an_edit_runs_exactly_what_is_downstream() {
    let p = chain();
    p.write("src.txt", "two\n");
    let run = p.cloesce(&["run", "--explain"]);
    run.expect_code(0);
    assert_eq!(p.take_runs(), vec!["a", "b"]);
    assert!(
        run.stdout.contains("because input src.txt changed"),
        "{}",
        run.stdout
    );
    assert_eq!(p.read("gen/b.out"), "b\na\ntwo\n");
}

#[test]
fn early_cutoff_stops_when_an_output_is_reproduced() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}{}",
        // `a` reads notes.txt but its output does not depend on it.
        "rule \"a\" {\n    inputs \"src.txt\" \"notes.txt\"\n    outputs \"a.out\"\n    run \"sh\" \"-c\" \"echo a >> runs.log; cp src.txt a.out\"\n}\n",
        step_rule("b", &["a.out"], &["b.out"], ""),
    ));
    p.write("src.txt", "x\n");
    p.write("notes.txt", "1\n");
    p.cloesce(&["run"]).expect_code(0);
    p.take_runs();
    p.write("notes.txt", "2\n");
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["a"]);
}

#[test]
fn a_revert_runs_nothing_and_restores_the_earlier_outputs() {
    let p = chain();
    let original = p.read("gen/b.out");
    p.write("src.txt", "changed\n");
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["a", "b"]);
    p.write("src.txt", "one\n");
    let run = p.cloesce(&["run"]);
    run.expect_code(0);
    assert!(
        p.take_runs().is_empty(),
        "a revert must come from the store"
    );
    assert_eq!(p.read("gen/b.out"), original);
    assert!(run.stdout.contains("restored"), "{}", run.stdout);
}

#[test]
fn deleted_and_hand_edited_outputs_are_restored_without_running() {
    let p = chain();
    let a = p.read("gen/a.out");
    let b = p.read("gen/b.out");
    p.remove("gen/a.out");
    p.write("gen/b.out", "hand edit\n");
    p.cloesce(&["run"]).expect_code(0);
    assert!(p.take_runs().is_empty());
    assert_eq!(p.read("gen/a.out"), a);
    assert_eq!(p.read("gen/b.out"), b);
}

#[test]
fn declared_env_reruns_its_rule_only_and_undeclared_env_nothing() {
    let p = chain();
    p.cloesce_env(&["run"], &[("SOMETHING_ELSE", "1")])
        .expect_code(0);
    assert!(p.take_runs().is_empty());
    let run = p.cloesce_env(&["run", "--explain"], &[("MODE", "prod")]);
    run.expect_code(0);
    assert_eq!(p.take_runs(), vec!["c"]);
    assert!(
        run.stdout.contains("environment variable MODE changed"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("prod"),
        "env values must not be printed"
    );
    let store = crate::common::store_text(p.path());
    assert!(!store.contains("prod"), "an env value reached the store");
}

#[test]
fn cache_false_always_runs_and_no_cache_runs_all() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}{}",
        step_rule("a", &["src.txt"], &["a.out"], ""),
        step_rule("deploy", &["a.out"], &[], "    cache #false\n"),
    ));
    p.write("src.txt", "x\n");
    p.cloesce(&["run"]).expect_code(0);
    p.take_runs();
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["deploy"]);
    p.cloesce(&["run", "--no-cache"]).expect_code(0);
    assert_eq!(p.take_runs(), vec!["a", "deploy"]);
}

#[test]
fn dry_run_says_what_would_run_and_changes_nothing() {
    let p = chain();
    p.write("src.txt", "two\n");
    let run = p.cloesce(&["run", "--dry-run"]);
    run.expect_code(0);
    assert!(p.take_runs().is_empty());
    assert!(run.stdout.contains("would run a"), "{}", run.stdout);
    assert!(
        run.stdout.contains("dependency `a` runs first"),
        "{}",
        run.stdout
    );
    assert_eq!(p.read("gen/a.out"), "a\none\n");
}

#[test]
fn a_moved_project_still_hits_the_cache() {
    let p = chain();
    let moved = tempfile::tempdir().unwrap();
    crate::common::copy_dir(p.path(), moved.path());
    let run = std::process::Command::new(crate::common::cloesce_bin())
        .arg("run")
        .current_dir(moved.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(run.status.success());
    assert!(
        !moved.path().join("runs.log").exists(),
        "the moved project re-ran rules"
    );
    // Even with the outputs gone, they come back from the moved store.
    std::fs::remove_dir_all(moved.path().join("gen")).unwrap();
    let run = std::process::Command::new(crate::common::cloesce_bin())
        .arg("run")
        .current_dir(moved.path())
        .output()
        .unwrap();
    assert!(run.status.success());
    assert!(!moved.path().join("runs.log").exists());
    assert_eq!(
        std::fs::read_to_string(moved.path().join("gen/b.out")).unwrap(),
        "b\na\none\n"
    );
}

#[test]
fn a_corrupted_store_object_is_detected_and_rebuilt() {
    // A small output lives inside its action entry, a large one (over
    // INLINE_MAX bytes) in a blob of its own: damage each where it lives.
    let big = "one\n".repeat(5000);
    for (kind, text) in [("ac", "one\n"), ("cas", big.as_str())] {
        let p = chain();
        if p.read("src.txt") != text {
            p.write("src.txt", text);
            p.cloesce(&["run"]).expect_code(0);
            p.take_runs();
        }
        corrupt_all(&p.path().join(".cloesce").join(kind));
        p.remove("gen/a.out");
        p.cloesce(&["run"]).expect_code(0);
        assert_eq!(
            p.take_runs(),
            vec!["a"],
            "{kind}: the corrupt output must not be restored"
        );
        assert_eq!(p.read("gen/a.out"), format!("a\n{text}"));
    }
}

fn corrupt_all(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            corrupt_all(&path);
        } else {
            std::fs::write(&path, b"corrupted!").unwrap();
        }
    }
}

#[test]
fn truncated_state_and_action_entries_start_over() {
    let p = chain();
    std::fs::write(p.path().join(".cloesce/state"), b"cloe").unwrap();
    p.cloesce(&["run"]).expect_code(0);
    assert!(p.take_runs().is_empty(), "the action cache still answers");
    corrupt_all(&p.path().join(".cloesce/ac"));
    std::fs::remove_file(p.path().join(".cloesce/state")).unwrap();
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(p.take_runs_sorted(), vec!["a", "b", "c"]);
}

fn slow_pipeline() -> Project {
    let p = Project::new(
        "cloesce version=1\nrule \"slow\" {\n    inputs \"src.txt\"\n    outputs \"slow.out\"\n    run \"sh\" \"-c\" \"echo slow >> runs.log; sleep 1; echo partial > slow.out; sleep 1; cat src.txt > slow.out\"\n}\n",
    );
    p.write("src.txt", "content\n");
    p
}

#[test]
fn concurrent_runs_serialise_and_never_run_a_rule_twice() {
    let p = slow_pipeline();
    let children: Vec<_> = (0..3)
        .map(|_| {
            p.command(&["run"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(p.take_runs(), vec!["slow"]);
    assert_eq!(p.read("slow.out"), "content\n");
}

#[test]
fn no_wait_fails_at_once_when_the_lock_is_held() {
    let p = slow_pipeline();
    let mut first = p
        .command(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.exists("runs.log") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = p.cloesce(&["run", "--no-wait"]);
    second.expect_code(3);
    assert!(
        second
            .stderr
            .contains("another cloesce run holds the project lock"),
        "{}",
        second.stderr
    );
    assert!(first.wait().unwrap().success());
}

#[cfg(unix)]
#[test]
fn kill_9_in_the_middle_of_a_run_then_a_correct_run() {
    let p = slow_pipeline();
    let mut child = p.killable(&["run"]).spawn().unwrap();
    // Wait until the rule has written its partial output, then kill cloesce
    // and its children at once (as a crash of the whole session would).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(p.exists("slow.out") && p.read("slow.out") == "partial\n") && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let group = format!("-{}", child.id());
    std::process::Command::new("kill")
        .args(["-9", "--", &group])
        .status()
        .unwrap();
    child.wait().unwrap();
    p.take_runs();
    assert_eq!(p.read("slow.out"), "partial\n");
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(
        p.take_runs(),
        vec!["slow"],
        "an interrupted rule must run again"
    );
    assert_eq!(p.read("slow.out"), "content\n");
}

#[test]
fn a_new_model_file_is_seen_after_an_all_fresh_run_of_the_default_pipeline() {
    // The default pipeline finds model files with a glob: its witness
    // vouches for the folders it listed.
    let p = Project::example("kennel");
    p.cloesce(&["run"]).expect_code(0);
    let settle = || {
        // Past the racy window of what was just written and listed.
        std::thread::sleep(Duration::from_millis(250));
        p.cloesce(&["run"]).expect_code(0);
        std::thread::sleep(Duration::from_millis(250));
        assert!(p.exists(".cloesce/witness"));
    };
    settle();
    assert_answered_by_the_witness(&p, "6 fresh");
    // A second model file (a second @WranglerEnv: an error the extract
    // step reports) is found, not hidden behind the witness.
    let model = p.read("src/kennel.cloesce.ts");
    p.write("src/more.cloesce.ts", &model);
    let run = p.cloesce(&["run"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.flat_stderr().contains("WranglerEnv"), "{}", run.stderr);
    // Removed again: the failed build left the last good outputs, so
    // everything is fresh, and the witness is written again.
    p.remove("src/more.cloesce.ts");
    settle();
    assert_answered_by_the_witness(&p, "6 fresh");
}

/// The files of `.cloesce/memo/` (built-in memos) with their bytes.
fn memos(p: &Project) -> Vec<(String, Vec<u8>)> {
    let dir = p.path().join(".cloesce/memo");
    if !dir.exists() {
        return Vec::new();
    }
    crate::common::files_of(&dir)
}

/// `cloesce/extract` keeps what it read from each model file in a memo; the
/// next run parses only the files that changed. Its outputs are a clean
/// build's, and a run that fails leaves the memo as the last good run wrote it.
#[test]
fn the_extract_memo_gives_a_clean_builds_outputs_and_a_failed_run_keeps_it() {
    let p = Project::example("library");
    p.cloesce(&["run"]).expect_code(0);
    let first = memos(&p);
    assert_eq!(first.len(), 2, "extract's memo and d1's: {first:?}");

    let book = p.read("src/book.cloesce.ts");
    let column = "  name: string;\n";
    assert!(book.contains(column));
    p.write(
        "src/book.cloesce.ts",
        &book.replacen(column, "  name: string\n  ::\n", 1),
    );
    let failed = p.cloesce(&["run"]);
    assert_ne!(failed.code, 0, "a syntax error fails the run");
    assert_eq!(memos(&p), first, "a failed run writes no memo");

    p.write(
        "src/book.cloesce.ts",
        &book.replacen(column, "  name: string;\n  nickname: string | null;\n", 1),
    );
    p.cloesce(&["run"]).expect_code(0);
    assert_ne!(memos(&p), first, "the memo follows the last successful run");
    let generated = crate::common::files_of(&p.path().join(".generated"));
    assert!(generated
        .iter()
        .any(|(_, b)| String::from_utf8_lossy(b).contains("nickname")));

    std::fs::remove_dir_all(p.path().join(".cloesce")).unwrap();
    std::fs::remove_dir_all(p.path().join(".generated")).unwrap();
    p.cloesce(&["run"]).expect_code(0);
    assert_eq!(
        crate::common::files_of(&p.path().join(".generated")),
        generated,
        "a clean build writes the same bytes"
    );
}
