//! `cloesce doctor`: check the project without running or writing anything.
//!
//! Each check prints one line (`✓`/`✗`/`!` on a colour terminal, `ok`,
//! `FAIL`, `warn` otherwise) and, for a problem, what to do about it. The
//! built-in rules (`cloesce/extract`, `cloesce/validate`, …) are pure, so the
//! model files are compiled in memory: their diagnostics appear here exactly
//! as `cloesce run` would show them. Nothing is written: no pipeline cache,
//! no lock, no store repair.
//!
//! Exit code: 0 when every check passed (warnings allowed), 1 when one failed.

use std::collections::{BTreeMap, BTreeSet};

use cloesce_engine::builtin::{BuiltinRegistry, BuiltinRequest};
use cloesce_engine::graph::Graph;
use cloesce_engine::host::Host;
use cloesce_engine::job::resolve_program;
use cloesce_engine::lock::Verdict;
use cloesce_engine::pipeline::{self, Action, LoadOptions, Pipeline, Rule, SourceFile};
use cloesce_engine::shown::shown;
use cloesce_engine::store::{Store, DEFAULT_CAP_BYTES};
use cloesce_engine::walk;
use cloesce_engine::WorkspacePath;

use crate::commands::cache::human_bytes;
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};
use crate::render::Renderer;
use crate::session::PIPELINE_FILE;
use crate::DOCS;
use cloesce_rules::tsconfig;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the checklist, with details and a fix for a problem.
struct Check {
    level: Level,
    name: String,
    summary: String,
    /// Rendered diagnostics or extra lines, printed indented under the line.
    details: String,
    fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, summary: impl Into<String>) -> Check {
        Check {
            level: Level::Ok,
            name: name.into(),
            summary: summary.into(),
            details: String::new(),
            fix: None,
        }
    }

    fn problem(
        level: Level,
        name: impl Into<String>,
        summary: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            level,
            name: name.into(),
            summary: summary.into(),
            details: String::new(),
            fix: Some(fix.into()),
        }
    }

    fn with_details(mut self, details: String) -> Check {
        self.details = details;
        self
    }
}

/// Runs every check, prints the checklist and returns the exit code.
pub fn doctor<P: Platform>(
    platform: &P,
    dir: Option<&str>,
    renderer: Renderer,
) -> Result<i32, Exit> {
    let project = platform
        .open_project(dir)
        .map_err(|e| Exit::environment(format!("error: cannot open the project: {e}\n")))?;
    let host: &dyn Host = &project.host;
    let mut checks = Vec::new();

    let builtins = cloesce_rules::registry();
    let (loaded, pipeline_check) = check_pipeline(host, &builtins, renderer);
    checks.push(pipeline_check);
    // With a broken cloesce.kdl the other checks still run, on the default
    // pipeline, so one doctor run shows every problem.
    let loaded = loaded.or_else(|| {
        pipeline::load(&LoadOptions {
            user: None,
            library: cloesce_rules::library(),
            builtins: &builtins,
        })
        .ok()
        .and_then(|p| Graph::build(&p).ok().map(|g| (p, g)))
    });
    if let Some((pipeline, graph)) = &loaded {
        checks.extend(check_builtins(host, pipeline, graph, &builtins, renderer));
        checks.extend(check_tools(platform, host, &project.root, pipeline));
    }
    checks.push(check_wrangler(host));
    checks.push(check_tsconfig(host));
    checks.extend(check_store(host));
    checks.push(check_gitignore(host, loaded.as_ref().map(|(p, _)| p)));

    let mut out = format!("cloesce doctor: {}\n\n", project.root);
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in &checks {
        let mark = match (check.level, renderer.color) {
            (Level::Ok, true) => renderer.good("✓"),
            (Level::Warn, true) => renderer.warn("!"),
            (Level::Fail, true) => renderer.error_word("✗"),
            (Level::Ok, false) => "ok  ".to_string(),
            (Level::Warn, false) => "warn".to_string(),
            (Level::Fail, false) => "FAIL".to_string(),
        };
        // Details are rendered diagnostics, escaped by the renderer.
        out.push_str(&format!(
            "{mark} {:<width$}  {}\n",
            shown(&check.name),
            shown(&check.summary)
        ));
        for line in check.details.lines() {
            out.push_str(&format!("      {line}\n"));
        }
        if let Some(fix) = &check.fix {
            out.push_str(&format!("      fix: {}\n", shown(fix)));
        }
    }
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    let warned = checks.iter().filter(|c| c.level == Level::Warn).count();
    out.push('\n');
    out.push_str(&match (failed, warned) {
        (0, 0) => "cloesce doctor: everything looks right\n".to_string(),
        (0, w) => format!("cloesce doctor: no problems, {w} warning(s)\n"),
        (f, w) => format!("cloesce doctor: {f} problem(s), {w} warning(s)\n"),
    });
    platform.write(Stream::Stdout, &out);
    Ok(if failed > 0 {
        exit::RULE_FAILED
    } else {
        exit::SUCCESS
    })
}

