//! A hand-written parser for the commonest command line, `cloesce [-C DIR]
//! run [-q] [-j N]`, tried before clap.
//!
//! Under Node every WebAssembly function is compiled on its first call, and
//! clap's parser was the largest piece of code a no-op `run` compiled (about
//! 54 KB of wasm, several ms of start-up). This parser handles only the
//! invocations it can answer exactly as clap would and returns `None` for
//! everything else, so clap still parses (and reports the errors of) every
//! other command line. The contract, checked by the tests below against clap
//! itself: whenever [`parse`] returns `Some(cli)`, clap parses the same
//! arguments to an equal `cli`.
//!
//! Accepted, in any order clap accepts them, each at most once:
//! - before or after `run`: `-C DIR`, `--directory DIR`, `--directory=DIR`
//!   (DIR not empty and not starting with `-`);
//! - after `run`: `-q`, `--quiet`, `-j N`, `--jobs N`, `--jobs=N` (N ASCII
//!   digits that fit a `usize`).
//!
//! Anything else (another command, a rule name, `--`, `=` after a short
//! flag, grouped short flags, `--help`, a repeated flag) falls back to clap.

use crate::args::{Cli, ColorChoice, Command, RunArgs};

/// Parses `args` (the program name first) when it is a plain `run`
/// invocation; `None` means "ask clap".
pub fn parse(args: &[String]) -> Option<Cli> {
    let mut tokens = args.iter().skip(1).map(String::as_str);
    let mut directory: Option<String> = None;
    let mut seen_run = false;
    let mut quiet = false;
    let mut jobs: Option<usize> = None;
    while let Some(token) = tokens.next() {
        match token {
            "-C" | "--directory" => set_once(&mut directory, dir_value(tokens.next()?)?)?,
            _ if token.starts_with("--directory=") => {
                set_once(&mut directory, dir_value(&token["--directory=".len()..])?)?
            }
            "run" if !seen_run => seen_run = true,
            "-q" | "--quiet" if seen_run && !quiet => quiet = true,
            "-j" | "--jobs" if seen_run => set_once(&mut jobs, jobs_value(tokens.next()?)?)?,
            _ if seen_run && token.starts_with("--jobs=") => {
                set_once(&mut jobs, jobs_value(&token["--jobs=".len()..])?)?
            }
            _ => return None,
        }
    }
    if !seen_run {
        return None;
    }
    let mut run = RunArgs::quiet(Vec::new());
    run.quiet = quiet;
    run.jobs = jobs;
    Some(Cli {
        directory,
        color: ColorChoice::Auto,
        command: Command::Run(run),
    })
}

/// Stores `value` in an empty `slot`; `None` (fall back) when it was set.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// A folder argument clap would take as is.
fn dir_value(value: &str) -> Option<String> {
    (!value.is_empty() && !value.starts_with('-')).then(|| value.to_string())
}

/// A job count written in plain digits.
fn jobs_value(value: &str) -> Option<usize> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn argv(line: &[&str]) -> Vec<String> {
        std::iter::once("cloesce")
            .chain(line.iter().copied())
            .map(String::from)
            .collect()
    }

    /// The contract: a `Some` from the fast path equals clap's parse.
    fn assert_agrees_with_clap(line: &[&str]) -> bool {
        let args = argv(line);
        let Some(fast) = parse(&args) else {
            return false;
        };
        let clap = Cli::try_parse_from(&args)
            .unwrap_or_else(|e| panic!("fast path accepted {line:?}, clap refused: {e}"));
        assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "for {line:?}");
        true
    }

    #[test]
    fn plain_runs_are_parsed_like_clap() {
        let accepted: &[&[&str]] = &[
            &["run"],
            &["run", "-q"],
            &["run", "--quiet"],
            &["-C", "/tmp/kennel", "run", "-q"],
            &["--directory", "x", "run"],
            &["--directory=x", "run"],
            &["run", "-C", "x"],
            &["run", "-q", "--directory=some dir"],
            &["run", "--jobs", "2", "-q"],
            &["run", "-j", "4"],
            &["run", "--jobs=07"],
            &["run", "-j", "0"],
            &["-C", "run", "run"],
        ];
        for line in accepted {
            assert!(assert_agrees_with_clap(line), "fast path refused {line:?}");
        }
        let cli = parse(&argv(&["-C", "k", "run", "-q", "-j", "3"])).unwrap();
        assert_eq!(cli.directory.as_deref(), Some("k"));
        let Command::Run(run) = cli.command else {
            panic!("not a run")
        };
        assert!(run.quiet && run.jobs == Some(3) && run.rules.is_empty());
        assert!(!(run.verbose || run.json || run.watch || run.dry_run || run.keep_going));
    }

    #[test]
    fn everything_else_falls_back_to_clap() {
        let refused: &[&[&str]] = &[
            &[],
            &["graph"],
            &["run", "workers"],
            &["-q", "run"],
            &["-j", "2", "run"],
            &["run", "-q", "-q"],
            &["run", "-qj2"],
            &["run", "-j2"],
            &["run", "-j", "+2"],
            &["run", "-j", "-1"],
            &["run", "-j", ""],
            &["run", "-j", "99999999999999999999999"],
            &["run", "-j"],
            &["run", "-j", "1", "--jobs", "2"],
            &["-C", "a", "run", "-C", "b"],
            &["-C"],
            &["-C", "-q", "run"],
            &["-C", "", "run"],
            &["--directory=", "run"],
            &["-C=x", "run"],
            &["-Cx", "run"],
            &["run", "--"],
            &["run", "--help"],
            &["run", "-h"],
            &["--version"],
            &["run", "--watch"],
            &["run", "--color", "never"],
            &["run", "run"],
            &["run", "--quiet=true"],
            &["ru"],
        ];
        for line in refused {
            assert!(parse(&argv(line)).is_none(), "fast path took {line:?}");
        }
    }

    /// Every line of up to four tokens from a vocabulary of the accepted
    /// forms and their near misses: whatever the fast path accepts, clap
    /// parses to the same thing.
    #[test]
    fn generated_lines_agree_with_clap() {
        let words = [
            "run",
            "-q",
            "--quiet",
            "-C",
            "--directory",
            "d",
            "--directory=d",
            "-j",
            "--jobs",
            "2",
            "--jobs=3",
            "-k",
            "x",
            "--",
        ];
        let mut lines: Vec<Vec<&str>> = vec![Vec::new()];
        let mut accepted = 0;
        for _ in 0..4 {
            let mut next = Vec::new();
            for line in &lines {
                for word in words {
                    let mut longer = line.clone();
                    longer.push(word);
                    if assert_agrees_with_clap(&longer) {
                        accepted += 1;
                    }
                    next.push(longer);
                }
            }
            lines = next;
        }
        assert!(accepted > 50, "only {accepted} lines took the fast path");
    }
}
