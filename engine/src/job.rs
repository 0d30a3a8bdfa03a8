//! Jobs: the processes the engine asks its driver to run.
//!
//! The engine never spawns anything. When a `run` rule must execute, the
//! build hands the driver a [`Job`]; the driver starts it however its
//! platform does (a thread natively, a Promise under Node), and later passes
//! back a [`Completion`]. Program lookup follows npm scripts:
//! `node_modules/.bin` first, then `PATH` ([`resolve_program`]).

use std::collections::BTreeMap;

/// Identifies a job within one build (it is the rule's index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u32);

/// A process to run from the project root. No shell is involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    /// The rule's name, for progress output.
    pub rule: String,
    /// The argv exactly as the pipeline wrote it; `argv[0]` is resolved by
    /// the driver with [`resolve_program`].
    pub argv: Vec<String>,
    /// The child's whole environment (nothing else is inherited).
    pub env: BTreeMap<String, String>,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// The process exited with this code.
    Code(i32),
    /// The process was killed by this signal (Unix).
    Signal(i32),
    /// The process could not be started at all (program not found, …).
    SpawnFailed(String),
}

impl ExitStatus {
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Code(0))
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit code {code}"),
            ExitStatus::Signal(signal) => write!(f, "killed by signal {signal}"),
            ExitStatus::SpawnFailed(why) => write!(f, "could not start: {why}"),
        }
    }
}

/// A finished job, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub id: JobId,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The host variables a child process sees besides the ones its rule
/// declares. Anything else in the environment is invisible to rules, so it
/// can neither change their output nor leak into it.
pub const ENV_ALLOWLIST: &[&str] = &[
    "PATH",
    "Path",
    "PATHEXT",
    "HOME",
    "USER",
    "USERNAME",
    "LANG",
    "LC_ALL",
    "TERM",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SystemRoot",
    "SYSTEMROOT",
    "SystemDrive",
    "windir",
    "ComSpec",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "ProgramData",
    "ProgramFiles",
    "ProgramFiles(x86)",
];

/// Which OS conventions to resolve programs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Unix,
    Windows,
}

/// Finds the program a rule's `argv[0]` names, the way npm scripts do.
///
/// - A name containing a path separator is taken relative to the project
///   root (`root`), never searched.
/// - Otherwise `<root>/node_modules/.bin` is searched first, then each folder
///   of `path_var`.
/// - On Windows each candidate is tried with every extension of `pathext`
///   (`.COM;.EXE;.BAT;.CMD` by default), so npm's `.cmd` shims are found.
///
/// `exists` answers whether an absolute path names a runnable file. Returns
/// the absolute path to run, or `None`.
pub fn resolve_program(
    program: &str,
    root: &str,
    path_var: Option<&str>,
    pathext: Option<&str>,
    os: Os,
    exists: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let sep = match os {
        Os::Unix => "/",
        Os::Windows => "\\",
    };
    let join = |dir: &str, name: &str| -> String {
        let dir = dir.trim_end_matches(['/', '\\']);
        format!("{dir}{sep}{name}")
    };
    let extensions: Vec<String> = match os {
        Os::Unix => vec![String::new()],
        Os::Windows => {
            let mut exts = vec![String::new()];
            let list = pathext.unwrap_or(".COM;.EXE;.BAT;.CMD");
            exts.extend(
                list.split(';')
                    .filter(|e| !e.is_empty())
                    .map(|e| e.to_ascii_lowercase()),
            );
            exts
        }
    };
    let has_extension = |name: &str| {
        let lower = name.to_ascii_lowercase();
        extensions[1..].iter().any(|e| lower.ends_with(e.as_str()))
    };
    let try_candidates = |base: String| -> Option<String> {
        for ext in &extensions {
            // On Windows a bare name without an executable extension is not
            // runnable (npm puts an extensionless sh script beside the .cmd).
            if os == Os::Windows && ext.is_empty() && !has_extension(&base) {
                continue;
            }
            let candidate = format!("{base}{ext}");
            if exists(&candidate) {
                return Some(candidate);
            }
        }
        None
    };

    if program.contains('/') || (os == Os::Windows && program.contains('\\')) {
        let absolute = crate::path::is_absolute(program);
        let base = if absolute {
            program.to_string()
        } else {
            join(root, program.trim_start_matches("./"))
        };
        return try_candidates(base);
    }
    search_dirs(root, path_var, os)
        .iter()
        .find_map(|dir| try_candidates(join(dir, program)))
}

/// The folders a bare program name is searched in, in order: the project's
/// `node_modules/.bin`, then each folder of `path_var`.
pub fn search_dirs(root: &str, path_var: Option<&str>, os: Os) -> Vec<String> {
    let (sep, list_sep) = match os {
        Os::Unix => ("/", ':'),
        Os::Windows => ("\\", ';'),
    };
    let mut dirs = vec![format!(
        "{}{sep}node_modules{sep}.bin",
        root.trim_end_matches(['/', '\\'])
    )];
    dirs.extend(
        path_var
            .unwrap_or("")
            .split(list_sep)
            .filter(|dir| !dir.is_empty())
            .map(|dir| dir.trim_end_matches(['/', '\\']).to_string()),
    );
    dirs
}

