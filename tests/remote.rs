//! The remote cache against a real `turborepo-remote-cache` server (from npm,
//! installed once under the target folder, started per test on a free port
//! of 127.0.0.1 with local-disk storage, killed when the test ends).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::{step_rule, Project, Run};

const SERVER_PACKAGE: &str = "turborepo-remote-cache@2.12.0";
const TOKEN: &str = "test-token-1234";
const TEAM: &str = "cloesce-tests";

/// Where the server is installed (shared by every test and every run).
fn install_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("remote-cache-server")
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the server once (idempotent); `None` (with a loud message) when
/// node or npm is missing.
fn server_cli() -> Option<PathBuf> {
    static INSTALL: Mutex<()> = Mutex::new(());
    if !have("node") || !have("npm") {
        eprintln!("\n=== SKIPPED: the remote cache tests need `node` and `npm` on PATH ===\n");
        return None;
    }
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = install_dir();
    let cli = dir.join("node_modules/turborepo-remote-cache/dist/cli.js");
    if !cli.is_file() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("package.json"),
            "{\"name\":\"remote-cache-server\",\"private\":true}\n",
        )
        .unwrap();
        let status = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                SERVER_PACKAGE,
            ])
            .current_dir(&dir)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm install {SERVER_PACKAGE} failed");
    }
    assert!(
        cli.is_file(),
        "{} is missing after npm install",
        cli.display()
    );
    Some(cli)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server; killed on drop.
