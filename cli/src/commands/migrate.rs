//! `cloesce migrate`: writes the next D1 migration, and the first one that
//! `cloesce run` writes by itself in a project without any.
//!
//! The migrations folder is the `migrations` setting of the pipeline's
//! `cloesce/d1` rule (`migrations/` in the default pipeline). The command
//! brings the IR up to date by running that rule (and what it needs), reads
//! the checked history ([`History::load`]), diffs its last snapshot against
//! the current models ([`cloesce_rules::migrate::diff`]) and writes
//! `NNNN_NAME.sql` with its snapshot `NNNN_NAME.json`. Everything goes
//! through the `Host`, so the npm build runs the same code.

use cloesce_engine::host::{FileKind, Host};
use cloesce_engine::pipeline::{Action, Pipeline};
use cloesce_engine::shown::shown;
use cloesce_engine::WorkspacePath;
use cloesce_rules::diag::RuleDiagnostic;
use cloesce_rules::history::{self, History};
use cloesce_rules::migrate::{self, Options, Rename};
use cloesce_rules::schema::Schema;

use crate::args::{MigrateArgs, RunArgs};
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};
use crate::render::Renderer;
use crate::session::Session;
use crate::DOCS;

/// Where a pipeline keeps its migrations: from its `cloesce/d1` rule.
pub struct Setup {
    /// The d1 rule's name (to run it).
    pub rule: String,
    /// The migrations folder, workspace-relative.
    pub dir: String,
    /// The IR the d1 rule reads.
    pub ir: WorkspacePath,
}

impl Setup {
    /// The first `cloesce/d1` rule with a `migrations` setting and a literal
    /// `cidl.json` input; `None` when the pipeline has none.
    pub fn find(pipeline: &Pipeline) -> Option<Setup> {
        pipeline.rules.iter().find_map(|rule| {
            let Action::Builtin { name, settings } = &rule.action else {
                return None;
            };
            if name.value != "cloesce/d1" {
                return None;
            }
            let dir = settings.get("migrations")?;
            let ir = rule
                .inputs
                .iter()
                .filter_map(|i| i.value.literal.clone())
                .find(|p| p.file_name() == "cidl.json")?;
            Some(Setup {
                rule: rule.name.value.clone(),
                dir: dir.trim_end_matches('/').to_string(),
                ir,
            })
        })
    }