/// For a bare program name that was not found: the program a typo away
/// from it in the search folders ([`search_dirs`]), for "did you mean".
/// `list` names the entries of a folder (empty when it cannot be read).
/// On Windows `node.exe` and `tsc.cmd` count as `node` and `tsc`.
pub fn closest_program(
    program: &str,
    dirs: &[String],
    os: Os,
    list: &dyn Fn(&str) -> Vec<String>,
) -> Option<String> {
    if program.contains(['/', '\\']) {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    for dir in dirs {
        for name in list(dir) {
            let name = match os {
                Os::Unix => name,
                Os::Windows => {
                    let lower = name.to_ascii_lowercase();
                    match [".exe", ".cmd", ".bat", ".com"]
                        .iter()
                        .find(|ext| lower.ends_with(*ext))
                    {
                        Some(ext) => name[..name.len() - ext.len()].to_string(),
                        None => continue,
                    }
                }
            };
            if name != program && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    crate::pipeline::did_you_mean(program, names.iter().map(String::as_str)).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&str]) -> impl Fn(&str) -> bool {
        let owned: Vec<String> = paths.iter().map(|s| s.to_string()).collect();
        move |p: &str| owned.iter().any(|o| o == p)
    }

    #[test]
    fn a_misspelt_program_is_matched_against_node_modules_bin_and_path() {
        let dirs = search_dirs("/proj", Some("/usr/bin:/bin"), Os::Unix);
        assert_eq!(dirs, ["/proj/node_modules/.bin", "/usr/bin", "/bin"]);
        let list = |dir: &str| -> Vec<String> {
            match dir {
                "/proj/node_modules/.bin" => vec!["wrangler".into(), "tsc".into()],
                "/usr/bin" => vec!["node".into(), "nodejs".into(), "sh".into()],
                _ => Vec::new(),
            }
        };
        assert_eq!(
            closest_program("nodee", &dirs, Os::Unix, &list).as_deref(),
            Some("node")
        );
        assert_eq!(
            closest_program("wrangle", &dirs, Os::Unix, &list).as_deref(),
            Some("wrangler")
        );
        assert_eq!(closest_program("zzzzzzzz", &dirs, Os::Unix, &list), None);
        assert_eq!(closest_program("./nodee", &dirs, Os::Unix, &list), None);
        let win =
            |_: &str| -> Vec<String> { vec!["node.EXE".into(), "tsc.cmd".into(), "README".into()] };
        let dirs = search_dirs("C:\\p", Some("C:\\bin"), Os::Windows);
        assert_eq!(
            closest_program("nod", &dirs, Os::Windows, &win).as_deref(),
            Some("node")
        );
    }

    #[test]
    fn unix_prefers_node_modules_bin_over_path() {
        let exists = set(&["/proj/node_modules/.bin/tsc", "/usr/bin/tsc"]);
        let found = resolve_program(
            "tsc",
            "/proj",
            Some("/usr/bin:/bin"),
            None,
            Os::Unix,
            &exists,
        );
        assert_eq!(found.as_deref(), Some("/proj/node_modules/.bin/tsc"));
        let found = resolve_program(
            "sh",
            "/proj",
            Some("/usr/bin:/bin"),
            None,
            Os::Unix,
            &set(&["/bin/sh"]),
        );
        assert_eq!(found.as_deref(), Some("/bin/sh"));
        assert_eq!(
            resolve_program("nope", "/proj", Some("/bin"), None, Os::Unix, &exists),
            None
        );
    }

    #[test]
    fn windows_finds_cmd_shims_and_skips_extensionless_scripts() {
        let exists = set(&[
            "C:\\proj\\node_modules\\.bin\\tsc",
            "C:\\proj\\node_modules\\.bin\\tsc.cmd",
            "C:\\Windows\\System32\\where.exe",
        ]);
        let found = resolve_program(
            "tsc",
            "C:\\proj",
            Some("C:\\Windows\\System32;C:\\Tools"),
            Some(".COM;.EXE;.BAT;.CMD"),
            Os::Windows,
            &exists,
        );
        assert_eq!(
            found.as_deref(),
            Some("C:\\proj\\node_modules\\.bin\\tsc.cmd")
        );
        let found = resolve_program(
            "where",
            "C:\\proj",
            Some("C:\\Windows\\System32"),
            None,
            Os::Windows,
            &exists,
        );
        assert_eq!(found.as_deref(), Some("C:\\Windows\\System32\\where.exe"));
    }

    #[test]
    fn relative_paths_are_taken_from_the_root_not_searched() {
        let exists = set(&["/proj/scripts/gen.sh", "/usr/bin/gen.sh"]);
        let found = resolve_program(
            "./scripts/gen.sh",
            "/proj",
            Some("/usr/bin"),
            None,
            Os::Unix,
            &exists,
        );
        assert_eq!(found.as_deref(), Some("/proj/scripts/gen.sh"));
        let exists = set(&["C:\\proj\\tools\\gen.bat"]);
        let found = resolve_program("tools\\gen", "C:\\proj", None, None, Os::Windows, &exists);
        assert_eq!(found.as_deref(), Some("C:\\proj\\tools\\gen.bat"));
    }
}
