//! The project's `tsconfig.json`, as far as the Worker build needs it.
//!
//! Model files use decorators, parameter decorators included
//! (`@Inject env: Env`). `wrangler dev` and `wrangler deploy` bundle the Worker
//! with esbuild, which compiles those only when the tsconfig that governs the
//! model files sets `compilerOptions.experimentalDecorators`; otherwise the
//! bundle fails with "Parameter decorators only work when experimental
//! decorators are enabled". esbuild finds that tsconfig by walking up from
//! each file, so it is the project's `tsconfig.json`. (wrangler's own
//! `tsconfig` setting cannot point at a generated one: wrangler 4 makes the
//! path relative to the working directory, and esbuild then resolves it from
//! the config's folder.)
//!
//! `cloesce init` writes [`TEMPLATE`] when there is none; the `wrangler`
//! built-in and `cloesce doctor` name the fix through [`decorators_problem`].

use serde_json::Value;

use crate::jsonc;

/// The project tsconfig's path.
pub const PATH: &str = "tsconfig.json";

/// The `tsconfig.json` that `cloesce init` writes: decorators on, the Workers
/// types, strict checks over the models and the generated TypeScript.
pub const TEMPLATE: &str = r#"{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ES2022",
    "moduleResolution": "bundler",
    "lib": ["ES2022"],
    "strict": true,
    "strictPropertyInitialization": false,
    "experimentalDecorators": true,
    "noEmit": true,
    "types": ["@cloudflare/workers-types"]
  }
}
"#;

/// Why the Worker bundle would fail on the models' decorators, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub fix: String,
}

impl Problem {
    /// The two lines a command shows for it: `warning: …` and `  fix: …`.
    pub fn warning(&self) -> String {
        format!("warning: {}\n  fix: {}\n", self.message, self.fix)
    }
}

/// What is wrong with the project's tsconfig (`None` when there is none) for
/// bundling decorated model files, or `None` when nothing is. A tsconfig that
/// does not parse, or that `extends` another without setting the option
/// itself, is not judged: tsc and esbuild report those better.
pub fn decorators_problem(tsconfig: Option<&str>) -> Option<Problem> {
    const SYMPTOM: &str = "`wrangler dev` and `wrangler deploy` would fail with \"Parameter \
                           decorators only work when experimental decorators are enabled\"";
    let Some(text) = tsconfig else {
        return Some(Problem {
            message: format!("there is no {PATH}, so {SYMPTOM}"),
            fix: format!(
                "run `npx cloesce init` to write one, or create {PATH} with \
                 {{ \"compilerOptions\": {{ \"experimentalDecorators\": true }} }}"
            ),
        });
    };
    let value = jsonc::to_value(&jsonc::parse(text.strip_prefix('\u{feff}').unwrap_or(text)).ok()?);
    let setting = value
        .get("compilerOptions")
        .and_then(|o| o.get("experimentalDecorators"));
    match setting {
        Some(Value::Bool(true)) => None,
        None if value.get("extends").is_some() => None,
        _ => Some(Problem {
            message: format!(
                "{PATH} does not set compilerOptions.experimentalDecorators to true, so {SYMPTOM}"
            ),
            fix: format!("add \"experimentalDecorators\": true to the compilerOptions of {PATH}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_enables_decorators() {
        assert_eq!(decorators_problem(Some(TEMPLATE)), None);
    }

    #[test]
    fn missing_off_and_unparsable() {
        let missing = decorators_problem(None).unwrap();
        assert!(missing.message.starts_with("there is no tsconfig.json"));
        assert!(missing.fix.contains("npx cloesce init"));
        let off = "// mine\n{ \"compilerOptions\": { \"strict\": true, }, }";
        let off = decorators_problem(Some(off)).unwrap();
        assert!(off.fix.contains("\"experimentalDecorators\": true"));
        let explicit_false = r#"{"compilerOptions": {"experimentalDecorators": false}}"#;
        assert!(decorators_problem(Some(explicit_false)).is_some());
        assert_eq!(decorators_problem(Some("{ nope")), None);
        assert_eq!(
            decorators_problem(Some(r#"{"extends": "./base.json"}"#)),
            None
        );
    }
}