struct Server {
    child: Child,
    port: u16,
    storage: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Option<Server> {
        let cli = server_cli()?;
        let storage = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("node")
            .arg(&cli)
            .env("NODE_ENV", "production")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("STORAGE_PROVIDER", "local")
            .env("STORAGE_PATH", storage.path())
            .env("STORAGE_PATH_USE_TMP_FOLDER", "false")
            .env("TURBO_TOKEN", TOKEN)
            .env("LOG_LEVEL", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts the server");
        let server = Server {
            child,
            port,
            storage,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "turborepo-remote-cache did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The artifacts the server stored, with their sizes.
    fn artifacts(&self) -> Vec<(PathBuf, u64)> {
        let team = self.storage.path().join(TEAM);
        let mut out: Vec<(PathBuf, u64)> = std::fs::read_dir(&team)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.is_file())
                    .map(|p| {
                        let size = p.metadata().unwrap().len();
                        (p, size)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

/// Three rules in a chain plus one on its own.
fn kdl(remote_node: &str) -> String {
    format!(
        "cloesce version=1\n{remote_node}{}{}{}{}",
        step_rule("gen", &["src/a.txt"], &["out/gen.txt"], ""),
        step_rule("mid", &["out/gen.txt"], &["out/mid.txt"], ""),
        step_rule("top", &["out/mid.txt", "src/b.txt"], &["out/top.txt"], ""),
        step_rule(
            "alone",
            &["src/b.txt"],
            &["out/alone.txt", "out/alone2.txt"],
            ""
        ),
    )
}

const OUTPUTS: &[&str] = &[
    "out/gen.txt",
    "out/mid.txt",
    "out/top.txt",
    "out/alone.txt",
    "out/alone2.txt",
];

fn project(remote_node: &str) -> Project {
    let p = Project::new(&kdl(remote_node));
    p.write("src/a.txt", "alpha\n");
    p.write("src/b.txt", "beta\n");
    p
}

fn env<'a>(server_url: &'a str, token: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CLOESCE_REMOTE_CACHE_URL", server_url),
        ("CLOESCE_REMOTE_CACHE_TOKEN", token),
        ("CLOESCE_REMOTE_CACHE_TEAM", TEAM),
    ]
}

/// The `--json` summary line.
fn summary(run: &Run) -> serde_json::Value {
    let line = run
        .stdout
        .lines()
        .rev()
        .find(|l| l.contains("\"event\":\"summary\""))
        .unwrap_or_else(|| panic!("no summary in\n{}", run.stdout));
    serde_json::from_str(line).unwrap()
}

fn warnings(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect()
}

#[test]
fn a_fresh_copy_restores_every_rule_from_the_remote() {
    let Some(server) = Server::start() else {
        return;
    };
    // Configured in the file; the token comes from the variable it names.
    let node = format!(
        "remote-cache url=\"{}\" team=\"{TEAM}\" token-env=\"TEST_REMOTE_TOKEN\"\n",
        server.url()
    );
    let first = project(&node);
    let run = first.cloesce_env(&["run", "--json"], &[("TEST_REMOTE_TOKEN", TOKEN)]);
    run.expect_code(0);
    assert_eq!(first.take_runs_sorted(), ["alone", "gen", "mid", "top"]);
    assert_eq!(summary(&run)["uploaded"], 4, "{}", run.stdout);
    assert!(warnings(&run).is_empty(), "{}", run.stderr);
    let artifacts = server.artifacts();
    assert_eq!(artifacts.len(), 4, "{artifacts:?}");
    // What went into each key (digests of env values among it) stays local;
    // the local entries keep it.
    for (path, _) in &artifacts {
        let bytes = std::fs::read(path).unwrap();
        assert!(
            !bytes.windows(9).any(|w| w == b"key_input"),
            "{}",
            path.display()
        );
    }
    assert!(crate::common::store_text(first.path()).contains("key_input"));
    eprintln!(
        "artifact sizes: {:?}",
        artifacts.iter().map(|(_, s)| s).collect::<Vec<_>>()
    );

    // Another folder, an empty local store: nothing runs.
    let second = project(&node);
    let started = Instant::now();
    let run = second.cloesce_env(&["run", "--explain"], &[("TEST_REMOTE_TOKEN", TOKEN)]);
    let elapsed = started.elapsed();
    run.expect_code(0);
    eprintln!(
        "fresh-copy build from the remote: {elapsed:?}\n{}",
        run.stdout
    );
    assert_eq!(second.take_runs(), Vec::<String>::new(), "{}", run.stdout);
    assert!(
        run.stdout.contains("4 restored (4 remote)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("downloaded from the remote cache"),
        "{}",
        run.stdout
    );
    for output in OUTPUTS {
        assert_eq!(
            std::fs::read(first.path().join(output)).unwrap(),
            std::fs::read(second.path().join(output)).unwrap(),
            "{output}"
        );
    }
    // The restored results are now local: a no-op run is all fresh.
    let run = second.cloesce_env(&["run", "--json"], &[("TEST_REMOTE_TOKEN", TOKEN)]);
    run.expect_code(0);
    assert_eq!(summary(&run)["fresh"], 4);
    assert_eq!(summary(&run)["uploaded"], 0);

    // A third copy with --json: remote restores are counted.
    let third = project(&node);
    let run = third.cloesce_env(&["run", "--json"], &[("TEST_REMOTE_TOKEN", TOKEN)]);
    run.expect_code(0);
    assert_eq!(summary(&run)["remote_restored"], 4, "{}", run.stdout);
    assert!(run.stdout.contains("\"remote_hit\""), "{}", run.stdout);

    // --no-remote-cache: a fourth copy runs everything.
    let fourth = project(&node);
    fourth
        .cloesce_env(
            &["run", "--no-remote-cache"],
            &[("TEST_REMOTE_TOKEN", TOKEN)],
        )
        .expect_code(0);
    assert_eq!(fourth.take_runs_sorted(), ["alone", "gen", "mid", "top"]);
}

#[test]
fn a_server_that_is_down_costs_one_warning() {
    if server_cli().is_none() {
        return;
    }
    let url = format!("http://127.0.0.1:{}", free_port());
    let p = project("");
    let run = p.cloesce_env(&["run"], &env(&url, TOKEN));
    run.expect_code(0);
    assert_eq!(p.take_runs_sorted(), ["alone", "gen", "mid", "top"]);
    let w = warnings(&run);
    assert_eq!(w.len(), 1, "{}", run.stderr);
    assert!(w[0].contains("unreachable"), "{}", run.stderr);
    assert_eq!(p.read("out/top.txt"), "top\nmid\ngen\nalpha\nbeta\n");
}

#[test]
fn a_wrong_token_warns_and_restores_nothing() {
    let Some(server) = Server::start() else {
        return;
    };
    let url = server.url();
    let first = project("");
    first
        .cloesce_env(&["run"], &env(&url, TOKEN))
        .expect_code(0);
    assert_eq!(server.artifacts().len(), 4);

    let second = project("");
    let run = second.cloesce_env(&["run", "--json"], &env(&url, "not-the-token"));
    run.expect_code(0);
    assert_eq!(second.take_runs_sorted(), ["alone", "gen", "mid", "top"]);
    assert_eq!(summary(&run)["remote_restored"], 0);
    assert_eq!(summary(&run)["uploaded"], 0);
    let w = warnings(&run);
    assert_eq!(w.len(), 1, "{}", run.stderr);
    assert!(
        w[0].contains("refused the token (HTTP 401)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_corrupted_artifact_is_rejected_and_the_rule_runs() {
    let Some(server) = Server::start() else {
        return;
    };
    let url = server.url();
    let first = project("");
    first
        .cloesce_env(&["run"], &env(&url, TOKEN))
        .expect_code(0);
    // Damage every stored artifact: one byte in the middle of each.
    for (path, _) in server.artifacts() {
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(&path, bytes).unwrap();
    }
    let second = project("");
    let run = second.cloesce_env(&["run", "--json"], &env(&url, TOKEN));
    run.expect_code(0);
    assert_eq!(second.take_runs_sorted(), ["alone", "gen", "mid", "top"]);
    assert_eq!(summary(&run)["remote_restored"], 0);
    let w = warnings(&run);
    assert_eq!(w.len(), 1, "{}", run.stderr);
    assert!(
        w[0].contains("rejected a remote cache artifact"),
        "{}",
        run.stderr
    );
    for output in OUTPUTS {
        assert_eq!(first.read(output), second.read(output), "{output}");
    }
}

#[test]
fn read_only_mode_never_uploads() {
    let Some(server) = Server::start() else {
        return;
    };
    let url = server.url();
    let p = project("");
    let mut vars = env(&url, TOKEN);
    vars.push(("CLOESCE_REMOTE_CACHE_READ_ONLY", "1"));
    let run = p.cloesce_env(&["run", "--json"], &vars);
    run.expect_code(0);
    assert_eq!(summary(&run)["uploaded"], 0);
    assert!(warnings(&run).is_empty(), "{}", run.stderr);
    assert!(server.artifacts().is_empty(), "{:?}", server.artifacts());
    // The same project with uploads on fills the server.
    let q = project("");
    let run = q.cloesce_env(&["run", "--json"], &env(&url, TOKEN));
    assert_eq!(summary(&run)["uploaded"], 4);
    assert_eq!(server.artifacts().len(), 4);
}

#[test]
fn a_server_that_never_answers_is_given_up_on_in_bounded_time() {
    if server_cli().is_none() {
        return;
    }
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let p = project("");
    let mut vars = env(&url, TOKEN);
    vars.push(("CLOESCE_REMOTE_CACHE_TIMEOUT_MS", "1500"));
    let started = Instant::now();
    let run = p.cloesce_env(&["run"], &vars);
    let elapsed = started.elapsed();
    run.expect_code(0);
    assert_eq!(p.take_runs_sorted(), ["alone", "gen", "mid", "top"]);
    let w = warnings(&run);
    assert_eq!(w.len(), 1, "{}", run.stderr);
    assert!(w[0].contains("unreachable"), "{}", run.stderr);
    // The lookups time out together (1.5 s), then the run is local-only.
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    eprintln!("never-answering server: {elapsed:?}, {}", w[0]);
}

#[test]
fn a_wide_graph_goes_through_the_request_caps() {
    let Some(server) = Server::start() else {
        return;
    };
    let url = server.url();
    let rules: String = (0..40)
        .map(|i| {
            step_rule(
                &format!("r{i:02}"),
                &[&format!("in/{i}.txt")],
                &[&format!("out/{i}.txt")],
                "",
            )
        })
        .collect();
    let make = || {
        let p = Project::new(&format!("cloesce version=1\n{rules}"));
        for i in 0..40 {
            p.write(&format!("in/{i}.txt"), &format!("{i}\n"));
        }
        p
    };
    let first = make();
    let run = first.cloesce_env(&["run", "--json", "--jobs", "2"], &env(&url, TOKEN));
    run.expect_code(0);
    assert_eq!(summary(&run)["uploaded"], 40, "{}", run.stderr);
    let second = make();
    let run = second.cloesce_env(&["run", "--json", "--jobs", "2"], &env(&url, TOKEN));
    run.expect_code(0);
    assert_eq!(summary(&run)["remote_restored"], 40, "{}", run.stderr);
    assert!(second.take_runs().is_empty());
    assert_eq!(second.read("out/39.txt"), "r39\n39\n");
}
