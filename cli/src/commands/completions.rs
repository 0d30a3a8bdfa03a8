//! `cloesce completions SHELL`: a completion script for the shell.

use clap::CommandFactory;
use clap_complete::Shell as Target;

use crate::args::{Cli, Shell};
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};

pub fn completions<P: Platform>(platform: &P, shell: Shell) -> Result<i32, Exit> {
    let target = match shell {
        Shell::Bash => Target::Bash,
        Shell::Zsh => Target::Zsh,
        Shell::Fish => Target::Fish,
        Shell::Powershell => Target::PowerShell,
    };
    let mut command = Cli::command();
    let mut bytes = Vec::new();
    clap_complete::generate(target, &mut command, "cloesce", &mut bytes);
    platform.write(Stream::Stdout, &String::from_utf8_lossy(&bytes));
    Ok(exit::SUCCESS)
}