/// Loads `cloesce.kdl` (or the default pipeline) without the pipeline cache.
fn check_pipeline(
    host: &dyn Host,
    builtins: &BuiltinRegistry,
    renderer: Renderer,
) -> (Option<(Pipeline, Graph)>, Check) {
    let name = "pipeline";
    let path = WorkspacePath::new(PIPELINE_FILE).expect("constant path");
    let user = match host.read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(SourceFile::new(PIPELINE_FILE, text)),
            Err(_) => {
                return (
                    None,
                    Check::problem(
                        Level::Fail,
                        name,
                        format!("{PIPELINE_FILE} is not valid UTF-8"),
                        "save it as UTF-8 text",
                    ),
                )
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return (
                None,
                Check::problem(
                    Level::Fail,
                    name,
                    format!("cannot read {PIPELINE_FILE}: {e}"),
                    "check the file's permissions",
                ),
            )
        }
    };
    let from = if user.is_some() {
        PIPELINE_FILE.to_string()
    } else {
        "the default pipeline (no cloesce.kdl)".to_string()
    };
    let options = LoadOptions {
        user,
        library: cloesce_rules::library(),
        builtins,
    };
    let result = pipeline::load(&options).and_then(|p| Graph::build(&p).map(|g| (p, g)));
    match result {
        Ok((pipeline, graph)) => {
            let summary = format!("{from} loads: {} rules", pipeline.rules.len());
            (Some((pipeline, graph)), Check::ok(name, summary))
        }
        Err(errors) => {
            let codes = errors.codes();
            let check = Check::problem(
                Level::Fail,
                name,
                format!(
                    "{from} has {} problem(s): {}",
                    errors.len(),
                    codes.join(", ")
                ),
                format!(
                    "fix each problem shown above ({DOCS}/troubleshooting.md explains every code)"
                ),
            )
            .with_details(renderer.diagnostic(&errors));
            (None, check)
        }
    }
}

