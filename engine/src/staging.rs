//! Where hosts write temporary files, and how leftovers are swept.
//!
//! [`Host::write_atomic`] writes a temporary file and renames it into place,
//! so a reader never sees half a file. A `kill -9` between the two steps
//! leaves the temporary file behind; beside an output, a glob such as
//! `gen/*` would then list it (issue 12). So hosts write it in
//! [`STAGING_DIR`] (`.cloesce/tmp/`, named [`staged_name`]: the writer's pid
//! and a counter), which no walk enters and no rule's output folder
//! contains, and rename it from there. Only when that fails (the staging
//! folder cannot be made, or the target is on another file system, where a
//! rename cannot cross) does a host fall back to a temporary file beside the
//! target, named [`beside_name`]; walks skip those names ([`is_temporary`]).
//!
//! Leftovers are swept by [`sweep_staging`] when a build starts (the caller
//! holds the project lock): every staged file whose writer is gone.
//! `cloesce clean` removes the staging folder and any fallback leftovers
//! beside declared outputs ([`sweep_beside`]).

use crate::host::{Host, ProcessProbe};
use crate::path::WorkspacePath;

/// The folder temporary files are written in, below the project root.
pub const STAGING_DIR: &str = ".cloesce/tmp";

/// What every fallback temporary file's name contains.
const BESIDE_MARKER: &str = ".cloesce-tmp.";

/// The staging folder as a path.
pub fn staging_dir() -> WorkspacePath {
    WorkspacePath::new(STAGING_DIR).expect("constant path")
}

/// The name of a temporary file in [`STAGING_DIR`]: `PID.N`, short whatever
/// the target's name (a long name plus a prefix could pass `NAME_MAX`).
pub fn staged_name(pid: u32, counter: u64) -> String {
    format!("{pid}.{counter}")
}

/// The name of a fallback temporary file beside `file_name`:
/// `.NAME.cloesce-tmp.PID.N`.
pub fn beside_name(file_name: &str, pid: u32, counter: u64) -> String {
    format!(".{file_name}{BESIDE_MARKER}{pid}.{counter}")
}

/// The fallback temporary file for `path`: [`beside_name`] in its folder.
pub fn beside_path(
    path: &WorkspacePath,
    pid: u32,
    counter: u64,
) -> Result<WorkspacePath, crate::path::PathError> {
    let name = beside_name(path.file_name(), pid, counter);
    match path.as_str().rsplit_once('/') {
        Some((folder, _)) => WorkspacePath::new(folder)?.join(&name),
        None => WorkspacePath::new(&name),
    }
}

/// Whether a file name is a fallback temporary file ([`beside_name`]).
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(BESIDE_MARKER)
}

/// The pid in a temporary file's name, either kind.
fn writer_pid(name: &str) -> Option<u32> {
    let counted = match name.split_once(BESIDE_MARKER) {
        Some((_, rest)) => rest,
        None => name,
    };
    counted.split('.').next()?.parse().ok()
}

/// Whether the writer of a temporary file named `name` is gone, so the file
/// is a leftover. This process's own files are never leftovers; a name that
/// does not parse is (nothing but cloesce writes in the staging folder).
fn is_leftover(host: &dyn Host, name: &str) -> bool {
    let (own, _) = host.process_identity();
    match writer_pid(name) {
        Some(pid) if pid == own => false,
        Some(pid) => host.probe_process(pid) == ProcessProbe::Gone,
        None => true,
    }
}

/// Removes the staged files whose writers are gone; returns how many.
/// Best effort: a file that cannot be removed is left for the next sweep.
pub fn sweep_staging(host: &dyn Host) -> usize {
    let dir = staging_dir();
    let Ok(entries) = host.list_dir(Some(&dir)) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries {
        let Ok(path) = dir.join(&entry.name) else {
            continue;
        };
        if is_leftover(host, &entry.name) && host.remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Removes the fallback temporary files of dead writers that sit beside
/// `outputs`; returns how many.
pub fn sweep_beside<'a>(
    host: &dyn Host,
    outputs: impl IntoIterator<Item = &'a WorkspacePath>,
) -> std::io::Result<usize> {
    let mut folders = std::collections::BTreeMap::new();
    for output in outputs {
        let folder = output.as_str().rsplit_once('/').map(|(dir, _)| dir);
        folders
            .entry(folder.map(str::to_string))
            .or_insert_with(Vec::new)
            .push(output.file_name().to_string());
    }
    let mut removed = 0;
    for (folder, names) in folders {
        let folder = folder
            .map(|f| WorkspacePath::new(&f))
            .transpose()
            .map_err(std::io::Error::other)?;
        let entries = match host.list_dir(folder.as_ref()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let ours = names
                .iter()
                .any(|n| entry.name.starts_with(&format!(".{n}{BESIDE_MARKER}")));
            if !ours || !is_leftover(host, &entry.name) {
                continue;
            }
            let path = match &folder {
                Some(f) => f.join(&entry.name),
                None => WorkspacePath::new(&entry.name),
            }
            .map_err(std::io::Error::other)?;
            host.remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryHost, MEMORY_PID};

    #[test]
    fn names_parse_back_to_their_writer() {
        assert_eq!(writer_pid(&staged_name(4242, 7)), Some(4242));
        assert_eq!(writer_pid(&beside_name("a.b.txt", 17, 3)), Some(17));
        assert!(is_temporary(&beside_name("x", 1, 2)));
        assert!(!is_temporary("x.cloesce-tmp.1.2"));
        assert!(!is_temporary("a.txt"));
    }

    #[test]
    fn only_files_of_dead_writers_are_swept() {
        let host = MemoryHost::new();
        host.set_process(77, None);
        for name in [
            staged_name(77, 1),
            staged_name(88, 1),
            staged_name(MEMORY_PID, 2),
        ] {
            host.put(&format!("{STAGING_DIR}/{name}"), "partial");
        }
        host.put(&format!("gen/{}", beside_name("a.txt", 88, 4)), "partial");
        host.put(&format!("gen/{}", beside_name("a.txt", 77, 5)), "partial");
        host.put(
            &format!("gen/{}", beside_name("other.txt", 88, 6)),
            "not ours",
        );
        host.put("gen/a.txt", "real");
        assert_eq!(sweep_staging(&host), 1);
        let a = WorkspacePath::new("gen/a.txt").unwrap();
        assert_eq!(sweep_beside(&host, [&a]).unwrap(), 1);
        let left = host.paths();
        assert!(!left.contains(&format!("{STAGING_DIR}/88.1")), "{left:?}");
        assert!(left.contains(&format!("{STAGING_DIR}/77.1")), "{left:?}");
        assert!(left.contains(&format!("{STAGING_DIR}/{MEMORY_PID}.2")));
        assert!(!left.contains(&format!("gen/{}", beside_name("a.txt", 88, 4))));
        assert!(left.contains(&format!("gen/{}", beside_name("a.txt", 77, 5))));
        assert!(left.contains(&format!("gen/{}", beside_name("other.txt", 88, 6))));
        assert!(left.contains(&"gen/a.txt".to_string()));
    }
}
