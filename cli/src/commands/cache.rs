//! `cloesce cache stats|verify|gc`: look after the store in `.cloesce/`.

use std::collections::HashSet;

use cloesce_engine::host::Host;
use cloesce_engine::state::State;
use cloesce_engine::store::{Store, DEFAULT_CAP_BYTES};

use crate::args::CacheCommand;
use crate::commands::lock::ProjectLock;
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};

pub async fn cache<P: Platform>(
    platform: &P,
    host: &P::Host,
    command: &CacheCommand,
) -> Result<i32, Exit> {
    let env_error = |e: std::io::Error| {
        Exit::environment(format!(
            "error: the store in .cloesce/ could not be read: {e}\n"
        ))
    };
    let store = Store::new(host as &dyn Host);
    match command {
        CacheCommand::Stats => {
            let stats = store.stats().map_err(env_error)?;
            platform.write(
                Stream::Stdout,
                &format!(
                    "action entries: {}  ({})\nblobs:          {}  ({})\ntotal:          {}  (cap {})\n",
                    stats.actions,
                    human_bytes(stats.action_bytes),
                    stats.blobs,
                    human_bytes(stats.blob_bytes),
                    human_bytes(stats.total_bytes()),
                    human_bytes(DEFAULT_CAP_BYTES)
                ),
            );
        }
        CacheCommand::Verify => {
            let _lock = ProjectLock::acquire(platform, host, true, false).await?;
            let report = store.verify().map_err(env_error)?;
            let mut out = format!(
                "checked {} blob(s) and {} action entr(ies)\n",
                report.blobs_checked, report.actions_checked
            );
            for (path, why) in &report.removed {
                out.push_str(&format!("removed {path}: {why}\n"));
            }
            if report.removed.is_empty() {
                out.push_str("the store is intact\n");
                platform.write(Stream::Stdout, &out);
            } else {
                // Damage is a problem found, like `doctor`'s: exit 1, after
                // saying what was done about it.
                let blobs = report
                    .removed
                    .iter()
                    .filter(|(path, _)| path.as_str().starts_with(".cloesce/cas/"))
                    .count();
                let actions = report.removed.len() - blobs;
                out.push_str(&format!(
                    "the store was damaged: removed {blobs} blob(s) and {actions} action entr(ies); \
                     what is left is intact, and a rule whose result was removed runs again \
                     (or restores from the remote cache) at its next build\n"
                ));
                platform.write(Stream::Stdout, &out);
                return Ok(exit::RULE_FAILED);
            }
        }
        CacheCommand::Gc { max_size } => {
            let cap = match max_size {
                Some(text) => parse_size(text).ok_or_else(|| {
                    Exit::user(format!(
                        "error: `{text}` is not a size\n  help: write e.g. 500MB, 2GB or 1048576\n"
                    ))
                })?,
                None => DEFAULT_CAP_BYTES,
            };
            let _lock = ProjectLock::acquire(platform, host, true, false).await?;
            let keep: HashSet<_> = State::load(host).rules.values().map(|r| r.key).collect();
            let report = store.gc(cap, &keep).map_err(env_error)?;
            platform.write(
                Stream::Stdout,
                &format!(
                    "removed {} action entr(ies) and {} blob(s), freed {}; the store holds {} (cap {})\n",
                    report.actions_removed,
                    report.blobs_removed,
                    human_bytes(report.bytes_freed),
                    human_bytes(report.bytes_left),
                    human_bytes(cap)
                ),
            );
        }
    }
    Ok(exit::SUCCESS)
}

/// `500MB`, `2GB`, `10KiB`, `1048576` → bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    Some((number * factor as f64) as u64)
}

pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