/// Runs every built-in rule in memory, in graph order, on the project's
/// files (and the earlier built-ins' outputs): the model files' diagnostics.
fn check_builtins(
    host: &dyn Host,
    pipeline: &Pipeline,
    graph: &Graph,
    builtins: &BuiltinRegistry,
    renderer: Renderer,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let files = match walk::walk(host, &[None]) {
        Ok(files) => files,
        Err(e) => {
            checks.push(Check::problem(
                Level::Fail,
                "models",
                format!("cannot list the project's files: {e}"),
                "check the folder permissions",
            ));
            return checks;
        }
    };
    // Outputs written in memory by the built-ins checked so far.
    let mut overlay: BTreeMap<WorkspacePath, Vec<u8>> = BTreeMap::new();
    // Rules that failed, and everything after them, are not checked.
    let mut blocked: BTreeSet<usize> = BTreeSet::new();
    for &id in &graph.order {
        let rule = &pipeline.rules[id.index()];
        let Action::Builtin { name, settings } = &rule.action else {
            continue;
        };
        let Some(builtin) = builtins.get(&name.value) else {
            continue;
        };
        if graph.deps[id.index()]
            .iter()
            .any(|d| blocked.contains(&d.index()))
        {
            blocked.insert(id.index());
            continue;
        }
        let label = format!("rule {}", rule.name.value);
        let mut paths: BTreeSet<WorkspacePath> = files
            .iter()
            .filter(|f| rule.inputs.iter().any(|i| i.value.matches(f)))
            .cloned()
            .collect();
        paths.extend(
            overlay
                .keys()
                .filter(|f| rule.inputs.iter().any(|i| i.value.matches(f)))
                .cloned(),
        );
        let is_extract = name.value == "cloesce/extract";
        if is_extract {
            let models: Vec<&WorkspacePath> = paths
                .iter()
                .filter(|p| {
                    rule.inputs
                        .iter()
                        .any(|i| i.value.literal.is_none() && i.value.matches(p))
                })
                .collect();
            let globs = input_globs(rule);
            if models.is_empty() {
                checks.push(Check::problem(
                    Level::Fail,
                    "models",
                    format!("no model files match {}", globs.join(", ")),
                    format!("add a model, e.g. src/dog.cloesce.ts (see {DOCS}/guide.md), or set `models` in `use \"cloesce:default\" {{ … }}`"),
                ));
                blocked.insert(id.index());
                continue;
            }
            let list: Vec<&str> = models.iter().map(|p| p.as_str()).collect();
            checks.push(Check::ok(
                "models",
                format!("{} model file(s): {}", list.len(), list.join(", ")),
            ));
        }
        let mut inputs = Vec::new();
        let mut unreadable = None;
        for path in paths {
            let bytes = match overlay.get(&path) {
                Some(bytes) => Ok(bytes.clone()),
                None => host.read(&path),
            };
            match bytes {
                Ok(bytes) => inputs.push((path, bytes)),
                Err(e) => unreadable = Some(format!("cannot read {path}: {e}")),
            }
        }
        if let Some(message) = unreadable {
            checks.push(Check::problem(
                Level::Fail,
                label,
                message,
                "check the file's permissions",
            ));
            blocked.insert(id.index());
            continue;
        }
        let outputs: Vec<WorkspacePath> = rule.outputs.iter().map(|o| o.value.clone()).collect();
        let request = BuiltinRequest {
            rule: &rule.name.value,
            inputs: &inputs,
            outputs: &outputs,
            settings,
        };
        match builtin.run(&request) {
            Ok(output) => {
                for (path, bytes) in output.files {
                    overlay.insert(path, bytes);
                }
                // A built-in's warnings (e.g. the models differ from the
                // last migration) make the check a warning, with the text.
                if output.log.contains("warning:") {
                    checks.push(
                        Check::problem(
                            Level::Warn,
                            label,
                            format!("{} passes with warnings", name.value),
                            "see each warning above",
                        )
                        .with_details(output.log),
                    );
                } else {
                    checks.push(Check::ok(label, format!("{} passes", name.value)));
                }
            }
            Err(failure) => {
                let mut details = String::new();
                for d in &failure.diagnostics {
                    details.push_str(&renderer.diagnostic(d.as_ref()));
                }
                let fix = if is_extract || name.value == "cloesce/validate" {
                    "fix the model file at the place each diagnostic points to"
                } else {
                    "fix what each diagnostic points to"
                };
                checks.push(
                    Check::problem(
                        Level::Fail,
                        label,
                        format!(
                            "{} reports {} problem(s)",
                            name.value,
                            failure.diagnostics.len()
                        ),
                        fix,
                    )
                    .with_details(details),
                );
                blocked.insert(id.index());
            }
        }
    }
    checks
}

