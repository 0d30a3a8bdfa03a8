//! Paths, symlinks, encodings and hermeticity: a pipeline cannot make
//! cloesce read or write outside the project, model files in any common
//! encoding shape are handled, and keys depend on nothing undeclared.

use std::collections::BTreeSet;

use crate::common::{copy_dir, step_rule, Project};

#[test]
fn paths_that_escape_are_rejected_at_load() {
    let bad = [
        "../outside.txt",
        "a/../../outside.txt",
        "/etc/passwd",
        "C:\\\\Windows\\\\x",
        "C:x",
        "\\\\\\\\server\\\\share\\\\x",
        "x/../C:y",
    ];
    let mut kdl = String::from("cloesce version=1\n");
    for (i, path) in bad.iter().enumerate() {
        kdl.push_str(&format!(
            "rule \"in{i}\" {{\n    inputs \"{path}\"\n    outputs \"ok{i}.txt\"\n    run \"true\"\n}}\n"
        ));
        kdl.push_str(&format!(
            "rule \"out{i}\" {{\n    outputs \"{path}\"\n    run \"true\"\n}}\n"
        ));
        kdl.push_str(&format!(
            "rule \"glob{i}\" {{\n    inputs \"{path}/**/*.ts\"\n    outputs \"g{i}.txt\"\n    run \"true\"\n}}\n"
        ));
    }
    let p = Project::new(&kdl);
    let run = p.cloesce(&["run"]);
    run.expect_code(2);
    let flat = run.flat_stderr();
    // Every rule is reported, in one pass.
    for i in 0..bad.len() {
        for rule in [format!("in{i}"), format!("out{i}"), format!("glob{i}")] {
            assert!(
                flat.contains(&format!("cloesce.kdl:{}", line_of(&kdl, &rule))),
                "{rule} not reported:\n{flat}"
            );
        }
    }
    assert!(flat.contains("is absolute"), "{flat}");
    assert!(flat.contains("leaves the project"), "{flat}");
    assert!(!p.exists("ok0.txt"));
}

/// The line of the path written in rule `name`'s block (its 2nd line).
fn line_of(kdl: &str, name: &str) -> usize {
    kdl.lines()
        .position(|l| l.starts_with(&format!("rule \"{name}\" ")))
        .unwrap()
        + 2
}

#[cfg(unix)]
fn symlink(target: &std::path::Path, link: &std::path::Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[cfg(unix)]
#[test]
fn a_literal_input_linking_outside_the_project_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret\n").unwrap();
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("copy", &["in.txt"], &["out.txt"], "")
    ));
    symlink(&outside.path().join("secret.txt"), &p.path().join("in.txt"));
    let run = p.cloesce(&["run"]);
    run.expect_code(3);
    let flat = run.flat_stderr();
    assert!(flat.contains("outside the project"), "{flat}");
    assert!(flat.contains("in.txt"), "{flat}");
    assert!(!p.exists("out.txt"));
    assert!(!crate::common::store_text(p.path()).contains("secret"));
}

#[cfg(unix)]
#[test]
fn glob_inputs_do_not_follow_symlinks() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret\n").unwrap();
    let p = Project::new(
        "cloesce version=1\nrule \"cat\" {\n    inputs \"in/*.txt\"\n    outputs \"out.txt\"\n    run \"sh\" \"-c\" \"echo cat >> runs.log; ls in > out.txt\"\n}\n",
    );
    p.write("in/a.txt", "a\n");
    symlink(
        &outside.path().join("secret.txt"),
        &p.path().join("in/link.txt"),
    );
    symlink(outside.path(), &p.path().join("in/dir"));
    p.cloesce(&["run"]).expect_code(0);
    // Editing the file behind the link is invisible: not an input.
    std::fs::write(outside.path().join("secret.txt"), "changed\n").unwrap();
    p.take_runs();
    p.cloesce(&["run"]).expect_code(0);
    assert!(p.take_runs().is_empty());
}

