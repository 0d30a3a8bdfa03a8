//! Symlink containment: cloesce never reads, writes or removes outside the
//! project, whichever host runs it.
//!
//! A [`WorkspacePath`] cannot spell `..` or an absolute path, so a symbolic
//! link is the only way out of the project. Before each read, write, removal
//! and listing it makes itself, a host calls [`check_inside`] with a
//! `resolve` function that canonicalises one host path (`canonicalize`
//! natively, `fs.realpathSync.native` under Node) and says where it lands.
//! The decision is made here, once:
//!
//! - reads and listings (`follow_last`) resolve the path itself, so a
//!   symlinked input is followed and checked;
//! - writes and removals resolve only the folder above it, because they act
//!   on the final component itself (a rename or unlink replaces a symlink,
//!   never its target);
//! - the deepest part that exists decides: parts that do not exist yet are
//!   created as real folders.

use std::io;

use crate::path::WorkspacePath;

/// Where a host path resolves, as the host's `resolve` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Inside the project root (or the root itself).
    Inside,
    /// Outside it: the resolved path, for the message.
    Outside(String),
    /// Nothing is there: look at the folder above.
    Missing,
    /// It cannot be resolved for another reason (not a folder, a loop):
    /// the operation itself will report it.
    Unknown,
}

/// Refuses `path` with a `PermissionDenied` error naming where it leads when
/// it resolves outside the project through a symbolic link.
pub fn check_inside(
    path: &WorkspacePath,
    follow_last: bool,
    mut resolve: impl FnMut(&WorkspacePath) -> Resolved,
) -> io::Result<()> {
    let mut probe = if follow_last {
        Some(path.clone())
    } else {
        path.parent()
    };
    while let Some(part) = probe {
        match resolve(&part) {
            Resolved::Inside | Resolved::Unknown => return Ok(()),
            Resolved::Missing => probe = part.parent(),
            Resolved::Outside(target) => return Err(outside(path, &target)),
        }
    }
    // Only the project root is left, and it is inside by definition.
    Ok(())
}

/// The error for `path` leading to `target`, outside the project.
pub fn outside(path: &WorkspacePath, target: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{path} leads to {target} through a symbolic link, outside the project; cloesce never reads or writes outside the project (replace the link with a real file or folder)"
        ),
    )
}

/// Whether the canonical path `resolved` is `root` or below it, for hosts
/// that compare paths as text (`sep` is the OS separator).
pub fn is_within(resolved: &str, root: &str, sep: char) -> bool {
    let root = root.trim_end_matches(sep);
    resolved == root
        || (resolved.starts_with(root) && resolved[root.len()..].starts_with(sep))
        || root.is_empty() // the root is `/` itself
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> WorkspacePath {
        WorkspacePath::new(s).unwrap()
    }

    #[test]
    fn the_deepest_existing_part_decides() {
        let mut asked = Vec::new();
        let result = check_inside(&p("gen/sub/a.out"), false, |part| {
            asked.push(part.to_string());
            match part.as_str() {
                "gen/sub" => Resolved::Missing,
                "gen" => Resolved::Outside("/elsewhere".into()),
                _ => Resolved::Inside,
            }
        });
        assert_eq!(asked, vec!["gen/sub", "gen"]);
        let err = result.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().starts_with(
            "gen/sub/a.out leads to /elsewhere through a symbolic link, outside the project"
        ));
    }

    #[test]
    fn writes_never_resolve_the_final_component_and_reads_do() {
        let outside_file = |part: &WorkspacePath| {
            if part.as_str() == "a.out" {
                Resolved::Outside("/etc/x".into())
            } else {
                Resolved::Inside
            }
        };
        assert!(check_inside(&p("a.out"), false, outside_file).is_ok());
        assert!(check_inside(&p("a.out"), true, outside_file).is_err());
        assert!(check_inside(&p("new/deeper/file"), false, |_| Resolved::Missing).is_ok());
        assert!(check_inside(&p("x/y"), true, |_| Resolved::Unknown).is_ok());
    }

    #[test]
    fn within_compares_whole_components() {
        assert!(is_within("/p/root", "/p/root", '/'));
        assert!(is_within("/p/root/a", "/p/root/", '/'));
        assert!(!is_within("/p/rootless", "/p/root", '/'));
        assert!(!is_within("/p", "/p/root", '/'));
        assert!(is_within("C:\\p\\a", "C:\\p", '\\'));
        assert!(is_within("/anything", "/", '/'));
    }
}