/// Every declared tool answers its version command; every `run` program is
/// found in node_modules/.bin or on PATH.
fn check_tools<P: Platform>(
    platform: &P,
    host: &dyn Host,
    root: &str,
    pipeline: &Pipeline,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut seen = BTreeSet::new();
    let tools = pipeline
        .tools
        .iter()
        .chain(pipeline.rules.iter().flat_map(|r| r.tools.iter()));
    for tool in tools {
        if !seen.insert(tool.version_argv.clone()) {
            continue;
        }
        let name = format!("tool {}", tool.name.value);
        match host.tool_version(&tool.version_argv) {
            Ok(version) => {
                let first = version.lines().next().unwrap_or("").to_string();
                checks.push(Check::ok(name, first));
            }
            Err(message) => checks.push(Check::problem(
                Level::Fail,
                name,
                format!("`{}` failed: {message}", tool.version_argv.join(" ")),
                format!(
                    "install `{0}` (e.g. `npm install -D {0}`) or put it on PATH",
                    tool.name.value
                ),
            )),
        }
    }
    let os = platform.os();
    let sep = if matches!(os, cloesce_engine::job::Os::Windows) {
        ";"
    } else {
        ":"
    };
    let bin = format!("{}/node_modules/.bin", root.trim_end_matches(['/', '\\']));
    let path_var = match platform
        .env_var("PATH")
        .or_else(|| platform.env_var("Path"))
    {
        Some(p) if !p.is_empty() => format!("{bin}{sep}{p}"),
        _ => bin,
    };
    let pathext = platform.env_var("PATHEXT");
    let mut programs = BTreeSet::new();
    for rule in &pipeline.rules {
        if let Action::Run { argv } = &rule.action {
            if let Some(program) = argv.value.first() {
                programs.insert((program.clone(), rule.name.value.clone()));
            }
        }
    }
    let mut done = BTreeSet::new();
    for (program, rule) in programs {
        if !done.insert(program.clone()) {
            continue;
        }
        let found = resolve_program(
            &program,
            root,
            Some(&path_var),
            pathext.as_deref(),
            os,
            &|p| platform.is_executable(p),
        );
        let name = format!("program {program}");
        match found {
            Some(path) => checks.push(Check::ok(name, path)),
            None => checks.push(Check::problem(
                Level::Fail,
                name,
                format!(
                    "{} (rule `{rule}` runs it)",
                    super::run::program_not_found(platform, &program, root, Some(&path_var))
                ),
                format!(
                    "install it (e.g. `npm install -D {program}`) or fix the rule's `run` line"
                ),
            )),
        }
    }
    checks
}

/// The user's wrangler config: present, parses, has a D1 binding.
fn check_wrangler(host: &dyn Host) -> Check {
    let name = "wrangler config";
    let mut found = Vec::new();
    for candidate in ["wrangler.toml", "wrangler.json", "wrangler.jsonc"] {
        let path = WorkspacePath::new(candidate).expect("constant path");
        if let Ok(bytes) = host.read(&path) {
            found.push((candidate, bytes));
        }
    }
    match found.as_slice() {
        [] => Check::problem(
            Level::Warn,
            name,
            "none (cloesce writes a minimal one with a D1 binding `db`)",
            format!("add a wrangler.toml with your Worker's name and D1 database to deploy (see {DOCS}/guide.md)"),
        ),
        [(file, bytes)] => {
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Check::problem(
                    Level::Fail,
                    name,
                    format!("{file} is not valid UTF-8"),
                    "save it as UTF-8",
                );
            };
            let parsed = if file.ends_with(".toml") {
                text.parse::<toml_edit::DocumentMut>()
                    .map(|doc| doc.get("d1_databases").is_some())
                    .map_err(|e| e.to_string())
            } else {
                json_has_d1(text)
            };
            match parsed {
                Ok(true) => Check::ok(name, format!("{file} parses and has a D1 binding")),
                Ok(false) => Check::problem(
                    Level::Warn,
                    name,
                    format!("{file} has no d1_databases"),
                    "add a [[d1_databases]] entry (binding = \"db\"); cloesce adds a local one meanwhile",
                ),
                Err(message) => Check::problem(
                    Level::Fail,
                    name,
                    format!("{file} does not parse: {}", message.trim()),
                    format!("fix the syntax of {file}"),
                ),
            }
        }
        several => Check::problem(
            Level::Fail,
            name,
            format!(
                "several configs: {}",
                several.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
            ),
            "keep exactly one of wrangler.toml, wrangler.json, wrangler.jsonc",
        ),
    }
}

/// The project's tsconfig.json lets wrangler bundle the decorated models.
fn check_tsconfig(host: &dyn Host) -> Check {
    let path = WorkspacePath::new(tsconfig::PATH).expect("constant path");
    let text = match host.read(&path) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Check::problem(
                Level::Fail,
                "tsconfig",
                format!("cannot read {}: {e}", tsconfig::PATH),
                "check the file's permissions",
            )
        }
    };
    match tsconfig::decorators_problem(text.as_deref()) {
        None => Check::ok("tsconfig", "tsconfig.json lets wrangler compile decorators"),
        Some(problem) => Check::problem(Level::Fail, "tsconfig", problem.message, problem.fix),
    }
}

