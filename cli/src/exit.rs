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
