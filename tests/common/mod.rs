//! Test helpers: a temporary project and a way to run cloesce in it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The step every test rule runs: `sh step.sh NAME OUT... -- IN...` appends
/// NAME to runs.log (not an input of anything) and writes each OUT as the
/// rule name followed by the inputs' contents.
pub const STEP_SH: &str = r#"name="$1"; shift
outs=""
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do outs="$outs $1"; shift; done
[ "$#" -gt 0 ] && shift
echo "$name" >> runs.log
for o in $outs; do
  mkdir -p "$(dirname "$o")"
  { echo "$name"; for i in "$@"; do cat "$i"; done; } > "$o"
done
"#;

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// stderr with miette's line wrapping undone: every line's leading
    /// spaces and frame characters removed, lines joined by one space.
    pub fn flat_stderr(&self) -> String {
        self.stderr
            .lines()
            .map(|l| l.trim_start_matches([' ', '│', '×', '·']).trim_end())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Fails the test with both streams when the exit code differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The binary under test: the native build, or whatever `CLOESCE_TEST_BIN`
/// names (scripts/test-npm.sh points it at a shim that runs the npm
/// package's `bin/cloesce.js` under node, so this whole suite also runs
/// against the WebAssembly build).
pub fn cloesce_bin() -> PathBuf {
    match std::env::var_os("CLOESCE_TEST_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => PathBuf::from(env!("CARGO_BIN_EXE_cloesce")),
    }
}

impl Project {
    /// An empty project with `step.sh` and the given `cloesce.kdl`.
    pub fn new(kdl: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = Project { dir };
        p.write("step.sh", STEP_SH);
        p.write("cloesce.kdl", kdl);
        p
    }

    /// An empty project: no cloesce.kdl, no step.sh.
    pub fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A copy of `examples/NAME` without node_modules, .cloesce, .generated.
    pub fn example(name: &str) -> Project {
        let p = Project::empty();
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(name);
        copy_dir_except(&from, p.path(), &["node_modules", ".cloesce", ".generated"]);
        p
    }

    /// Every file under the project with its bytes (to prove nothing changed).
    pub fn snapshot(&self) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                if entry.file_type().unwrap().is_dir() {
                    out.insert(path.clone(), Vec::new());
                    walk(&path, out);
                } else {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = std::collections::BTreeMap::new();
        walk(self.path(), &mut out);
        out
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path().join(rel).exists()
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path().join(rel)).unwrap();
    }

    /// Runs cloesce with `args` in the project; NO_COLOR, no CI noise.
    pub fn cloesce(&self, args: &[&str]) -> Run {
        self.cloesce_env(args, &[])
    }

    pub fn cloesce_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("cloesce runs"))
    }

    /// cloesce with `args` (one shell string) on a pseudo-terminal, through
    /// `script` (util-linux), in the project; what it prints (stdout and
    /// stderr, as the terminal shows them) is its stdout, and its stdin is
    /// typed on the terminal. NO_COLOR and CI are the caller's. `None` when
    /// `script` is missing, unless CLOESCE_REQUIRE_TOOLS.
    pub fn on_a_terminal(&self, args: &str) -> Option<Command> {
        if Command::new("script").arg("--version").output().is_err() {
            assert!(
                std::env::var_os("CLOESCE_REQUIRE_TOOLS").is_none(),
                "`script` (util-linux) is required"
            );
            eprintln!("!!!!! SKIPPED: no `script` command !!!!!");
            return None;
        }
        let mut cmd = Command::new("script");
        cmd.args([
            "-qec",
            &format!("{} {args}", cloesce_bin().display()),
            "/dev/null",
        ])
        .current_dir(self.path());
        Some(cmd)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cloesce_bin());
        cmd.args(args).current_dir(self.path()).env("NO_COLOR", "1");
        cmd
    }

    /// [`Project::command`] in a process group of its own, output
    /// discarded: a test can `kill -9` cloesce and its rules at once.
    #[cfg(unix)]
    pub fn killable(&self, args: &[&str]) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = self.command(args);
        cmd.process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    }

    /// Starts `cloesce run --watch`, its stdout and stderr going to
    /// `watch.out` and `watch.err` (neither is an input of anything).
    pub fn watch(&self) -> Watch {
        let stdout = self.path().join("watch.out");
        let stderr = self.path().join("watch.err");
        let child = self
            .command(&["run", "--watch"])
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Watch {
            child,
            stdout,
            stderr,
        }
    }

    /// The rules that ran since the last call, in order, and clears the log.
    pub fn take_runs(&self) -> Vec<String> {
        let log = self.path().join("runs.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_string).collect()
    }

    /// `take_runs`, sorted (for rules that run in parallel).
    pub fn take_runs_sorted(&self) -> Vec<String> {
        let mut runs = self.take_runs();
        runs.sort();
        runs
    }

    /// Sets a file's mtime far in the past so the racy-timestamp rule does
    /// not force a re-hash in fast tests (a real user's edits are seconds
    /// apart). Keeps the bytes.
    pub fn age(&self, rel: &str) {
        let file = std::fs::File::options()
            .write(true)
            .open(self.path().join(rel))
            .unwrap();
        file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
    }
}

