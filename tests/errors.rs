//! Error quality: one test per class of error, each asserting the message
//! names the cause and a fix (`help:`), with the documented exit code; and no
//! input of the fuzz corpora makes cloesce panic or print a stack trace.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{step_rule, Project, Run};

#[track_caller]
fn assert_good_error(run: &Run, code: i32, cause: &str) {
    run.expect_code(code);
    let flat = run.flat_stderr();
    assert!(flat.contains(cause), "cause `{cause}` not named:\n{flat}");
    assert!(flat.contains("help:"), "no `help:` line:\n{flat}");
    assert_no_panic(&run.stderr);
    assert_no_panic(&run.stdout);
}

#[track_caller]
fn assert_no_panic(text: &str) {
    for bad in ["panicked at", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!text.contains(bad), "`{bad}` in output:\n{text}");
    }
}

#[test]
fn pipeline_error() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("b", &["x"], &["y"], "    deps \"aa\"\n")
    ));
    assert_good_error(&p.cloesce(&["run"]), 2, "aa");
}

#[test]
fn rule_failure() {
    let p = Project::new(
        "cloesce version=1\nrule \"boom\" {\n    outputs \"o\"\n    run \"sh\" \"-c\" \"echo the cause >&2; exit 4\"\n}\n",
    );
    let run = p.cloesce(&["run"]);
    assert_good_error(&run, 1, "rule `boom` failed: exit code 4");
    assert!(run.stderr.contains("the cause"));
}

#[test]
fn missing_output() {
    let p = Project::new(
        "cloesce version=1\nrule \"lazy\" {\n    outputs \"promised.txt\"\n    run \"true\"\n}\n",
    );
    assert_good_error(&p.cloesce(&["run"]), 1, "did not write promised.txt");
}

#[test]
fn missing_program() {
    let p = Project::new(
        "cloesce version=1\nrule \"x\" {\n    outputs \"o\"\n    run \"no-such-program-xyz\"\n}\n",
    );
    assert_good_error(
        &p.cloesce(&["run"]),
        1,
        "`no-such-program-xyz` was not found",
    );
}

#[test]
fn lock_busy() {
    let p = Project::new(
        "cloesce version=1\nrule \"slow\" {\n    outputs \"o\"\n    run \"sh\" \"-c\" \"touch started; sleep 3; touch o\"\n}\n",
    );
    let mut first = p
        .command(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.exists("started") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_good_error(
        &p.cloesce(&["run", "--no-wait"]),
        3,
        "another cloesce run holds the project lock",
    );
    assert!(first.wait().unwrap().success());
}

#[test]
fn environment_error() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["big.txt"], &["a.out"], "")
    ));
    // Over 16 KiB, so a.out is a blob of its own, stored in `cas/`.
    p.write("big.txt", &"x".repeat(20_000));
    std::fs::create_dir_all(p.path().join(".cloesce")).unwrap();
    std::fs::write(p.path().join(".cloesce/cas"), "a file where a folder goes").unwrap();
    assert_good_error(&p.cloesce(&["run"]), 3, "writing to the store");
}

#[test]
fn model_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.json"), "{ \"name\": \"m\" }").unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/m.cloesce.ts"),
        "import { D1 } from \"cloesce\";\n@D1\nexport class NoKey {\n  name!: string;\n}\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::common::cloesce_bin())
        .arg("run")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_good_error(&run, 1, "src/m.cloesce.ts");
}

/// Issue #12: chained `/-` and deeply nested `/*` in `cloesce.kdl` overflowed
/// the stack (exit 134) in `run`, `graph` and `doctor`. Now each names the
/// place in cloesce.kdl, with a fix, and exits 2 (`doctor`: 1, a check that
/// failed).
#[test]
fn deep_slashdashes_and_comments_are_a_pipeline_error() {
    let p = Project::new("");
    for (text, cause, at) in [
        (
            format!("cloesce version=1\n{}x\n", "/- ".repeat(2_100)),
            "more than 32 `/-` follow one another",
            "cloesce.kdl:2:97",
        ),
        (
            format!("cloesce version=1\n{}\n", "/* ".repeat(3_700)),
            "`/*` comments that are never closed are nested more than 32 levels deep",
            "cloesce.kdl:2:97",
        ),
    ] {
        p.write("cloesce.kdl", &text);
        for command in ["run", "graph"] {
            let run = p.cloesce(&[command]);
            assert_good_error(&run, 2, cause);
            assert!(run.flat_stderr().contains(at), "{command}: {}", run.stderr);
        }
        // `doctor` reports on stdout.
        let doctor = p.cloesce(&["doctor"]);
        doctor.expect_code(1);
        assert!(
            doctor.stdout.contains(cause) && doctor.stdout.contains(at),
            "{}",
            doctor.stdout
        );
        assert_no_panic(&doctor.stderr);
    }
}

