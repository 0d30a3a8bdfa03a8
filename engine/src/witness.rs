//! `.cloesce/witness`: proof that the last build found everything fresh, so
//! that the next `cloesce run` can say so without loading the pipeline or
//! the state.
//!
//! A no-op run over a large pipeline spends most of its time *reading*: the
//! checked pipeline (every rule's inputs, outputs and command) and the state
//! (every file's stat entry and every rule's record), only to recompute each
//! rule's key and find it unchanged. A build in which **every** rule was
//! fresh writes a witness instead: the pipeline's digest, the declared
//! environment values and tool versions the keys used, and every path the
//! build looked at with what it found there — a file with its stat-cache
//! entry, or no file. The next run reads only that, stats the paths (at once,
//! as [`Host::stat_many`] allows) and, when every one matches, the build
//! would be all fresh again: nothing in any key can have changed.
//!
//! When is a witness trusted? Exactly when the per-rule path would trust the
//! same facts:
//! - the pipeline digest covers `cloesce.kdl`, the library pipelines, the
//!   built-ins' versions and the engine's version;
//! - a file entry must match the current stat (size, mtime, ctime, inode)
//!   and must not be racy (the stat cache's rule, see `state.rs`);
//! - a path that was no file must still be none (missing, or a folder);
//! - every folder a walk for globs listed must have the same stamp, not
//!   racy (a folder's mtime changes whenever an entry is created, removed or
//!   renamed in it), and every `.gitignore` it read (or found missing) must
//!   be as it was;
//! - every declared environment value and tool version must be unchanged.
//!
//! A witness is written only when it can vouch for everything: never after a
//! build that hashed a symlink (its stat says nothing of its target), ran,
//! restored or failed anything, or built only some targets, nor when the host
//! cannot stat the project root its walk listed. Every build that may change the
//! state removes it first ([`remove`]), so a witness read under the project
//! lock never outlives the state it describes; it also records the stat of
//! `.cloesce/state`, so a state replaced by other means voids it too.
//! Missing, foreign or damaged witness files are ignored.
//!
//! A witness that says no because only files changed names them all
//! ([`check_for_changes`], [`Unfinished::finish`]): the build then decides
//! only their rules and what depends on them (`dirty.rs`), and carries this
//! witness into the next for the rules it did not decide
//! ([`Changes::carry_into`]). A build that ran or restored rules, and left
//! every rule recorded under its current key, writes the same facts to
//! `.cloesce/ran-witness`, which is only ever used to name changes.

use serde::{Deserialize, Serialize};

use crate::fingerprint::{env_value_digest, Digest};
use crate::host::{FileKind, FileStat, Host};
use crate::path::WorkspacePath;
use crate::state::{is_racy, Stamp, State, STATE_HEADER};
use crate::store::STORE_DIR;

const HEADER: &[u8] = b"cloesce-witness v2\n";

/// The witness's own header, then the state format it was written with:
/// a state another version of cloesce cannot read makes it void.
fn header() -> Vec<u8> {
    [HEADER, STATE_HEADER].concat()
}

/// What a build found at a path it checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// A regular file with this stamp, whose content (as the stat cache has
    /// it) was read at `recorded_ns`.
    File { stamp: Stamp, recorded_ns: u64 },
    /// No file: missing, or a folder (neither enters a key).
    NoFile,
    /// A folder a walk for globs listed with this stamp at `listed_at`: the
    /// same stamp, not racy, means the same entries (a file system changes a
    /// folder's mtime when an entry is created, removed or renamed in it).
    Folder { stamp: Stamp, listed_at: u64 },
    /// Nothing at all (a folder a walk would list, a `.gitignore` it would read).
    Missing,
}