#[cfg(unix)]
#[test]
fn no_write_or_delete_through_a_symlinked_output_folder() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("a.out"), "precious\n").unwrap();
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["gen/a.out"], "")
    ));
    p.write("src.txt", "x\n");
    // 1. Before the first run, `gen` links outside: the stale output is not
    //    deleted and the rule does not run.
    symlink(outside.path(), &p.path().join("gen"));
    let run = p.cloesce(&["run"]);
    run.expect_code(3);
    assert!(
        run.flat_stderr().contains("outside the project"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("a.out")).unwrap(),
        "precious\n"
    );
    assert!(p.take_runs().is_empty());

    // 2. After a good build, `gen` is swapped for a link: restoring must not
    //    write through it either.
    std::fs::remove_file(p.path().join("gen")).unwrap();
    p.cloesce(&["run"]).expect_code(0);
    std::fs::remove_dir_all(p.path().join("gen")).unwrap();
    symlink(outside.path(), &p.path().join("gen"));
    let run = p.cloesce(&["run"]);
    assert_ne!(run.code, 0);
    assert_eq!(
        std::fs::read_to_string(outside.path().join("a.out")).unwrap(),
        "precious\n"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn a_symlink_among_the_store_packs_is_never_written_through() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("pack");
    std::fs::write(&target, "precious\n").unwrap();
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["gen/a.out"], "")
    ));
    p.write("src.txt", "x\n");
    p.cloesce(&["run"]).expect_code(0);
    // A link to a file outside sits where the next run's pack would go
    // (number 2). The run reads nothing through it (the link leads outside)
    // and writes nothing through it: its entries go to another pack, and
    // hosts open a pack to append with O_NOFOLLOW besides.
    let ac = p.path().join(".cloesce/ac");
    let first: Vec<_> = std::fs::read_dir(&ac)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(first, ["0000000000000001.pack"], "{first:?}");
    symlink(&target, &ac.join("0000000000000002.pack"));
    p.write("src.txt", "y\n");
    p.cloesce(&["run"]);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn a_symlinked_output_file_is_replaced_not_written_through() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("target.txt"), "precious\n").unwrap();
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["a.out"], "")
    ));
    p.write("src.txt", "x\n");
    let replaced_and_target_untouched = || {
        assert_eq!(p.read("a.out"), "a\nx\n");
        assert!(!std::fs::symlink_metadata(p.path().join("a.out"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("target.txt")).unwrap(),
            "precious\n"
        );
    };
    symlink(&outside.path().join("target.txt"), &p.path().join("a.out"));
    p.cloesce(&["run"]).expect_code(0);
    replaced_and_target_untouched();
    // The rule is fresh now: a link planted in place of its output is
    // replaced by the recorded file (issue 12: this was exit 3 until the
    // input changed).
    p.take_runs();
    std::fs::remove_file(p.path().join("a.out")).unwrap();
    symlink(&outside.path().join("target.txt"), &p.path().join("a.out"));
    let run = p.cloesce(&["run", "--explain"]);
    run.expect_code(0);
    assert!(run.stdout.contains("restored a"), "{}", run.stdout);
    assert!(p.take_runs().is_empty(), "restored, not run");
    replaced_and_target_untouched();
    p.cloesce(&["run"]).expect_code(0);
    assert!(p.take_runs().is_empty(), "fresh after the restore");
}

#[cfg(unix)]
#[test]
fn a_symlinked_store_folder_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let p = Project::new(&format!(
        "cloesce version=1\n{}",
        step_rule("a", &["src.txt"], &["a.out"], "")
    ));
    p.write("src.txt", "x\n");
    symlink(outside.path(), &p.path().join(".cloesce"));
    let run = p.cloesce(&["run"]);
    run.expect_code(3);
    assert!(run.stderr.contains("outside the project"), "{}", run.stderr);
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

const MODEL: &str = "import { D1, PrimaryKey, WranglerEnv } from \"cloesce\";\n\n@WranglerEnv\nexport class Env {\n  db!: D1Database;\n}\n\n@D1\nexport class Horse {\n  @PrimaryKey\n  id!: number;\n  name!: string;\n}\n";