    /// The checked history, or every problem with it.
    pub fn history(&self, host: &dyn Host) -> Result<History, Vec<RuleDiagnostic>> {
        let io_error = |e: std::io::Error, what: &str| {
            vec![
                RuleDiagnostic::new("cloesce::migrate::io", format!("cannot read {what}: {e}"))
                    .with_help("check the folder's permissions"),
            ]
        };
        let dir = WorkspacePath::new(&self.dir).map_err(|e| {
            vec![RuleDiagnostic::new(
                "cloesce::migrate::folder",
                format!(
                    "the migrations folder `{}` is not a project path: {e}",
                    self.dir
                ),
            )
            .with_help("set `migrations` to a folder inside the project")]
        })?;
        let entries = match host.list_dir(Some(&dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(e, &self.dir)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let wanted = entry.name.ends_with(".sql") || entry.name.ends_with(".json");
            if entry.kind != FileKind::File || !wanted {
                continue;
            }
            let Ok(path) = dir.join(&entry.name) else {
                continue;
            };
            let bytes = host.read(&path).map_err(|e| io_error(e, path.as_str()))?;
            files.push((path.as_str().to_string(), bytes));
        }
        let borrowed: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        History::load(&self.dir, &borrowed)
    }

    /// The schema of the current models, from the IR the build wrote.
    pub fn current_schema(&self, host: &dyn Host) -> Result<Schema, String> {
        let bytes = host
            .read(&self.ir)
            .map_err(|e| format!("error: cannot read {}: {e}\n", self.ir))?;
        let ast = cloesce_rules::validate::load(&bytes, self.ir.as_str())
            .map_err(|f| format!("error: {} is not a valid IR: {f:?}\n", self.ir))?;
        Schema::from_ast(&ast).map_err(|p| format!("error: {}\n", p.message))
    }

    /// Writes a migration's two files; returns the `.sql` path.
    fn write(
        &self,
        host: &dyn Host,
        stem: &str,
        parent: Option<&history::Entry>,
        schema: &Schema,
        body: &str,
        changes: &[String],
    ) -> Result<String, Exit> {
        let (sql, json) = history::write(stem, parent, schema, body, changes);
        let sql_path = format!("{}/{stem}.sql", self.dir);
        for (path, bytes) in [
            (sql_path.clone(), sql),
            (format!("{}/{stem}.json", self.dir), json),
        ] {
            let at = WorkspacePath::new(&path)
                .map_err(|e| Exit::user(format!("error: {path} is not a project path: {e}\n")))?;
            host.write_atomic(&at, &bytes, false)
                .map_err(|e| Exit::environment(format!("error: cannot write {path}: {e}\n")))?;
        }
        Ok(sql_path)
    }
}

/// The wrangler config the default pipeline writes (for the hints).
fn wrangler_config(pipeline: &Pipeline) -> String {
    pipeline
        .rule("wrangler")
        .and_then(|(_, r)| r.outputs.first())
        .map(|o| o.value.to_string())
        .unwrap_or_else(|| ".generated/wrangler.toml".into())
}

fn render_all(renderer: Renderer, problems: &[RuleDiagnostic]) -> String {
    problems.iter().map(|d| renderer.diagnostic(d)).collect()
}

/// A migration name: letters, digits, `_` and `-`.
fn check_name(name: &str) -> Result<(), Exit> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Exit::user(format!(
            "error: `{name}` cannot name a migration\n  help: use letters, digits, `_` and `-`, e.g. `cloesce migrate add_phone`\n"
        )))
    }
}

fn parse_options(args: &MigrateArgs) -> Result<Options, Exit> {
    let mut options = Options {
        allow_drop: args.allow_drop,
        ..Options::default()
    };
    let mut errors = String::new();
    for r in &args.rename {
        match Rename::parse(r) {
            Ok(r) => options.renames.push(r),
            Err(e) => errors.push_str(&format!("error: {e}\n")),
        }
    }
    for d in &args.defaults {
        match migrate::parse_default(d) {
            Ok((key, value)) => {
                options.defaults.insert(key, value);
            }
            Err(e) => errors.push_str(&format!("error: {e}\n")),
        }
    }
    if errors.is_empty() {
        Ok(options)
    } else {
        Err(Exit::user(errors))
    }
}

/// Builds the d1 rule (and what it needs), printing only errors.
async fn build_d1<P: Platform>(
    platform: &P,
    session: &Session<P::Host>,
    setup: &Setup,
    renderer: Renderer,
) -> Result<i32, Exit> {
    let args = RunArgs::quiet(vec![setup.rule.clone()]);
    Box::pin(crate::commands::run::run(
        platform, session, &args, renderer, None,
    ))
    .await
}

/// On a terminal, asks about every field of a model that was removed while
/// another was added and that no `--rename` names: was it renamed (y/N)? A
/// yes adds the rename, and the pair's two fields are not asked about again.
/// Elsewhere ([`Platform::ask`] says no one can answer) nothing is asked and
/// a rename needs `--rename`, as it always does: renames are never guessed.
async fn ask_renames<P: Platform>(
    platform: &P,
    base: &Schema,
    current: &Schema,
    options: &mut Options,
) {
    let mut answered: Vec<(String, String)> = Vec::new();
    for candidate in migrate::rename_candidates(base, current, options) {
        let Rename::Column { table, from, to } = &candidate else {
            continue;
        };
        // (An old name is never a new one: `from` is gone, `to` is new.)
        let taken = |field: &String| answered.iter().any(|(t, f)| t == table && f == field);
        if taken(from) || taken(to) {
            continue;
        }
        let question = format!(
            "{}: was `{}` renamed to `{}`? (y/N) ",
            shown(table),
            shown(from),
            shown(to)
        );
        let Some(answer) = platform.ask(&question).await else {
            return;
        };
        if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            answered.push((table.clone(), from.clone()));
            answered.push((table.clone(), to.clone()));
            options.renames.push(candidate);
        }
    }
}