/// Everything an all-fresh build's keys depended on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// [`crate::pipeline::pipeline_key`] of the pipeline that was built.
    pub pipeline: Digest,
    /// How many rules were fresh (all of them).
    pub rules: u64,
    /// Declared environment variables and their values' digests.
    pub env: Vec<(String, Option<Digest>)>,
    /// Declared tools: the version command and the version it printed.
    pub tools: Vec<(Vec<String>, String)>,
    /// The project root, when a walk for globs listed it.
    pub root: Option<Observed>,
    /// The stat of `.cloesce/state` once this build saved it. The state is
    /// only ever replaced whole (a new file), so any later save, or its
    /// removal, voids the witness even when no project file changed.
    pub state: Option<Stamp>,
    /// Every path checked, the files most recently read first, and what was
    /// found at each (same order).
    pub paths: Vec<WorkspacePath>,
    pub observed: Vec<Observed>,
}

/// The file's layout: the small parts as they are, and the paths and what
/// was found at them as two flat blocks, which decode with one UTF-8 check
/// and one copy instead of a few calls per path (the witness of a 10,000
/// rule pipeline lists 20,000 paths, and reading it is most of a no-op).
#[derive(Serialize, Deserialize)]
struct OnDisk<'a> {
    pipeline: Digest,
    rules: u64,
    env: Vec<(String, Option<Digest>)>,
    tools: Vec<(Vec<String>, String)>,
    state: Option<Stamp>,
    /// The root's observation ([`OBSERVED_BYTES`]), when a walk listed it.
    #[serde(borrow)]
    root: Option<&'a [u8]>,
    /// The paths, joined by NUL (which no path holds).
    paths: &'a str,
    /// [`OBSERVED_BYTES`] per path (see [`encode_observed`]).
    #[serde(borrow, serialize_with = "as_bytes")]
    observed: &'a [u8],
}

/// Writes a block of bytes at once. Postcard writes a sequence of `u8` as
/// its length and the bytes, exactly as it writes bytes, but one call per
/// byte: on 20,000 paths that was most of writing a witness.
fn as_bytes<S: serde::Serializer>(bytes: &&[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

/// A kind byte (0 no file, 1 file, 2 folder, 3 missing), then size, mtime,
/// ctime, inode and the time the content was read or the folder listed, as
/// little-endian u64s.
const OBSERVED_BYTES: usize = 1 + 5 * 8;
/// The leading part of an observation that says what is there: the kind
/// and the stamp, without the time it was read or listed.
const STAMP_BYTES: usize = 1 + 4 * 8;

fn encode_observed(observed: &Observed, out: &mut Vec<u8>) {
    let (kind, stamp, at) = match *observed {
        Observed::NoFile => (0, None, 0),
        Observed::File { stamp, recorded_ns } => (1, Some(stamp), recorded_ns),
        Observed::Folder { stamp, listed_at } => (2, Some(stamp), listed_at),
        Observed::Missing => (3, None, 0),
    };
    out.push(kind);
    let stamp = stamp.unwrap_or(Stamp {
        size: 0,
        mtime_ns: 0,
        ctime_ns: 0,
        inode: 0,
    });
    for n in [stamp.size, stamp.mtime_ns, stamp.ctime_ns, stamp.inode, at] {
        out.extend(n.to_le_bytes());
    }
}

fn decode_observed(bytes: &[u8]) -> Option<Observed> {
    let n = |i: usize| {
        let at = 1 + 8 * i;
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    if bytes.len() != OBSERVED_BYTES {
        return None;
    }
    let stamp = || Stamp {
        size: n(0),
        mtime_ns: n(1),
        ctime_ns: n(2),
        inode: n(3),
    };
    match bytes[0] {
        0 => Some(Observed::NoFile),
        1 => Some(Observed::File {
            stamp: stamp(),
            recorded_ns: n(4),
        }),
        2 => Some(Observed::Folder {
            stamp: stamp(),
            listed_at: n(4),
        }),
        3 => Some(Observed::Missing),
        _ => None,
    }
}

pub(crate) fn encode(witness: &Witness) -> Option<Vec<u8>> {
    let paths: Vec<&str> = witness.paths.iter().map(|p| p.as_str()).collect();
    let mut observed = Vec::with_capacity(witness.observed.len() * OBSERVED_BYTES);
    for o in &witness.observed {
        encode_observed(o, &mut observed);
    }
    let root = witness.root.map(|root| {
        let mut bytes = Vec::with_capacity(OBSERVED_BYTES);
        encode_observed(&root, &mut bytes);
        bytes
    });
    let on_disk = OnDisk {
        pipeline: witness.pipeline,
        rules: witness.rules,
        env: witness.env.clone(),
        tools: witness.tools.clone(),
        state: witness.state,
        root: root.as_deref(),
        paths: &paths.join("\0"),
        observed: &observed,
    };
    postcard::to_stdvec(&on_disk).ok()
}

/// The paths of a witness file, one by one (checked as they are read).
fn paths_of<'a>(on_disk: &OnDisk<'a>) -> impl Iterator<Item = Option<WorkspacePath>> + 'a {
    raw_paths(on_disk).map(|p| WorkspacePath::try_from(p.to_string()).ok())
}

/// The paths of a witness file as written (not checked).
fn raw_paths<'a>(on_disk: &OnDisk<'a>) -> impl Iterator<Item = &'a str> + 'a {
    let joined = on_disk.paths;
    joined.split('\0').filter(move |_| !joined.is_empty())
}

