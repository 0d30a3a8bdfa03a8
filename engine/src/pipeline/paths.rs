//! Checking input globs and output paths: nothing absolute, nothing that
//! climbs out of the project, globs `globset` can compile.
//!
//! Output paths are [`WorkspacePath`]s and use its validation. Globs are not
//! paths, so they get the same rules here: `\` is read as `/`, `.` and empty
//! segments are dropped, `x/..` collapses, and a `..` that would climb above
//! the project root (or past a wildcard segment, where we cannot know) is
//! refused.

use crate::glob::GlobMatcher;
use crate::path::{is_absolute, PathError, WorkspacePath};

/// The characters that make a pattern a glob rather than a plain path.
pub(crate) const GLOB_META: &[char] = &['*', '?', '[', ']', '{', '}'];

/// Why a glob was refused before compiling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GlobPathError {
    Absolute,
    Escapes,
    Empty,
    Nul,
}

/// True when `segment` holds a glob metacharacter.
pub(crate) fn has_meta(segment: &str) -> bool {
    segment.contains(GLOB_META)
}

/// Normalises an input glob as written to the `/`-separated form matched
/// against workspace paths.
pub(crate) fn normalise_glob(raw: &str) -> Result<String, GlobPathError> {
    if raw.contains('\0') {
        return Err(GlobPathError::Nul);
    }
    if is_absolute(raw) {
        return Err(GlobPathError::Absolute);
    }
    let mut parts: Vec<&str> = Vec::new();
    for segment in raw.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => match parts.last() {
                Some(last) if !has_meta(last) => {
                    parts.pop();
                }
                _ => return Err(GlobPathError::Escapes),
            },
            // `x/../C:y` must not normalise to a drive path (as in path.rs).
            other if is_absolute(other) => return Err(GlobPathError::Absolute),
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err(GlobPathError::Empty);
    }
    Ok(parts.join("/"))
}

/// Compiles a normalised glob the way the engine matches inputs: `*` and `?`
/// stay within one folder, `**` crosses folders, matching is case-sensitive.
pub(crate) fn compile_glob(glob: &str) -> Result<GlobMatcher, globset::Error> {
    GlobMatcher::new(glob)
}

/// Why an output path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutputError {
    Path(PathError),
    Glob,
}

/// Checks one output path.
pub(crate) fn output_path(raw: &str) -> Result<WorkspacePath, OutputError> {
    if raw.contains(['*', '?']) {
        return Err(OutputError::Glob);
    }
    WorkspacePath::new(raw).map_err(OutputError::Path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_globs() {
        assert_eq!(normalise_glob("./src\\**\\*.ts").unwrap(), "src/**/*.ts");
        assert_eq!(normalise_glob("a/x/../b/*.ts").unwrap(), "a/b/*.ts");
        assert_eq!(
            normalise_glob("**/*.cloesce.ts").unwrap(),
            "**/*.cloesce.ts"
        );
    }

    #[test]
    fn refuses_escaping_and_absolute_globs() {
        assert_eq!(normalise_glob("../x/*.ts"), Err(GlobPathError::Escapes));
        assert_eq!(normalise_glob("**/../x"), Err(GlobPathError::Escapes));
        assert_eq!(
            normalise_glob("src/*/../../.."),
            Err(GlobPathError::Escapes)
        );
        assert_eq!(normalise_glob("/etc/*"), Err(GlobPathError::Absolute));
        assert_eq!(normalise_glob("C:\\x\\*"), Err(GlobPathError::Absolute));
        assert_eq!(normalise_glob("./"), Err(GlobPathError::Empty));
    }

    #[test]
    fn globs_match_within_and_across_folders() {
        let one = compile_glob("src/*.ts").unwrap();
        assert!(one.is_match("src/a.ts"));
        assert!(!one.is_match("src/x/a.ts"));
        let deep = compile_glob("**/*.cloesce.ts").unwrap();
        assert!(deep.is_match("a.cloesce.ts"));
        assert!(deep.is_match("src/m/a.cloesce.ts"));
        let below = compile_glob("gen/**").unwrap();
        assert!(below.is_match("gen/a.ts"));
        assert!(below.is_match("gen/a/b.ts"));
        assert!(!compile_glob("gen").unwrap().is_match("gen/a.ts"));
        assert!(compile_glob("src/[a.ts").is_err());
    }

    #[test]
    fn outputs_are_exact_paths() {
        assert_eq!(output_path("dist/*.js"), Err(OutputError::Glob));
        assert!(matches!(
            output_path("/abs"),
            Err(OutputError::Path(PathError::Absolute(_)))
        ));
        assert_eq!(output_path("a/./b").unwrap().as_str(), "a/b");
    }
}