/// `cloesce migrate`.
pub async fn migrate<P: Platform>(
    platform: &P,
    dir: Option<&str>,
    args: &MigrateArgs,
    renderer: Renderer,
) -> Result<i32, Exit> {
    if let Some(name) = &args.name {
        check_name(name)?;
    }
    let options = parse_options(args)?;
    let session = Session::open(platform, dir, renderer, true)?;
    let result = migrate_in(platform, &session, args, options, renderer).await;
    std::mem::forget(session);
    result
}

async fn migrate_in<P: Platform>(
    platform: &P,
    session: &Session<P::Host>,
    args: &MigrateArgs,
    mut options: Options,
    renderer: Renderer,
) -> Result<i32, Exit> {
    let Some(setup) = Setup::find(&session.pipeline) else {
        return Err(Exit::user(
            "error: the pipeline has no `cloesce/d1` rule with a `migrations` setting\n  help: use the default pipeline (`use \"cloesce:default\"`), or add `migrations=\"migrations\"` to your `builtin \"cloesce/d1\"` node\n",
        ));
    };
    let host: &dyn Host = &session.project.host;
    let history = setup.history(host).map_err(|p| Exit {
        code: exit::RULE_FAILED,
        message: render_all(renderer, &p),
    })?;
    // Bring the IR up to date by building the d1 rule and what it needs;
    // errors in the model files are printed as `cloesce run` would.
    let code = build_d1(platform, session, &setup, renderer).await?;
    if code != exit::SUCCESS {
        return Ok(code);
    }
    let current = setup.current_schema(host).map_err(Exit::user)?;
    let last = history.entries.last();
    if args.check {
        let changes = migrate::changes(&history.schema(), &current);
        return Ok(match (changes.is_empty(), last) {
            (true, Some(last)) => {
                platform.write(
                    Stream::Stdout,
                    &format!(
                        "migrations are up to date: the models match {}/{}.sql\n",
                        setup.dir, last.stem
                    ),
                );
                exit::SUCCESS
            }
            _ => {
                let mut text = match last {
                    Some(last) => format!(
                        "error: the models differ from the last migration ({}/{}.sql):\n",
                        setup.dir, last.stem
                    ),
                    None => format!("error: {} holds no migrations yet\n", setup.dir),
                };
                for c in &changes {
                    text.push_str(&format!("  {c}\n"));
                }
                text.push_str(
                    "  help: run `cloesce migrate NAME` and commit the files it writes\n",
                );
                platform.write(Stream::Stderr, &text);
                exit::RULE_FAILED
            }
        });
    }
    let (base, parent, number, name) = if args.amend {
        let Some(latest) = last else {
            return Err(Exit::user(format!(
                "error: there is no migration to amend in {}\n  help: run `cloesce migrate NAME` to write the first one\n",
                setup.dir
            )));
        };
        let before = &history.entries[..history.entries.len() - 1];
        let old_name = latest
            .stem
            .split_once('_')
            .map(|(_, n)| n.to_string())
            .unwrap_or_default();
        (
            before
                .last()
                .map(|e| e.snapshot.schema.clone())
                .unwrap_or_default(),
            before.last(),
            latest.number,
            args.name.clone().unwrap_or(old_name),
        )
    } else {
        (
            history.schema(),
            last,
            history.entries.len() as u32 + 1,
            args.name.clone().unwrap_or_default(),
        )
    };
    ask_renames(platform, &base, &current, &mut options).await;
    let migration = migrate::diff(&base, &current, &options)
        .map_err(|p| Exit::user(render_all(renderer, &p)))?;
    if migration.changes.is_empty() && !args.amend {
        let at = last
            .map(|l| format!("{}/{}.sql", setup.dir, l.stem))
            .unwrap_or_else(|| setup.dir.clone());
        platform.write(
            Stream::Stdout,
            &format!("nothing to migrate: the models match {at}\n"),
        );
        return Ok(exit::SUCCESS);
    }
    let stem = format!("{number:04}_{name}");
    if args.amend {
        if let Some(latest) = last.filter(|l| l.stem != stem) {
            let (sql, json) = history.paths(&latest.stem);
            for path in [sql, json] {
                if let Ok(p) = WorkspacePath::new(&path) {
                    host.remove_file(&p).map_err(|e| {
                        Exit::environment(format!("error: cannot remove {path}: {e}\n"))
                    })?;
                }
            }
        }
    }
    let path = setup.write(
        host,
        &stem,
        parent,
        &current,
        &migration.sql,
        &migration.changes,
    )?;
    // The d1 rule read the folder before this migration: run it again, so
    // the next `cloesce run` finds everything fresh and no drift.
    let code = build_d1(platform, session, &setup, renderer).await?;
    if code != exit::SUCCESS {
        return Ok(code);
    }
    let mut text = format!("{} {path}\n", if args.amend { "rewrote" } else { "wrote" });
    for c in &migration.changes {
        text.push_str(&format!("  {c}\n"));
    }
    text.push_str(&format!(
        "\nNext:\n  npx wrangler d1 migrations apply db --local -c {}\n",
        wrangler_config(&session.pipeline)
    ));
    platform.write(Stream::Stdout, &text);
    Ok(exit::SUCCESS)
}