fn model_project(model: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.json"), "{ \"name\": \"enc\" }").unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/horse.cloesce.ts"), model).unwrap();
    dir
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> crate::common::Run {
    let out = std::process::Command::new(crate::common::cloesce_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn model_files_with_bom_and_crlf_build_like_plain_ones() {
    let plain = model_project(MODEL.as_bytes());
    run_in(plain.path(), &["run"]).expect_code(0);
    let mut bom_crlf = b"\xEF\xBB\xBF".to_vec();
    bom_crlf.extend(MODEL.replace('\n', "\r\n").bytes());
    let other = model_project(&bom_crlf);
    run_in(other.path(), &["run"]).expect_code(0);
    // Everything generated but the IR (which keeps source spans) is equal.
    for file in [".generated/wrangler.toml", ".generated/client.ts"] {
        let a = std::fs::read(plain.path().join(file));
        let b = std::fs::read(other.path().join(file));
        if let (Ok(a), Ok(b)) = (a, b) {
            assert_eq!(a, b, "{file}");
        }
    }
    let ir = |d: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join(".generated/cidl.json")).unwrap()).unwrap()
    };
    assert_eq!(ir(plain.path())["models"], ir(other.path())["models"]);
}

#[test]
fn a_model_file_that_is_not_utf8_is_a_clear_model_error() {
    let mut bytes = MODEL.as_bytes().to_vec();
    bytes.splice(100..100, [0xC3, 0x28, 0xFF]);
    let dir = model_project(&bytes);
    let run = run_in(dir.path(), &["run"]);
    run.expect_code(1);
    let flat = run.flat_stderr();
    assert!(flat.contains("is not valid UTF-8"), "{flat}");
    assert!(flat.contains("help:") || flat.contains("help"), "{flat}");
    assert!(!flat.contains("panicked"), "{flat}");
}

fn keys(p: &Project, env: &[(&str, &str)]) -> BTreeSet<String> {
    let run = p.cloesce_env(&["run", "--json", "--no-cache"], env);
    run.expect_code(0);
    run.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "finished")
        .map(|v| format!("{} {}", v["rule"], v["key"]))
        .collect()
}

#[test]
fn an_undeclared_canary_changes_no_key_and_reaches_no_rule() {
    let p = Project::new(&format!(
        "cloesce version=1\n{}{}",
        "rule \"env\" {\n    outputs \"env.txt\"\n    env \"DECLARED\"\n    run \"sh\" \"-c\" \"env | sed 's/=.*//' | sort > env.txt\"\n}\n",
        step_rule("b", &["env.txt"], &["b.txt"], ""),
    ));
    let without = keys(&p, &[("DECLARED", "1")]);
    let with = keys(
        &p,
        &[
            ("DECLARED", "1"),
            ("CANARY_SECRET", "leak"),
            // A value node accepts, so the npm build (which runs under
            // node) starts too; the rule must still not see it.
            ("NODE_OPTIONS", "--no-deprecation"),
            ("LD_PRELOAD", ""),
        ],
    );
    assert_eq!(without, with, "an undeclared variable changed a key");
    assert!(!p.read("env.txt").contains("CANARY"));
    assert!(!p.read("env.txt").contains("NODE_OPTIONS"));
    // A declared one does change its rule's key (and only through a digest).
    let declared = keys(&p, &[("DECLARED", "s3cr3t-value")]);
    assert_ne!(without, declared);
    assert!(!crate::common::store_text(p.path()).contains("s3cr3t"));
}

#[test]
fn the_same_project_at_two_paths_with_other_home_and_tmpdir_has_the_same_keys() {
    let a = Project::new(&format!(
        "cloesce version=1\n{}{}",
        step_rule("a", &["src/x.txt"], &["gen/a.out"], ""),
        step_rule("b", &["gen/a.out"], &["b.out"], ""),
    ));
    a.write("src/x.txt", "x\n");
    let b_dir = tempfile::tempdir().unwrap();
    let nested = b_dir.path().join("some/deeper/place");
    copy_dir(a.path(), &nested);
    let homes = tempfile::tempdir().unwrap();
    let run = |dir: &std::path::Path, tag: &str| {
        let home = homes.path().join(tag);
        std::fs::create_dir_all(&home).unwrap();
        let out = std::process::Command::new(crate::common::cloesce_bin())
            .args(["run", "--json"])
            .current_dir(dir)
            .env("HOME", &home)
            .env("TMPDIR", &home)
            .env("USER", tag)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        crate::common::recorded_keys(dir)
    };
    let first = run(a.path(), "one");
    let second = run(&nested, "two");
    assert_eq!(first.len(), 2);
    assert_eq!(
        first, second,
        "keys depend on the path, HOME, TMPDIR or USER"
    );
}
