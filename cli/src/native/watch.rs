//! `run --watch` natively: a recursive `notify` watcher on the project root.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};

use crate::platform::is_ignored;

/// A watcher on one root and the channel its events arrive on.
pub struct Watcher {
    root: PathBuf,
    _watcher: notify::RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
}

impl Watcher {
    fn new(root: &Path) -> notify::Result<Watcher> {
        let (sender, events) = channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = sender.send(event);
        })?;
        watcher.watch(root, RecursiveMode::Recursive)?;
        Ok(Watcher {
            root: root.to_path_buf(),
            _watcher: watcher,
            events,
        })
    }

    /// The root-relative `/` paths of an event that are not ignored.
    fn relevant(&self, event: notify::Event, ignore: &[String]) -> Vec<String> {
        if event.kind.is_access() {
            return Vec::new();
        }
        event
            .paths
            .iter()
            .filter_map(|p| p.strip_prefix(&self.root).ok())
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .filter(|p| !p.is_empty() && !is_ignored(p, ignore))
            .collect()
    }
}

/// Starts watching `root` (replacing any earlier watcher); false when the
/// operating system refuses.
pub fn start(slot: &Mutex<Option<Watcher>>, root: &str) -> bool {
    let Ok(mut slot) = slot.lock() else {
        return false;
    };
    *slot = Watcher::new(Path::new(root)).ok();
    slot.is_some()
}

/// Blocks until a relevant change, then until `debounce_ms` pass without one.
pub fn wait_for_change(
    slot: &Mutex<Option<Watcher>>,
    ignore: &[String],
    debounce_ms: u32,
) -> Option<Vec<String>> {
    let slot = slot.lock().ok()?;
    let watcher = slot.as_ref()?;
    let mut changed: Vec<String> = Vec::new();
    while changed.is_empty() {
        match watcher.events.recv() {
            Ok(Ok(event)) => changed.extend(watcher.relevant(event, ignore)),
            Ok(Err(_)) => {}
            Err(_) => return None,
        }
    }
    // Only relevant changes push the deadline back: reads and ignored
    // files (our own log, say) must not keep the round from starting.
    let quiet = Duration::from_millis(debounce_ms.into());
    let mut deadline = Instant::now() + quiet;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match watcher.events.recv_timeout(left) {
            Ok(Ok(event)) => {
                let paths = watcher.relevant(event, ignore);
                if !paths.is_empty() {
                    changed.extend(paths);
                    deadline = Instant::now() + quiet;
                }
            }
            Ok(Err(_)) => {}
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
    changed.sort();
    changed.dedup();
    Some(changed)
}
