//! The live status line of `cloesce run` on a terminal.
//!
//! On a terminal (stderr is one and `CI` is not set), the last line of
//! stderr shows the rules done out of the total, the rules running now and
//! the elapsed time: `[3/6] running workers, client  1.2s`. It is redrawn in
//! place (`\r` + erase line) after every build event and, where the platform
//! can wait with a timeout, on a tick. Before anything else is printed the
//! line is erased, so the ordinary output stays as it is without a terminal;
//! the line is erased for good before the summary. Elsewhere (pipes, CI,
//! `--json`, `--quiet`, `--dry-run`) this prints nothing at all.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;

use cloesce_engine::build::Event;
use cloesce_engine::pipeline::Pipeline;
use cloesce_engine::shown::shown;

use crate::platform::{Platform, Stream};
use crate::render::Renderer;

/// Erase the current line and return to its start.
const ERASE: &str = "\r\u{1b}[2K";
/// Longest status line drawn (the terminal's width is not known).
const MAX_WIDTH: usize = 78;
/// How often the line is redrawn while rules run, in milliseconds.
pub const TICK_MS: u32 = 100;

/// The status line's state.
pub struct Progress<'a, P> {
    platform: &'a P,
    pipeline: &'a Pipeline,
    renderer: Renderer,
    enabled: bool,
    start_ns: u64,
    total: usize,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    done: usize,
    running: BTreeSet<usize>,
    shown: bool,
}

impl<'a, P: Platform> Progress<'a, P> {
    /// A status line for a build of `total` rules; drawn only when `wanted`
    /// (not `--json`, `--quiet`, `--dry-run`), stderr is a terminal and `CI`
    /// is not set.
    pub fn new(
        platform: &'a P,
        pipeline: &'a Pipeline,
        renderer: Renderer,
        wanted: bool,
        total: usize,
        start_ns: u64,
    ) -> Self {
        let enabled = wanted
            && platform.is_terminal(Stream::Stderr)
            && platform.env_var("CI").is_none_or(|v| v.is_empty());
        Progress {
            platform,
            pipeline,
            renderer,
            enabled,
            start_ns,
            total,
            state: RefCell::new(State::default()),
        }
    }

    /// True when the line is drawn (the driver then ticks).
    pub fn active(&self) -> bool {
        self.enabled
    }

    /// Called with each event before it is printed: erases the line and
    /// counts the event.
    pub fn event(&self, event: &Event) {
        if !self.enabled {
            return;
        }
        self.clear();
        let mut state = self.state.borrow_mut();
        match event {
            Event::Started { rule, .. } => {
                state.running.insert(rule.index());
            }
            Event::Finished(report) => {
                state.running.remove(&report.rule.index());
                state.done += 1;
            }
        }
    }

    /// Counts `rules` done without events (fresh, not decided: see the
    /// engine's `Build::with_changes`).
    pub fn skip(&self, rules: usize) {
        self.state.borrow_mut().done += rules;
    }

    /// Erases the line if it is shown.
    pub fn clear(&self) {
        let mut state = self.state.borrow_mut();
        if state.shown {
            self.platform.write(Stream::Stderr, ERASE);
            state.shown = false;
        }
    }

    /// Draws (or redraws) the line at time `now_ns`.
    pub fn draw(&self, now_ns: u64) {
        if !self.enabled {
            return;
        }
        let mut state = self.state.borrow_mut();
        let line = status_line(
            state.done,
            self.total,
            state
                .running
                .iter()
                .map(|&i| self.pipeline.rules[i].name.value.as_str()),
            now_ns.saturating_sub(self.start_ns),
        );
        self.platform.write(
            Stream::Stderr,
            &format!("{ERASE}{}", self.renderer.dim(&line)),
        );
        state.shown = true;
    }
}

/// `[3/6] running workers, client  1.2s`, at most [`MAX_WIDTH`] characters.
pub fn status_line<'n>(
    done: usize,
    total: usize,
    running: impl Iterator<Item = &'n str>,
    elapsed_ns: u64,
) -> String {
    let names: Vec<Cow<str>> = running.map(shown).collect();
    let elapsed = format!("{:.1}s", elapsed_ns as f64 / 1e9);
    let head = format!("[{done}/{total}]");
    let mut middle = if names.is_empty() {
        String::from("working")
    } else {
        format!("running {}", names.join(", "))
    };
    let room = MAX_WIDTH.saturating_sub(head.len() + elapsed.len() + 3);
    if middle.chars().count() > room {
        middle = middle.chars().take(room.saturating_sub(1)).collect();
        middle.push('…');
    }
    format!("{head} {middle}  {elapsed}")
}

#[cfg(test)]
mod tests {
    use super::status_line;

    #[test]
    fn the_status_line_names_running_rules_and_fits() {
        assert_eq!(
            status_line(3, 6, ["workers", "client"].into_iter(), 1_230_000_000),
            "[3/6] running workers, client  1.2s"
        );
        assert_eq!(status_line(0, 2, [].into_iter(), 0), "[0/2] working  0.0s");
        let long: Vec<String> = (0..40).map(|i| format!("rule-{i}")).collect();
        let line = status_line(1, 40, long.iter().map(String::as_str), 0);
        assert!(line.chars().count() <= 78, "{line}");
        assert!(line.contains('…'));
        // A name cannot send the terminal an escape sequence (issue #12).
        let line = status_line(0, 1, ["t\u{1b}]0;x\u{7}"].into_iter(), 0);
        assert_eq!(line, "[0/1] running t\\u{1b}]0;x\\u{7}  0.0s");
    }
}