/// JSON with comments (`//`, `/* */`) and trailing commas → has d1_databases?
fn json_has_d1(text: &str) -> Result<bool, String> {
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            clean.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    clean.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                clean.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        clean.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for n in chars.by_ref() {
                    if last == '*' && n == '/' {
                        break;
                    }
                    last = n;
                }
            }
            _ => clean.push(c),
        }
    }
    // Trailing commas before } or ].
    let mut out = String::with_capacity(clean.len());
    let bytes: Vec<char> = clean.chars().collect();
    let mut in_string = false;
    for (i, &c) in bytes.iter().enumerate() {
        if c == '"' && (i == 0 || bytes[i - 1] != '\\') {
            in_string = !in_string;
        }
        if c == ',' && !in_string {
            let next = bytes[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        out.push(c);
    }
    let value: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    Ok(value.get("d1_databases").is_some())
}

/// The store: every blob matches its digest, every entry parses and names
/// blobs that exist, the size fits the cap, and the lock. Read-only.
fn check_store(host: &dyn Host) -> Vec<Check> {
    let store_dir = Store::dir();
    match host.stat(&store_dir) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return vec![Check::ok(
                "store",
                ".cloesce/ does not exist yet (the first `cloesce run` creates it)",
            )]
        }
        Err(e) => {
            return vec![Check::problem(
                Level::Fail,
                "store",
                format!("cannot read .cloesce/: {e}"),
                "check the folder permissions",
            )]
        }
    }
    let mut checks = Vec::new();
    let store = Store::new(host);
    match store.check() {
        Ok(report) if report.removed.is_empty() => checks.push(Check::ok(
            "store integrity",
            format!(
                "{} blob(s) and {} action entr(ies) intact",
                report.blobs_checked, report.actions_checked
            ),
        )),
        Ok(report) => {
            let bad: Vec<String> = report
                .removed
                .iter()
                .map(|(path, why)| format!("{path}: {why}"))
                .collect();
            checks.push(
                Check::problem(
                    Level::Fail,
                    "store integrity",
                    format!("{} damaged item(s) in .cloesce/", bad.len()),
                    "run `cloesce cache verify` to remove them (the rules they cached run again)",
                )
                .with_details(bad.join("\n")),
            );
        }
        Err(e) => checks.push(Check::problem(
            Level::Fail,
            "store integrity",
            format!("cannot read .cloesce/: {e}"),
            "check the folder permissions",
        )),
    }
    match store.stats() {
        Ok(stats) if stats.total_bytes() > DEFAULT_CAP_BYTES => checks.push(Check::problem(
            Level::Warn,
            "store size",
            format!(
                "{} is over the cap of {}",
                human_bytes(stats.total_bytes()),
                human_bytes(DEFAULT_CAP_BYTES)
            ),
            "run `cloesce cache gc`",
        )),
        Ok(stats) => checks.push(Check::ok(
            "store size",
            format!(
                "{} of {}",
                human_bytes(stats.total_bytes()),
                human_bytes(DEFAULT_CAP_BYTES)
            ),
        )),
        Err(e) => checks.push(Check::problem(
            Level::Fail,
            "store size",
            format!("cannot list .cloesce/: {e}"),
            "check the folder permissions",
        )),
    }
    let lock = WorkspacePath::new(crate::commands::lock::LOCK_PATH).expect("constant path");
    match cloesce_engine::lock::inspect(host, &lock) {
        Ok(None) => checks.push(Check::ok("lock", "no run holds .cloesce/lock")),
        Ok(Some(Verdict::Held(Some(owner)))) => checks.push(Check::problem(
            Level::Warn,
            "lock",
            format!(".cloesce/lock is held by {owner}: a run is in progress"),
            "nothing to do: the next `cloesce run` waits for it (a lock taken on another host is never judged stale; delete it if no run is going on there)",
        )),
        Ok(Some(Verdict::Held(None))) => checks.push(Check::problem(
            Level::Warn,
            "lock",
            ".cloesce/lock names no process yet: a run is taking it",
            "nothing to do: if it stays empty, the next `cloesce run` takes it over after 10 s",
        )),
        Ok(Some(Verdict::Stale(why))) => checks.push(Check::ok(
            "lock",
            format!(".cloesce/lock is stale ({why}); the next `cloesce run` takes it over"),
        )),
        Err(e) => checks.push(Check::problem(
            Level::Warn,
            "lock",
            format!("cannot read .cloesce/lock: {e}"),
            "check the folder permissions",
        )),
    }
    checks
}