/// The whole witness (what [`check`] reads lazily); for tests.
#[cfg(test)]
fn decode(body: &[u8]) -> Option<Witness> {
    let on_disk: OnDisk<'_> = postcard::from_bytes(body).ok()?;
    let paths = paths_of(&on_disk).collect::<Option<Vec<_>>>()?;
    if on_disk.observed.len() != paths.len() * OBSERVED_BYTES {
        return None;
    }
    let observed = on_disk
        .observed
        .chunks(OBSERVED_BYTES)
        .map(decode_observed)
        .collect::<Option<Vec<_>>>()?;
    let root = match on_disk.root {
        Some(bytes) => Some(decode_observed(bytes)?),
        None => None,
    };
    Some(Witness {
        pipeline: on_disk.pipeline,
        rules: on_disk.rules,
        env: on_disk.env,
        tools: on_disk.tools,
        state: on_disk.state,
        root,
        paths,
        observed,
    })
}

fn witness_path() -> WorkspacePath {
    WorkspacePath::new(&format!("{STORE_DIR}/witness")).expect("constant path")
}

/// `.cloesce/ran-witness`: the witness of a build that ran or restored
/// rules and left every one recorded under the key a build would compute
/// now. The files it just wrote or hashed are racy, so it could rarely say
/// "all fresh", and it is never asked to: it only names what changed since
/// ([`check_for_changes`]), so that the next build of an edit loop (edit,
/// run, edit, run) decides only the rules of the edited files.
fn ran_witness_path() -> WorkspacePath {
    WorkspacePath::new(&format!("{STORE_DIR}/ran-witness")).expect("constant path")
}

/// Saves a witness (failures are ignored: it only saves time).
pub fn write(host: &dyn Host, witness: &Witness) {
    if let Some(body) = encode(witness) {
        write_body(host, &body, false);
    }
}

/// Saves an encoded witness ([`encode`], [`Changes::carry_into`]): of an
/// all-fresh build, or (`after_run`) of one that ran or restored rules.
pub(crate) fn write_body(host: &dyn Host, body: &[u8], after_run: bool) {
    let mut bytes = header();
    bytes.extend(crate::store::seal(body));
    let path = if after_run {
        ran_witness_path()
    } else {
        witness_path()
    };
    let _ = host.write_atomic(&path, &bytes, false);
}