/// A running `cloesce run --watch` ([`Project::watch`]).
pub struct Watch {
    pub child: std::process::Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Watch {
    /// The rounds finished so far (each ends saying it watches).
    pub fn rounds(&self) -> usize {
        std::fs::read_to_string(&self.stderr)
            .unwrap_or_default()
            .matches("watching for changes")
            .count()
    }
}

/// A rule line for a kdl pipeline using step.sh.
pub fn step_rule(name: &str, inputs: &[&str], outputs: &[&str], extra: &str) -> String {
    let q = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut argv = vec!["sh", "step.sh", name];
    argv.extend(outputs);
    argv.push("--");
    argv.extend(inputs);
    let mut s = format!("rule \"{name}\" {{\n");
    if !inputs.is_empty() {
        s.push_str(&format!("    inputs {}\n", q(inputs)));
    }
    if !outputs.is_empty() {
        s.push_str(&format!("    outputs {}\n", q(outputs)));
    }
    s.push_str(&format!("    run {}\n", q(&argv)));
    s.push_str(extra);
    s.push_str("}\n");
    s
}

/// Copies a folder tree (files and folders; symlinks are not expected).
pub fn copy_dir(from: &Path, to: &Path) {
    copy_dir_except(from, to, &[]);
}

/// Copies a folder tree, leaving out entries with the given names at any
/// depth (e.g. node_modules, .cloesce and .generated of an example).
pub fn copy_dir_except(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.contains(&name.to_str().unwrap_or("")) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir_except(&entry.path(), &target, skip);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Renders DOT text with Graphviz's `dot -Tsvg`. `None` (with a loud note)
/// when `dot` is not installed, unless `CLOESCE_REQUIRE_TOOLS` is set, as
/// scripts/test.sh does after installing it: then a missing `dot` fails.
pub fn graphviz_svg(dot_text: &str) -> Option<String> {
    use std::io::Write;
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(_) if std::env::var_os("CLOESCE_REQUIRE_TOOLS").is_none() => {
            eprintln!("!!!!! SKIPPED: graphviz `dot` is not installed !!!!!");
            return None;
        }
        Err(e) => panic!("graphviz `dot` is required (apt-get install graphviz): {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot_text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dot rejected the graph: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A tiny deterministic PRNG (xorshift64*), so fault tests are seeded.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Pids of live processes whose working folder is `dir` (Linux: /proc).
/// Every rule runs in the project root, so these are the processes a test
/// started there, directly or not.
#[cfg(target_os = "linux")]
pub fn processes_in(dir: &Path) -> Vec<i32> {
    let want = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // Zombies have no cwd link: they are not running anything.
        if std::fs::read_link(entry.path().join("cwd")).ok().as_deref() == Some(want.as_path()) {
            out.push(pid);
        }
    }
    out
}

/// Waits (bounded) until no process runs in `dir`, SIGKILLing stragglers
/// by pid after `grace`. Returns how many had to be killed.
#[cfg(target_os = "linux")]
pub fn reap_processes_in(dir: &Path, grace: std::time::Duration) -> usize {
    let deadline = std::time::Instant::now() + grace;
    loop {
        let left = processes_in(dir);
        if left.is_empty() {
            return 0;
        }
        if std::time::Instant::now() >= deadline {
            for pid in &left {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(*pid, libc::SIGKILL);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            return left.len();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every regular file under `dir` except `.cloesce/` and runs.log, as
/// (relative path, bytes), sorted.
pub fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel == ".cloesce" || rel == "runs.log" {
                continue;
            }
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(root, &path, out);
            } else if kind.is_file() {
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Everything in the project's `.cloesce/`, as lossy text (to look for
/// leaked values).
pub fn store_text(project: &Path) -> String {
    fn walk(dir: &Path, out: &mut String) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    let mut out = String::new();
    walk(&project.join(".cloesce"), &mut out);
    out
}

/// The action keys (hex) of the whole, sealed entries in the store packs
/// of the project at `dir` (`.cloesce/ac/*.pack`), sorted, once each.
pub fn recorded_keys(dir: &Path) -> Vec<String> {
    use cloesce_engine::pack;
    let mut keys = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir.join(".cloesce/ac"))
        .into_iter()
        .flatten()
    {
        let path = entry.unwrap().path();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for slot in pack::scan(&bytes).map(|s| s.records).unwrap_or_default() {
            let record = pack::record_bytes(&bytes, &slot).unwrap();
            if pack::open_record(record, &slot.key).is_some() {
                keys.insert(slot.key.to_hex());
            }
        }
    }
    keys.into_iter().collect()
}

/// The paths of the store packs of the project at `dir`, sorted.
pub fn pack_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir.join(".cloesce/ac"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}