/// Issue #12: rule names and argv with control characters (an OSC title
/// sequence, colours, a bidi override) were printed raw to the terminal.
/// Every human-facing output shows them escaped; `--json` keeps them exact.
#[test]
fn control_characters_in_names_and_argv_are_shown_escaped() {
    let evil = r"\u{1b}]0;pwned\u{7}\u{1b}[31mred\u{202e}";
    let shown = r"\u{1b}]0;pwned\u{7}\u{1b}[31mred\u{202e}";
    let p = Project::new(&format!(
        "cloesce version=1\nrule \"ok{evil}\" {{\n    outputs \"a.txt\"\n    run \"sh\" \"-c\" \"echo > a.txt\" \"arg{evil}\"\n}}\nrule \"bad{evil}\" {{\n    deps \"ok{evil}\"\n    outputs \"b.txt\"\n    run \"sh\" \"-c\" \"exit 3\" \"arg{evil}\"\n}}\n"
    ));
    let raw = |text: &str| {
        text.chars()
            .any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{202e}')
    };
    let runs = [
        p.cloesce(&["run", "--verbose"]),
        p.cloesce(&["run", "--dry-run", "--explain"]),
        p.cloesce(&["graph"]),
        p.cloesce(&["graph", "--status"]),
        p.cloesce(&["graph", "--format", "dot"]),
        p.cloesce(&["graph", "--format", "mermaid"]),
        p.cloesce(&["explain", "ok\u{1b}]0;pwned\u{7}\u{1b}[31mred\u{202e}"]),
        p.cloesce(&["run", "nope"]),
        p.cloesce(&["doctor"]),
    ];
    for run in &runs {
        assert!(
            !raw(&run.stdout) && !raw(&run.stderr),
            "raw control characters:\n{:?}\n{:?}",
            run.stdout,
            run.stderr
        );
        assert_no_panic(&run.stderr);
    }
    // The failure names the rule and its command, escaped.
    let failed = &runs[0];
    failed.expect_code(1);
    assert!(
        failed.stderr.contains(&format!("rule `bad{shown}` failed")),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains(&format!("'arg{shown}'")),
        "{}",
        failed.stderr
    );
    assert!(
        runs[2].stdout.contains(&format!("ok{shown}")),
        "{}",
        runs[2].stdout
    );
    assert!(
        runs[7].stderr.contains(&format!("ok{shown}")),
        "{}",
        runs[7].stderr
    );
    // JSON keeps the exact name: it escapes control characters itself (a
    // bidi override is not a control character to JSON, and stays).
    let json = p.cloesce(&["run", "--json"]);
    assert!(
        !json.stdout.contains(['\u{1b}', '\u{7}']),
        "{}",
        json.stdout
    );
    assert!(
        json.stdout
            .contains(r#""rule":"bad\u001b]0;pwned\u0007\u001b[31mred"#),
        "{}",
        json.stdout
    );
}

/// Issue #12: a NUL in an argument reached the spawn and was reported as
/// "install the program". It is a pipeline error at load, with a span.
#[test]
fn a_nul_in_argv_is_a_pipeline_error_at_load() {
    let p = Project::new(
        "cloesce version=1\nrule \"x\" {\n    outputs \"o\"\n    run \"tou\\u{0}ch\" \"o\"\n}\n",
    );
    for command in ["run", "graph"] {
        let run = p.cloesce(&[command]);
        assert_good_error(
            &run,
            2,
            "argument 0 of `run` in rule `x` holds a NUL character",
        );
        let flat = run.flat_stderr();
        assert!(flat.contains("cloesce.kdl:4:9"), "{flat}");
        assert!(!flat.contains("install"), "{flat}");
    }
    assert!(!p.exists("o"));
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Up to `cap` files from each folder, sorted (a deterministic sample).
fn corpus(dirs: &[PathBuf], cap: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        // Spread the sample over the whole folder.
        let step = (files.len() / cap.max(1)).max(1);
        out.extend(files.into_iter().step_by(step).take(cap));
    }
    out
}

/// Every pipeline in the fuzz corpus (`fuzz/corpus/pipeline_load`, when
/// scripts/fuzz.sh ran here), the seeds and the golden fixtures, as
/// `cloesce.kdl`: `graph` (which loads and checks but runs nothing — a fuzzed
/// pipeline can name any command) must answer 0 or 2, never panic.
#[test]
fn no_panic_on_any_pipeline_of_the_corpus() {
    let r = repo();
    let mut files = corpus(
        &[
            r.join("fuzz/corpus/pipeline_load"),
            r.join("fuzz/seeds/pipeline_load"),
        ],
        150,
    );
    for entry in std::fs::read_dir(r.join("engine/tests/fixtures/pipeline")).unwrap() {
        files.push(entry.unwrap().path().join("cloesce.kdl"));
    }
    let p = Project::new("");
    let mut tried = 0;
    for file in files {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        std::fs::write(p.path().join("cloesce.kdl"), &bytes).unwrap();
        let _ = std::fs::remove_dir_all(p.path().join(".cloesce"));
        let run = p.cloesce(&["graph"]);
        assert!(
            [0, 2].contains(&run.code),
            "{}: exit {}\n{}",
            file.display(),
            run.code,
            run.stderr
        );
        assert_no_panic(&run.stderr);
        tried += 1;
    }
    eprintln!("pipelines tried: {tried}");
    assert!(tried > 10);
}

/// Every model file of the fuzz corpus, the seeds and the fixtures, built
/// by the default pipeline (built-ins only: nothing is executed): 0 or 1.
#[test]
fn no_panic_on_any_model_file_of_the_corpus() {
    let r = repo();
    let mut files = corpus(
        &[r.join("fuzz/corpus/extract"), r.join("fuzz/seeds/extract")],
        100,
    );
    for dir in ["rules/tests/fixtures", "examples"] {
        collect_models(&r.join(dir), &mut files);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.json"), "{ \"name\": \"corpus\" }").unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    let mut tried = 0;
    for file in files {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        std::fs::write(dir.path().join("src/m.cloesce.ts"), &bytes).unwrap();
        let out = std::process::Command::new(crate::common::cloesce_bin())
            .args(["run", "--no-cache"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}: {:?}\n{stderr}",
            file.display(),
            out.status
        );
        assert_no_panic(&stderr);
        tried += 1;
    }
    eprintln!("model files tried: {tried}");
    assert!(tried > 5);
}

fn collect_models(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("node_modules") {
            collect_models(&path, out);
        } else if path.to_string_lossy().ends_with(".cloesce.ts") {
            out.push(path);
        }
    }
}
