//! `cloesce init`: write a commented `cloesce.kdl` that extends the default
//! pipeline, write a `tsconfig.json` with the decorators the models need when
//! there is none (or say what an existing one lacks), and make git ignore
//! `.cloesce/` and `.generated/`.

use cloesce_engine::host::Host;
use cloesce_engine::WorkspacePath;

use crate::commands::doctor::gitignore_covers;
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};
use crate::session::PIPELINE_FILE;
use crate::DOCS;
use cloesce_rules::tsconfig;

/// The file `cloesce init` writes. A test loads it, so it always loads.
pub const TEMPLATE: &str = r#"// cloesce.kdl: this project's pipeline. Reference: node_modules/cloesce/docs/pipeline.md.
// Without this file cloesce runs the built-in pipeline unchanged; with it you
// can change the built-in pipeline's settings and add rules of your own.
cloesce version=1

// The built-in Cloesce pipeline: extract → validate → d1, wrangler, workers,
// client. Uncomment a setting to change it (the values shown are the defaults).
use "cloesce:default" {
    // models "**/*.cloesce.ts"               // where the model files are
    // generated ".generated"                 // where every output goes
    // api_route "/api"                       // the Worker's route prefix
    // domain "http://localhost:8787/api"     // the base URL client.ts calls
    // wrangler_output ".generated/wrangler.toml"
    // migrations "migrations"                // the committed D1 migrations (node_modules/cloesce/docs/migrations.md)
}

// Environment variables every rule sees; their values enter every cache key.
// env "CLOESCE_ENV"

// A tool whose version (`node --version`) enters every cache key.
// tool "node"

// A rule of your own: it runs after the rules whose outputs it reads.
// rule "typecheck" {
//     description "type-check the generated worker and client"
//     inputs "tsconfig.json" ".generated/*.ts" "src/**/*.ts"
//     run "tsc" "--noEmit" "-p" "tsconfig.json"
// }
"#;

/// The lines `init` makes sure `.gitignore` has.
const IGNORED: &[&str] = &[".cloesce/", ".generated/"];

pub fn init<P: Platform>(platform: &P, dir: Option<&str>) -> Result<i32, Exit> {
    let project = platform
        .open_project(dir)
        .map_err(|e| Exit::environment(format!("error: cannot open the project: {e}\n")))?;
    let host = &project.host;
    let kdl = WorkspacePath::new(PIPELINE_FILE).expect("constant path");
    let write_error = |what: &str, e: std::io::Error| {
        Exit::environment(format!(
            "error: cannot write {what}: {e}\n  help: check that the project folder is writable\n"
        ))
    };
    match host.stat(&kdl) {
        Ok(Some(_)) => {
            return Err(Exit::user(format!(
                "error: {}/{PIPELINE_FILE} already exists; cloesce init leaves it as it is\n  help: edit it, or remove it and run `{} init` again ({DOCS}/pipeline.md describes the format)\n",
                project.root.trim_end_matches(['/', '\\']),
                platform.invocation()
            )))
        }
        Ok(None) => {}
        Err(e) => return Err(write_error(PIPELINE_FILE, e)),
    }
    host.write_atomic(&kdl, TEMPLATE.as_bytes(), false)
        .map_err(|e| write_error(PIPELINE_FILE, e))?;
    let mut out = format!("wrote {PIPELINE_FILE}\n");
    out.push_str(&ensure_tsconfig(host).map_err(|e| write_error(tsconfig::PATH, e))?);

    let gitignore = WorkspacePath::new(".gitignore").expect("constant path");
    let existing = match host.read(&gitignore) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(write_error(".gitignore", e)),
    };
    let text = existing.clone().unwrap_or_default();
    let missing: Vec<&str> = IGNORED
        .iter()
        .copied()
        .filter(|line| !gitignore_covers(&text, line.trim_end_matches('/')))
        .collect();
    if !missing.is_empty() {
        let mut new = text.clone();
        if !new.is_empty() && !new.ends_with('\n') {
            new.push('\n');
        }
        for line in &missing {
            new.push_str(line);
            new.push('\n');
        }
        host.write_atomic(&gitignore, new.as_bytes(), false)
            .map_err(|e| write_error(".gitignore", e))?;
        let verb = if existing.is_some() {
            "added"
        } else {
            "created .gitignore with"
        };
        out.push_str(&format!("{verb} {}\n", missing.join(" ")));
    }
    let cli = platform.invocation();
    out.push_str(&format!(
        "\nNext:\n  {cli} doctor    check the project (models, tools, wrangler config)\n  {cli} run       build it\n"
    ));
    platform.write(Stream::Stdout, &out);
    Ok(exit::SUCCESS)
}

/// Writes `tsconfig.json` when there is none; otherwise leaves it as it is
/// and says what it lacks for the models' decorators. Returns the lines to show.
fn ensure_tsconfig(host: &dyn Host) -> std::io::Result<String> {
    let path = WorkspacePath::new(tsconfig::PATH).expect("constant path");
    match host.read(&path) {
        Ok(bytes) => Ok(
            match tsconfig::decorators_problem(Some(&String::from_utf8_lossy(&bytes))) {
                Some(problem) => problem.warning(),
                None => String::new(),
            },
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            host.write_atomic(&path, tsconfig::TEMPLATE.as_bytes(), false)?;
            Ok(format!(
                "wrote {} (experimentalDecorators on: wrangler bundles the models with it)\n",
                tsconfig::PATH
            ))
        }
        Err(e) => Err(e),
    }
}