/// After a successful `cloesce run`: in a project without migrations,
/// writes the first one. A project built by an older cloesce, which kept
/// `<generated>/migrations/0001_cloesce.sql`, gets `0001_cloesce.sql`: the
/// name wrangler already recorded as applied. Returns what to print and
/// the d1 rule (which read the folder while it was empty).
pub fn write_first_if_missing(
    pipeline: &Pipeline,
    host: &dyn Host,
) -> Result<Option<(String, String)>, Exit> {
    let Some(setup) = Setup::find(pipeline) else {
        return Ok(None);
    };
    // Only the folder is listed: a run with a history reads no more.
    let has_files = WorkspacePath::new(&setup.dir)
        .ok()
        .and_then(|dir| host.list_dir(Some(&dir)).ok())
        .is_some_and(|entries| {
            entries
                .iter()
                .any(|e| e.name.ends_with(".sql") || e.name.ends_with(".json"))
        });
    if has_files {
        return Ok(None);
    }
    let Ok(current) = setup.current_schema(host) else {
        return Ok(None);
    };
    let legacy = setup
        .ir
        .as_str()
        .rsplit_once('/')
        .map(|(generated, _)| format!("{generated}/migrations/0001_cloesce.sql"))
        .unwrap_or_else(|| "migrations/0001_cloesce.sql".into());
    let legacy_bytes = WorkspacePath::new(&legacy)
        .ok()
        .and_then(|p| host.read(&p).ok());
    let stem = if legacy_bytes.is_some() {
        "0001_cloesce"
    } else {
        "0001_init"
    };
    let changes = migrate::changes(&Schema::default(), &current);
    let sql = current.to_sql();
    let path = setup.write(host, stem, None, &current, &sql, &changes)?;
    let Some(old) = legacy_bytes else {
        return Ok(Some((
            format!(
                "wrote {path}, the first migration: commit the {}/ folder\n",
                setup.dir
            ),
            setup.rule,
        )));
    };
    let same = String::from_utf8_lossy(&old)
        .lines()
        .filter(|l| !l.starts_with("--"))
        .eq(sql.lines());
    let mut text = format!(
        "adopted {legacy} (written by an older cloesce) as {path}: wrangler already recorded `0001_cloesce.sql` as applied, so databases built from it stay as they are. Commit the {}/ folder; {legacy} is no longer used.\n",
        setup.dir
    );
    if !same {
        text.push_str(&format!(
            "warning: the models changed since {legacy} was last written, so a database built from it lacks those changes.\n  help: for a local database, delete it (rm -rf .wrangler/state) and apply again; for a remote one, see {DOCS}/migrations.md (\"Projects from an older cloesce\")\n"
        ));
    }
    Ok(Some((text, setup.rule)))
}