/// Removes the witnesses before a build that may change the state.
pub fn remove(host: &dyn Host) -> std::io::Result<()> {
    for path in [witness_path(), ran_witness_path()] {
        match host.remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a witness is saved (of either kind): a cheap look before reading
/// it with [`check`] or [`check_for_changes`].
pub fn exists(host: &dyn Host) -> bool {
    [witness_path(), ran_witness_path()]
        .iter()
        .any(|path| matches!(host.stat(path), Ok(Some(_))))
}

/// What [`check`] found.
#[derive(Debug)]
pub enum Checked {
    /// A build would find every rule fresh: the number of rules.
    AllFresh(usize),
    /// A build must decide. The paths of the batch whose check failed, with
    /// the stats just taken of them under the project lock, before anything
    /// ran: the build may use them as its prefetched stats
    /// ([`crate::state::State::prefetch_taken`]).
    Build(Vec<(WorkspacePath, std::io::Result<Option<FileStat>>)>),
}

/// What [`check_for_changes`] found.
#[derive(Debug)]
pub enum Answer {
    /// A build would find every rule fresh: the number of rules.
    AllFresh(usize),
    /// A build must decide: the stats taken (as [`Checked::Build`]) and,
    /// when everything that failed so far is a file's stamp, the rest of the
    /// check ([`Unfinished::finish`]), which may name every changed path.
    Build {
        taken: Vec<(WorkspacePath, std::io::Result<Option<FileStat>>)>,
        rest: Option<Unfinished>,
    },
}

/// Whether the saved witness shows that a build of the pipeline with digest
/// `pipeline` would find every rule fresh; a build must decide when there is
/// no witness, or anything differs or is damaged. Call it holding the
/// project lock: a witness read under the lock describes the state as it is
/// (every build removes it before changing anything).
pub fn check(host: &dyn Host, pipeline: &Digest) -> Checked {
    match check_for_changes(host, pipeline) {
        Answer::AllFresh(rules) => Checked::AllFresh(rules),
        Answer::Build { taken, .. } => Checked::Build(taken),
    }
}

/// [`check`], keeping what is needed to go on checking after the first
/// batch that failed: see [`Unfinished`] and `dirty.rs`. Without a witness
/// of an all-fresh build, the witness of a build that ran rules (see
/// [`ran_witness_path`]) is checked, all of it; it never answers
/// [`Answer::AllFresh`], only names what changed (possibly nothing).
pub fn check_for_changes(host: &dyn Host, pipeline: &Digest) -> Answer {
    let mut taken = Vec::new();
    let mut rest = None;
    match check_into(host, pipeline, &mut taken, &mut rest, false) {
        Some(rules) => Answer::AllFresh(rules),
        None if rest.is_none() && taken.is_empty() => {
            // (No witness, or one that is void as a whole.)
            let _ = check_into(host, pipeline, &mut taken, &mut rest, true);
            Answer::Build { taken, rest }
        }
        None => Answer::Build { taken, rest },
    }
}

fn check_into(
    host: &dyn Host,
    pipeline: &Digest,
    taken: &mut Vec<(WorkspacePath, std::io::Result<Option<FileStat>>)>,
    rest: &mut Option<Unfinished>,
    after_run: bool,
) -> Option<usize> {
    let path = if after_run {
        ran_witness_path()
    } else {
        witness_path()
    };
    let saved = host.read(&path).ok()?;
    let body = crate::store::unseal(saved.strip_prefix(header().as_slice())?)?;
    let witness: OnDisk<'_> = postcard::from_bytes(body).ok()?;
    if witness.pipeline != *pipeline {
        return None;
    }
    for (name, digest) in &witness.env {
        if env_value_digest(host.env_var(name).as_deref()) != *digest {
            return None;
        }
    }
    for (argv, version) in &witness.tools {
        if host.tool_version(argv).as_ref() != Ok(version) {
            return None;
        }
    }
    let state = host.stat(&State::path()).ok().flatten();
    if state.as_ref().map(Stamp::of) != witness.state {
        return None;
    }
    if let Some(root) = witness.root {
        if !still(decode_observed(root)?, &host.stat_dir(None)) {
            return None;
        }
    }
    // Read and stat in batches, most recently read files first (see
    // `State::observations`): an edit, the usual change, then shows in the
    // first batch, and the build that follows does not pay for a full check.
    let mut paths = paths_of(&witness);
    let mut observed = witness.observed.chunks(OBSERVED_BYTES);
    let mut checked = 0;
    loop {
        let batch = paths
            .by_ref()
            .take(STAT_BATCH)
            .collect::<Option<Vec<_>>>()?;
        if batch.is_empty() {
            break;
        }
        checked += batch.len();
        let stats = host.stat_many(&batch);
        let mut changed = Vec::new();
        let mut only_files = true;
        for (path, stat) in batch.iter().zip(&stats) {
            let found = decode_observed(observed.next()?)?;
            if !still(found, stat) {
                only_files &= is_a_file_change(path, found);
                changed.push(path.clone());
            }
        }
        if !changed.is_empty() {
            if only_files {
                let body = range_in(&saved, body);
                drop((witness, paths));
                *rest = Some(Unfinished {
                    saved,
                    body,
                    next: checked,
                    changed,
                });
            }
            taken.extend(batch.into_iter().zip(stats));
            return None;
        }
    }
    if checked * OBSERVED_BYTES != witness.observed.len() {
        return None;
    }
    if after_run {
        // Nothing changed since a build that ran rules: a build decides
        // nothing, and leaves a witness of an all-fresh build.
        let body = range_in(&saved, body);
        drop((witness, paths));
        *rest = Some(Unfinished {
            saved,
            body,
            next: checked,
            changed: Vec::new(),
        });
        return None;
    }
    Some(witness.rules as usize)
}

/// Where `part` (a slice of `whole`) lies in it, so that `whole` can be
/// kept and `part` found again once the borrow ends.
fn range_in(whole: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

/// Whether a path whose check failed is a file some rule keys on (its
/// rules can be told, see `dirty.rs`) rather than something the walk for
/// globs looked at: a folder listed (or found missing) or a `.gitignore`,
/// whose change may change what every glob matches.
fn is_a_file_change(path: &WorkspacePath, found: Observed) -> bool {
    let name = path.as_str().rsplit('/').next().unwrap_or("");
    matches!(found, Observed::File { .. } | Observed::NoFile) && name != ".gitignore"
}

/// A witness check that failed on file stamps only, to be finished (on
/// another thread, beside loading the pipeline) by [`Unfinished::finish`].
#[derive(Debug)]
pub struct Unfinished {
    /// The witness file as read, and where its body lies in it.
    saved: Vec<u8>,
    body: std::ops::Range<usize>,
    /// How many paths were checked already, and those that changed.
    next: usize,
    changed: Vec<WorkspacePath>,
}

/// Everything that differs from what a witness vouched for, when that is
/// only files (see [`Unfinished::finish`]): a build may then decide only the
/// rules of these paths and what depends on them (`dirty.rs`).
#[derive(Debug)]
pub struct Changes {
    /// Every path whose stat differs from what the witness found there, or
    /// whose entry was racy.
    pub paths: Vec<WorkspacePath>,
    /// The stat of `.cloesce/state` the witness recorded (and the check
    /// found): the build must have read that very state.
    pub state: Option<Stamp>,
    /// How many rules the witness vouched for (all of its pipeline's).
    pub rules: u64,
    /// The witness, for the next one ([`Changes::carry_into`]).
    saved: Vec<u8>,
    body: std::ops::Range<usize>,
}

impl Unfinished {
    /// Checks the paths the first check did not reach. `None` when anything
    /// other than a file differs (a folder, a `.gitignore`): the build then
    /// decides every rule.
    pub fn finish(self, host: &dyn Host) -> Option<Changes> {
        let Unfinished {
            saved,
            body,
            next,
            mut changed,
        } = self;
        let witness: OnDisk<'_> = postcard::from_bytes(&saved[body.clone()]).ok()?;
        let mut paths = raw_paths(&witness)
            .skip(next)
            .map(|p| WorkspacePath::try_from(p.to_string()).ok());
        let mut observed = witness.observed.chunks(OBSERVED_BYTES).skip(next);
        loop {
            let batch = paths
                .by_ref()
                .take(STAT_BATCH * 4)
                .collect::<Option<Vec<_>>>()?;
            if batch.is_empty() {
                break;
            }
            let stats = host.stat_many(&batch);
            for (path, stat) in batch.into_iter().zip(&stats) {
                let found = decode_observed(observed.next()?)?;
                if !still(found, stat) {
                    if !is_a_file_change(&path, found) {
                        return None;
                    }
                    changed.push(path);
                }
            }
        }
        if observed.next().is_some() {
            return None;
        }
        let (state, rules) = (witness.state, witness.rules);
        drop((witness, paths));
        Some(Changes {
            paths: changed,
            state,
            rules,
            saved,
            body,
        })
    }
}

impl Changes {
    /// The witness of a build that decided only the rules of the changed
    /// paths (`fresh`: what it saw, as [`Build`](crate::build::Build)
    /// writes it) with what this witness vouched for the rules it did not
    /// decide: every path the build did not look at again keeps the entry it
    /// had (the check found it unchanged). `None` when a changed path was not
    /// looked at again (nothing would vouch for it), or the two disagree on
    /// a tool's version, or on what the walk for globs found.
    ///
    /// The walk must agree: the check found every listed folder unchanged,
    /// so a folder (or `.gitignore`) this build's walk found otherwise was
    /// changed during the build, by a job writing a file it does not declare,
    /// say. A rule not decided could have a glob matching that file: the
    /// old entries must not be carried over the new stamp.
    /// The bytes to save are returned encoded.
    pub(crate) fn carry_into(&self, fresh: Witness) -> Option<Vec<u8>> {
        let old: OnDisk<'_> = postcard::from_bytes(&self.saved[self.body.clone()]).ok()?;
        let mut walked = rustc_hash::FxHashMap::default();
        for (path, o) in fresh.paths.iter().zip(&fresh.observed) {
            if !is_a_file_change(path, *o) {
                let mut bytes = Vec::with_capacity(OBSERVED_BYTES);
                encode_observed(o, &mut bytes);
                walked.insert(path.as_str(), bytes);
            }
        }
        let same_stamp =
            |a: &[u8], b: &[u8]| a.len() == b.len() && a[..STAMP_BYTES] == b[..STAMP_BYTES];
        if let Some(root) = fresh.root {
            let mut bytes = Vec::with_capacity(OBSERVED_BYTES);
            encode_observed(&root, &mut bytes);
            if !old.root.is_some_and(|old| same_stamp(old, &bytes)) {
                return None;
            }
        }
        let seen: rustc_hash::FxHashMap<&str, usize> = fresh
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i))
            .collect();
        if self.paths.iter().any(|p| !seen.contains_key(p.as_str())) {
            return None;
        }
        let mut tools = fresh.tools.clone();
        for (argv, version) in &old.tools {
            match tools.iter().find(|(a, _)| a == argv) {
                Some((_, v)) if v != version => return None,
                Some(_) => {}
                None => tools.push((argv.clone(), version.clone())),
            }
        }
        tools.sort();
        let mut joined = String::with_capacity(old.paths.len() + 64 * fresh.paths.len());
        let mut observed =
            Vec::with_capacity(old.observed.len() + fresh.observed.len() * OBSERVED_BYTES);
        for (path, o) in fresh.paths.iter().zip(&fresh.observed) {
            if !joined.is_empty() {
                joined.push('\0');
            }
            joined.push_str(path.as_str());
            encode_observed(o, &mut observed);
        }
        let mut agreed = rustc_hash::FxHashSet::default();
        for (path, o) in raw_paths(&old).zip(old.observed.chunks(OBSERVED_BYTES)) {
            if seen.contains_key(path) {
                if let Some(bytes) = walked.get(path) {
                    if !same_stamp(o, bytes) {
                        return None;
                    }
                    agreed.insert(path);
                }
                continue;
            }
            if !joined.is_empty() {
                joined.push('\0');
            }
            joined.push_str(path);
            observed.extend_from_slice(o);
        }
        if agreed.len() != walked.len() {
            return None;
        }
        let root = match fresh.root {
            Some(root) => {
                let mut bytes = Vec::with_capacity(OBSERVED_BYTES);
                encode_observed(&root, &mut bytes);
                Some(bytes)
            }
            None => old.root.map(|r| r.to_vec()),
        };
        let on_disk = OnDisk {
            pipeline: fresh.pipeline,
            rules: fresh.rules,
            env: fresh.env,
            tools,
            state: fresh.state,
            root: root.as_deref(),
            paths: &joined,
            observed: &observed,
        };
        postcard::to_stdvec(&on_disk).ok()
    }
}

/// Paths stat-ed at once by [`check`].
const STAT_BATCH: usize = 1024;

/// Whether a path still holds what the witness found there.
fn still(observed: Observed, stat: &std::io::Result<Option<FileStat>>) -> bool {
    match (observed, stat) {
        (Observed::File { stamp, recorded_ns }, Ok(Some(stat))) => {
            stat.kind == FileKind::File
                && Stamp::of(stat) == stamp
                && !is_racy(stamp.mtime_ns, recorded_ns)
        }
        (Observed::NoFile, Ok(None)) => true,
        (Observed::NoFile, Ok(Some(stat))) => stat.kind == FileKind::Dir,
        (Observed::Folder { stamp, listed_at }, Ok(Some(stat))) => {
            stat.kind == FileKind::Dir
                && Stamp::of(stat) == stamp
                && !is_racy(stamp.mtime_ns, listed_at)
        }
        (Observed::Missing, Ok(None)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_are_written_as_a_sequence_of_bytes_was() {
        #[derive(Serialize)]
        struct Block<'a>(#[serde(serialize_with = "as_bytes")] &'a [u8]);
        let bytes: Vec<u8> = (0..=255).chain(0..300).map(|b| b as u8).collect();
        let seq = postcard::to_stdvec(&bytes.as_slice()).unwrap();
        assert_eq!(seq, postcard::to_stdvec(&Block(&bytes)).unwrap());
    }

    #[test]
    fn the_file_layout_round_trips_and_rejects_damage() {
        let witness = Witness {
            pipeline: Digest::of(b"pipeline"),
            rules: 3,
            env: vec![
                ("MODE".into(), Some(Digest::of(b"prod"))),
                ("X".into(), None),
            ],
            tools: vec![(vec!["node".into(), "--version".into()], "v20".into())],
            state: Some(Stamp {
                size: 1,
                mtime_ns: 2,
                ctime_ns: 3,
                inode: 4,
            }),
            root: Some(Observed::Folder {
                stamp: Stamp {
                    size: 5,
                    mtime_ns: 6,
                    ctime_ns: 7,
                    inode: 8,
                },
                listed_at: 9,
            }),
            paths: ["a.txt", "gen/b.out", "missing", "src", ".gitignore"]
                .iter()
                .map(|p| WorkspacePath::new(p).unwrap())
                .collect(),
            observed: vec![
                Observed::File {
                    stamp: Stamp {
                        size: 10,
                        mtime_ns: u64::MAX,
                        ctime_ns: 12,
                        inode: 13,
                    },
                    recorded_ns: 14,
                },
                Observed::File {
                    stamp: Stamp {
                        size: 0,
                        mtime_ns: 1,
                        ctime_ns: 0,
                        inode: 0,
                    },
                    recorded_ns: 0,
                },
                Observed::NoFile,
                Observed::Folder {
                    stamp: Stamp {
                        size: 4096,
                        mtime_ns: 20,
                        ctime_ns: 21,
                        inode: 22,
                    },
                    listed_at: 23,
                },
                Observed::Missing,
            ],
        };
        let body = encode(&witness).unwrap();
        assert_eq!(decode(&body), Some(witness.clone()));
        let empty = Witness {
            root: None,
            paths: vec![],
            observed: vec![],
            ..witness.clone()
        };
        assert_eq!(decode(&encode(&empty).unwrap()), Some(empty));
        // Every truncation is refused, never misread.
        for len in 0..body.len() {
            assert_eq!(decode(&body[..len]), None, "truncated to {len}");
        }
        // A path that escapes the project is refused.
        let escaping = Witness {
            paths: vec![WorkspacePath::new("a.txt").unwrap()],
            observed: vec![Observed::NoFile],
            ..witness
        };
        let bytes = encode(&escaping).unwrap();
        let at = bytes.windows(5).position(|w| w == b"a.txt").unwrap();
        let mut bad = bytes.clone();
        bad[at..at + 5].copy_from_slice(b"../xy");
        assert_eq!(decode(&bad), None);
    }
}
