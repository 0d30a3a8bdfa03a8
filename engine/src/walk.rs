//! Finding the files an input glob matches.
//!
//! Literal input paths are checked with one `stat` each and never need a walk.
//! For real globs the project is walked once per build, through the `Host`,
//! starting only at the folders the globs can match in (the literal prefix of
//! each glob: `src/**/*.ts` walks `src/`). The walk skips `.git`, `.cloesce`
//! and `node_modules`, and everything the project's `.gitignore` files ignore
//! (matched with the `ignore` crate's gitignore engine). Symlinks are not
//! followed, and only regular files are returned. Files declared as outputs
//! of rules are matched separately (see `build.rs`), so a glob such as
//! `.generated/*.ts` finds generated files even when `.generated/` is ignored.
//! Temporary files a host may leave beside an output
//! ([`crate::staging::is_temporary`]) are never listed.

use std::collections::BTreeSet;

use globset::Glob;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::glob::GlobMatcher;
use crate::host::{FileKind, FileStat, Host};
use crate::path::WorkspacePath;

/// Folders never walked into.
pub const ALWAYS_SKIPPED: &[&str] = &[".git", ".cloesce", "node_modules"];

/// Compiles a pipeline glob: `*` stays within one folder, `**` crosses them.
pub fn compile_glob(glob: &str) -> Result<GlobMatcher, globset::Error> {
    GlobMatcher::new(glob)
}

/// True when `glob` has no glob metacharacters, so it names one path.
pub fn is_literal(glob: &str) -> bool {
    !glob.contains(['*', '?', '[', ']', '{', '}'])
}

/// The folder a glob's matches must lie under (`None` = the project root).
pub fn glob_base(glob: &str) -> Option<WorkspacePath> {
    let literal: Vec<&str> = glob
        .split('/')
        .take_while(|segment| is_literal(segment))
        .collect();
    // The last literal segment may be a file name, not a folder.
    let folders = if literal.len() == glob.split('/').count() {
        &literal[..literal.len().saturating_sub(1)]
    } else {
        &literal[..]
    };
    if folders.is_empty() {
        None
    } else {
        WorkspacePath::new(&folders.join("/")).ok()
    }
}

/// What a walk looked at, stat-ed just before it listed or read it (for the
/// witness: a folder whose stat is unchanged lists the same entries).
#[derive(Debug, Clone)]
pub enum Looked {
    /// A folder it listed (`None` = the root), or found missing.
    Folder(Option<WorkspacePath>, Option<FileStat>),
    /// A `.gitignore` it read, or found missing.
    File(WorkspacePath, Option<FileStat>),
}

/// Lists every regular file under `bases` (each `None` = the whole project),
/// sorted, honouring `.gitignore` files.
pub fn walk(
    host: &dyn Host,
    bases: &[Option<WorkspacePath>],
) -> std::io::Result<Vec<WorkspacePath>> {
    walk_looking(host, bases, &mut |_| {})
}

/// [`walk`], telling `look` about every folder and `.gitignore` it looked at.
pub fn walk_looking(
    host: &dyn Host,
    bases: &[Option<WorkspacePath>],
    look: &mut dyn FnMut(Looked),
) -> std::io::Result<Vec<WorkspacePath>> {
    let mut starts: Vec<Option<WorkspacePath>> = bases.to_vec();
    starts.sort();
    starts.dedup();
    // A walk of the root covers every other base.
    if starts.iter().any(|b| b.is_none()) {
        starts = vec![None];
    } else {
        // Drop bases below another base.
        let all = starts.clone();
        starts.retain(|b| {
            let b = b.as_ref().expect("no root here");
            !all.iter()
                .flatten()
                .any(|other| other != b && b.starts_with(other))
        });
    }
    let mut files = BTreeSet::new();
    for start in &starts {
        let ignores = ignores_above(host, start.as_ref(), look)?;
        walk_dir(host, start.clone(), ignores, &mut files, look)?;
    }
    Ok(files.into_iter().collect())
}

/// A `.gitignore` with the folder it sits in.
struct IgnoreFile {
    dir: Option<WorkspacePath>,
    rules: Gitignore,
}

fn read_gitignore(
    host: &dyn Host,
    dir: Option<&WorkspacePath>,
    look: &mut dyn FnMut(Looked),
) -> std::io::Result<Option<IgnoreFile>> {
    let path = match dir {
        Some(d) => d.join(".gitignore"),
        None => WorkspacePath::new(".gitignore"),
    }
    .map_err(std::io::Error::other)?;
    look(Looked::File(path.clone(), host.stat(&path)?));
    let bytes = match host.read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut builder = GitignoreBuilder::new("");
    for line in text.lines() {
        // A malformed line is skipped, as git does.
        let _ = builder.add_line(None, line);
    }
    Ok(builder.build().ok().map(|rules| IgnoreFile {
        dir: dir.cloned(),
        rules,
    }))
}