/// `.cloesce/` and the generated folders are listed in `.gitignore`.
fn check_gitignore(host: &dyn Host, pipeline: Option<&Pipeline>) -> Check {
    let mut dirs = vec![".cloesce".to_string()];
    if let Some(pipeline) = pipeline {
        for rule in &pipeline.rules {
            if let Action::Builtin { .. } = rule.action {
                for output in &rule.outputs {
                    if let Some((top, _)) = output.value.as_str().split_once('/') {
                        if !dirs.iter().any(|d| d == top) {
                            dirs.push(top.to_string());
                        }
                    }
                }
            }
        }
    }
    let text = host
        .read(&WorkspacePath::new(".gitignore").expect("constant path"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let missing: Vec<String> = dirs
        .iter()
        .filter(|d| !gitignore_covers(&text, d))
        .map(|d| format!("{d}/"))
        .collect();
    if missing.is_empty() {
        let list: Vec<String> = dirs.iter().map(|d| format!("{d}/")).collect();
        Check::ok(".gitignore", format!("ignores {}", list.join(" and ")))
    } else {
        Check::problem(
            Level::Warn,
            ".gitignore",
            format!("does not ignore {}", missing.join(" and ")),
            format!(
                "add {} to .gitignore (`cloesce init` does it)",
                missing.join(" and ")
            ),
        )
    }
}

/// True when a line of `.gitignore` ignores the top-level folder `dir`.
pub fn gitignore_covers(gitignore: &str, dir: &str) -> bool {
    let mut covered = false;
    for line in gitignore.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let pattern = pattern.trim_start_matches('/').trim_end_matches('/');
        let matches = pattern == dir
            || (pattern.contains(['*', '?', '['])
                && walk::compile_glob(pattern).is_ok_and(|m| m.is_match(dir)));
        if matches {
            covered = !negated;
        }
    }
    covered
}

/// A rule's glob inputs (not its literal paths), as written.
fn input_globs(rule: &Rule) -> Vec<&str> {
    rule.inputs
        .iter()
        .filter(|i| i.value.literal.is_none())
        .map(|i| i.value.glob.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{gitignore_covers, json_has_d1};
    use crate::platform::is_ignored;

    #[test]
    fn gitignore_lines_that_cover_a_folder() {
        for text in [".cloesce/\n", "/.cloesce\n", ".cloesce\n", "# x\n.c*\n"] {
            assert!(gitignore_covers(text, ".cloesce"), "{text:?}");
        }
        for text in [
            "",
            ".cloesce-old/\n",
            ".cloesce/\n!.cloesce/\n",
            "cloesce\n",
        ] {
            assert!(!gitignore_covers(text, ".cloesce"), "{text:?}");
        }
    }

    #[test]
    fn wrangler_jsonc_with_comments_and_trailing_commas() {
        let text = "{\n  // a comment\n  \"name\": \"x\", /* more */\n  \"d1_databases\": [{\"binding\": \"db\",},],\n}\n";
        assert_eq!(json_has_d1(text), Ok(true));
        assert_eq!(json_has_d1("{\"name\": \"a//b\"}"), Ok(false));
        assert!(json_has_d1("{").is_err());
    }

    #[test]
    fn ignored_paths_are_the_entry_and_below() {
        let ignore = vec![".cloesce".to_string(), ".generated/cidl.json".to_string()];
        assert!(is_ignored(".cloesce", &ignore));
        assert!(is_ignored(".cloesce/ac/00/x", &ignore));
        assert!(is_ignored(".generated/cidl.json", &ignore));
        assert!(!is_ignored(".cloesce-old/x", &ignore));
        assert!(!is_ignored(".generated/client.ts", &ignore));
    }
}
