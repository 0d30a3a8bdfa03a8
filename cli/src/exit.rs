//! Exit codes, one per class of problem, so scripts can tell them apart.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | a rule failed (its command, a built-in's diagnostics, or a missing output); `doctor` or `cache verify` found a problem |
//! | 2 | the user's input is wrong: arguments, `cloesce.kdl` |
//! | 3 | the environment is wrong: files, permissions, disk, the lock, a missing tool |
//! | 70 | an internal error: a bug in cloesce |
//! | 130 | interrupted (Ctrl-C) |

pub const SUCCESS: i32 = 0;
pub const RULE_FAILED: i32 = 1;
pub const USER_ERROR: i32 = 2;
pub const ENVIRONMENT_ERROR: i32 = 3;
pub const INTERNAL_ERROR: i32 = 70;
pub const INTERRUPTED: i32 = 130;

/// An error that ends a command, with the exit code it maps to. `message`
/// is already rendered (it may hold a diagnostic with a code frame).
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

impl Exit {
    pub fn user(message: impl Into<String>) -> Exit {
        Exit {
            code: USER_ERROR,
            message: message.into(),
        }
    }

    pub fn environment(message: impl Into<String>) -> Exit {
        Exit {
            code: ENVIRONMENT_ERROR,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/cli.md's "Exit codes" section is one table with a row for every
    /// code, in order (issue #16: the rows for 70 and 130 once sat below it).
    #[test]
    fn docs_cli_md_lists_every_exit_code_in_one_table() {
        let doc = include_str!("../../docs/cli.md");
        let section = doc
            .split("\n## Exit codes\n")
            .nth(1)
            .expect("docs/cli.md has an `## Exit codes` section");
        let section = section.split("\n## ").next().unwrap_or(section);
        let table: Vec<&str> = section
            .trim_start()
            .lines()
            .take_while(|line| line.starts_with('|'))
            .collect();
        let codes: Vec<i32> = table
            .iter()
            .skip(2)
            .map(|row| {
                let cell = row.trim_start_matches('|').split('|').next().unwrap_or("");
                cell.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("row `{row}`"))
            })
            .collect();
        assert_eq!(
            codes,
            [
                SUCCESS,
                RULE_FAILED,
                USER_ERROR,
                ENVIRONMENT_ERROR,
                INTERNAL_ERROR,
                INTERRUPTED
            ],
            "the table is:\n{}",
            table.join("\n")
        );
        let after = &section[section.find(&table.join("\n")).unwrap() + table.join("\n").len()..];
        assert!(
            !after.lines().any(|l| l.starts_with('|')),
            "a table row sits outside the table:\n{section}"
        );
    }
}