/// The `.gitignore` files of `start` and every folder above it.
fn ignores_above(
    host: &dyn Host,
    start: Option<&WorkspacePath>,
    look: &mut dyn FnMut(Looked),
) -> std::io::Result<Vec<IgnoreFile>> {
    let mut dirs = vec![None];
    if let Some(start) = start {
        let mut acc = String::new();
        for segment in start.as_str().split('/') {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(segment);
            dirs.push(WorkspacePath::new(&acc).ok());
        }
        dirs.pop(); // `start` itself is read by walk_dir
    }
    let mut out = Vec::new();
    for dir in dirs {
        if let Some(file) = read_gitignore(host, dir.as_ref(), look)? {
            out.push(file);
        }
    }
    Ok(out)
}

fn is_ignored(ignores: &[IgnoreFile], path: &WorkspacePath, is_dir: bool) -> bool {
    let mut ignored = false;
    for file in ignores {
        let relative = match &file.dir {
            None => path.as_str(),
            Some(dir) if path.starts_with(dir) && path != dir => {
                &path.as_str()[dir.as_str().len() + 1..]
            }
            Some(_) => continue,
        };
        let m = file.rules.matched(relative, is_dir);
        if m.is_ignore() {
            ignored = true;
        } else if m.is_whitelist() {
            ignored = false;
        }
    }
    ignored
}

fn walk_dir(
    host: &dyn Host,
    dir: Option<WorkspacePath>,
    mut ignores: Vec<IgnoreFile>,
    files: &mut BTreeSet<WorkspacePath>,
    look: &mut dyn FnMut(Looked),
) -> std::io::Result<()> {
    look(Looked::Folder(dir.clone(), host.stat_dir(dir.as_ref())?));
    let entries = match host.list_dir(dir.as_ref()) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if entries.iter().any(|e| e.name == ".gitignore") {
        if let Some(file) = read_gitignore(host, dir.as_ref(), look)? {
            ignores.push(file);
        }
    }
    let mut subdirs = Vec::new();
    for entry in entries {
        let path = match &dir {
            Some(d) => d.join(&entry.name),
            None => WorkspacePath::new(&entry.name),
        };
        let Ok(path) = path else { continue };
        match entry.kind {
            FileKind::Dir => {
                if ALWAYS_SKIPPED.contains(&entry.name.as_str())
                    || is_ignored(&ignores, &path, true)
                {
                    continue;
                }
                subdirs.push(path);
            }
            FileKind::File => {
                // A host's fallback temporary file is never an input.
                if !crate::staging::is_temporary(&entry.name) && !is_ignored(&ignores, &path, false)
                {
                    files.insert(path);
                }
            }
            FileKind::Symlink => {}
        }
    }
    subdirs.sort();
    for sub in subdirs {
        let nested: Vec<IgnoreFile> = ignores
            .iter()
            .map(|f| IgnoreFile {
                dir: f.dir.clone(),
                rules: f.rules.clone(),
            })
            .collect();
        walk_dir(host, Some(sub), nested, files, look)?;
    }
    Ok(())
}

/// Checks a glob compiles (used by the pipeline loader as well).
pub fn check_glob(glob: &str) -> Result<(), globset::Error> {
    Glob::new(glob).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;

    #[test]
    fn glob_base_is_the_literal_folder_prefix() {
        assert_eq!(glob_base("src/**/*.ts").unwrap().as_str(), "src");
        assert_eq!(glob_base("a/b/*.ts").unwrap().as_str(), "a/b");
        assert_eq!(glob_base("**/*.cloesce.ts"), None);
        assert_eq!(glob_base("*.ts"), None);
    }

    #[test]
    fn star_does_not_cross_folders_but_double_star_does() {
        let m = compile_glob("src/*.ts").unwrap();
        assert!(m.is_match("src/a.ts"));
        assert!(!m.is_match("src/x/a.ts"));
        let m = compile_glob("**/*.cloesce.ts").unwrap();
        assert!(m.is_match("a.cloesce.ts"));
        assert!(m.is_match("src/deep/a.cloesce.ts"));
    }

    #[test]
    fn walk_honours_gitignore_and_skips_tool_folders() {
        let host = MemoryHost::new();
        for (path, text) in [
            (".gitignore", "dist/\n*.log\n!keep.log\n"),
            ("src/a.ts", ""),
            ("src/.gitignore", "secret.ts\n"),
            ("src/secret.ts", ""),
            ("src/b.log", ""),
            ("src/keep.log", ""),
            ("dist/out.ts", ""),
            ("node_modules/x/index.ts", ""),
            (".cloesce/state", ""),
        ] {
            host.put(path, text);
        }
        let files: Vec<String> = walk(&host, &[None])
            .unwrap()
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            files,
            vec![".gitignore", "src/.gitignore", "src/a.ts", "src/keep.log"]
        );
        let only_src: Vec<String> = walk(&host, &[WorkspacePath::new("src").ok()])
            .unwrap()
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(only_src, vec!["src/.gitignore", "src/a.ts", "src/keep.log"]);
    }
}
