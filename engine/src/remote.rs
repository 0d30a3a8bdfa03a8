//! The remote cache, sans-IO: its configuration and the artifact format.
//!
//! A remote cache shares action-cache hits between machines over the
//! Turborepo remote-cache HTTP API (`GET`/`PUT {url}/v8/artifacts/{hash}`,
//! `Authorization: Bearer {token}`), as served by a self-hosted
//! `turborepo-remote-cache` or by Vercel. The engine never speaks HTTP: the
//! build queues fetches and uploads (see [`crate::build::Build::poll_fetch`],
//! [`crate::build::Build::poll_upload`]) and the driver carries them out.
//!
//! One rule result is one **artifact**: a self-describing byte string holding
//! the action key, the [`ActionEntry`] (outputs, logs) and every output blob:
//!
//! ```text
//! "cloesce-artifact v1\n"
//! key          32 bytes
//! entry_len    u32 LE, then the entry as JSON (the action cache's encoding)
//! blob_count   u32 LE, then per blob: digest (32 bytes), len (u64 LE), bytes
//! checksum     32 bytes: the blake3 digest of everything before it
//! ```
//!
//! Decoding checks everything before anything is trusted: the checksum, the
//! header, the key, every blob against its digest, every output against a blob of the
//! right size, and that nothing trails. A rejected artifact is a miss.

use std::collections::{BTreeMap, VecDeque};

use crate::fingerprint::Digest;
use crate::job::JobId;
use crate::store::ActionEntry;

/// First bytes of every artifact.
pub const ARTIFACT_HEADER: &[u8] = b"cloesce-artifact v1\n";

/// The environment variables that configure the remote cache (they override
/// `cloesce.kdl`).
pub const ENV_URL: &str = "CLOESCE_REMOTE_CACHE_URL";
pub const ENV_TOKEN: &str = "CLOESCE_REMOTE_CACHE_TOKEN";
pub const ENV_TEAM: &str = "CLOESCE_REMOTE_CACHE_TEAM";
pub const ENV_READ_ONLY: &str = "CLOESCE_REMOTE_CACHE_READ_ONLY";

/// The `remote-cache` node of `cloesce.kdl`, as written (the token itself is
/// never in the file: only the name of the variable holding it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteCacheSettings {
    pub url: Option<String>,
    pub team: Option<String>,
    pub token_env: Option<String>,
    pub read_only: Option<bool>,
}

/// A resolved remote cache: where, as whom, and whether to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// Base URL without a trailing `/`.
    pub url: String,
    pub team: Option<String>,
    pub token: Option<String>,
    pub read_only: bool,
}

impl RemoteConfig {
    /// The file's settings overridden by the environment; `None` when no URL
    /// is configured anywhere.
    pub fn resolve(
        file: Option<&RemoteCacheSettings>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<RemoteConfig> {
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let file = file.cloned().unwrap_or_default();
        let url = non_empty(env(ENV_URL)).or(file.url)?;
        let team = non_empty(env(ENV_TEAM)).or(file.team);
        let token = non_empty(env(ENV_TOKEN)).or_else(|| {
            file.token_env
                .as_deref()
                .and_then(|name| non_empty(env(name)))
        });
        let read_only = match non_empty(env(ENV_READ_ONLY)) {
            Some(v) => !matches!(v.trim(), "0" | "false" | "no"),
            None => file.read_only.unwrap_or(false),
        };
        Some(RemoteConfig {
            url: url.trim().trim_end_matches('/').to_string(),
            team,
            token,
            read_only,
        })
    }

    /// `{url}/v8/artifacts/{key in hex}` with the team query (`teamId=` for
    /// Vercel team ids, which start with `team_`, else `slug=`).
    pub fn artifact_url(&self, key: &Digest) -> String {
        let mut url = format!("{}/v8/artifacts/{}", self.url, key.to_hex());
        if let Some(team) = &self.team {
            let param = if team.starts_with("team_") {
                "teamId"
            } else {
                "slug"
            };
            url.push_str(&format!("?{param}={}", percent_encode(team)));
        }
        url
    }

    /// The request headers (the token, when there is one).
    pub fn headers(&self, upload: bool) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        if let Some(token) = &self.token {
            headers.push(("Authorization".to_string(), format!("Bearer {token}")));
        }
        if upload {
            headers.push((
                "Content-Type".to_string(),
                "application/octet-stream".to_string(),
            ));
        }
        headers
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why an artifact was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    #[error("not a cloesce artifact (or another version)")]
    Header,
    #[error("the artifact's checksum does not match (damaged or truncated)")]
    Checksum,
    #[error("the artifact is truncated")]
    Truncated,
    #[error("the artifact is for another action key")]
    WrongKey,
    #[error("the artifact's entry does not parse")]
    Entry,
    #[error("a blob does not match its digest")]
    BlobDigest,
    #[error("output {0} has no matching blob")]
    MissingBlob(String),
    #[error("the artifact has trailing bytes")]
    Trailing,
}

/// Encodes one rule result. `blobs` must hold every output's bytes.
pub fn encode_artifact(key: &Digest, entry: &ActionEntry, blobs: &[(Digest, Vec<u8>)]) -> Vec<u8> {
    let json = serde_json::to_vec(entry).expect("an action entry always serialises");
    let size = blobs.iter().map(|(_, b)| 40 + b.len()).sum::<usize>();
    let mut out = Vec::with_capacity(ARTIFACT_HEADER.len() + 40 + json.len() + size);
    out.extend_from_slice(ARTIFACT_HEADER);
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for (digest, bytes) in blobs {
        out.extend_from_slice(&digest.0);
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    let checksum = Digest::of(&out);
    out.extend_from_slice(&checksum.0);
    out
}

/// A decoded, verified artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub entry: ActionEntry,
    /// Every blob, verified against its digest.
    pub blobs: Vec<(Digest, Vec<u8>)>,
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ArtifactError> {
        if self.bytes.len() < n {
            return Err(ArtifactError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn digest(&mut self) -> Result<Digest, ArtifactError> {
        let mut d = [0u8; 32];
        d.copy_from_slice(self.take(32)?);
        Ok(Digest(d))
    }
    fn u32(&mut self) -> Result<u32, ArtifactError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, ArtifactError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
}

/// Parses and verifies an artifact downloaded for `key`.
pub fn decode_artifact(key: &Digest, bytes: &[u8]) -> Result<Artifact, ArtifactError> {
    let body = bytes
        .strip_prefix(ARTIFACT_HEADER)
        .ok_or(ArtifactError::Header)?;
    if body.len() < 32 {
        return Err(ArtifactError::Truncated);
    }
    let (content, checksum) = bytes.split_at(bytes.len() - 32);
    if Digest::of(content).0 != checksum {
        return Err(ArtifactError::Checksum);
    }
    let body = &content[ARTIFACT_HEADER.len()..];
    let mut r = Reader { bytes: body };
    if r.digest()? != *key {
        return Err(ArtifactError::WrongKey);
    }
    let len = r.u32()? as usize;
    let mut entry: ActionEntry =
        serde_json::from_slice(r.take(len)?).map_err(|_| ArtifactError::Entry)?;
    // What went into the key only explains later changes; one that is not
    // the key's preimage would explain them wrongly, so it is dropped.
    if entry
        .key_input
        .as_ref()
        .is_some_and(|input| input.key() != *key)
    {
        entry.key_input = None;
    }
    let count = r.u32()? as usize;
    let mut blobs: Vec<(Digest, Vec<u8>)> = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let digest = r.digest()?;
        let len = usize::try_from(r.u64()?).map_err(|_| ArtifactError::Truncated)?;
        let data = r.take(len)?;
        if Digest::of(data) != digest {
            return Err(ArtifactError::BlobDigest);
        }
        blobs.push((digest, data.to_vec()));
    }
    if !r.bytes.is_empty() {
        return Err(ArtifactError::Trailing);
    }
    let sizes: BTreeMap<Digest, u64> = blobs.iter().map(|(d, b)| (*d, b.len() as u64)).collect();
    for output in &entry.outputs {
        if sizes.get(&output.digest) != Some(&output.size) {
            return Err(ArtifactError::MissingBlob(output.path.to_string()));
        }
    }
    Ok(Artifact { entry, blobs })
}

/// A rule waiting for its remote lookup (kept by the build).
pub(crate) struct Fetching<T> {
    pub key: Digest,
    pub pending: T,
}

/// The remote side of one build: what to fetch and upload, and counts.
pub(crate) struct RemoteState<T> {
    pub read_only: bool,
    /// False once the driver gave up on the remote for this run.
    pub enabled: bool,
    pub fetch_queue: VecDeque<(JobId, Digest)>,
    pub upload_queue: VecDeque<(Digest, Vec<u8>)>,
    pub fetching: BTreeMap<u32, Fetching<T>>,
    /// Fetched results that turned out unusable; the rules run.
    pub after_miss: VecDeque<(u32, Fetching<T>)>,
    pub warnings: VecDeque<String>,
    pub rejected: usize,
}

impl<T> RemoteState<T> {
    pub fn new(read_only: bool) -> Self {
        RemoteState {
            read_only,
            enabled: true,
            fetch_queue: VecDeque::new(),
            upload_queue: VecDeque::new(),
            fetching: BTreeMap::new(),
            after_miss: VecDeque::new(),
            warnings: VecDeque::new(),
            rejected: 0,
        }
    }

    /// Counts a rejected artifact; warns on the first.
    pub fn reject(&mut self, rule: &str, error: &ArtifactError) {
        self.rejected += 1;
        if self.rejected == 1 {
            self.warnings.push_back(format!(
                "warning: rejected a remote cache artifact for rule `{rule}` ({error}); the rule runs instead"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::ActionKeyInput;
    use crate::path::WorkspacePath;
    use crate::store::OutputRecord;

    fn sample() -> (Digest, ActionEntry, Vec<(Digest, Vec<u8>)>) {
        let a = b"hello\n".to_vec();
        let b = vec![0u8, 1, 2, 255];
        let entry = ActionEntry {
            rule: "gen".into(),
            outputs: vec![
                OutputRecord {
                    path: WorkspacePath::new("out/a.txt").unwrap(),
                    digest: Digest::of(&a),
                    size: a.len() as u64,
                    executable: false,
                },
                OutputRecord {
                    path: WorkspacePath::new("out/b.bin").unwrap(),
                    digest: Digest::of(&b),
                    size: b.len() as u64,
                    executable: true,
                },
            ],
            stdout: "made\n".into(),
            stderr: String::new(),
            key_input: Some(key_input("src.txt")),
            inline: Default::default(),
        };
        let key = key_input("src.txt").key();
        let blobs = vec![(Digest::of(&a), a), (Digest::of(&b), b)];
        (key, entry, blobs)
    }

    fn key_input(input: &str) -> ActionKeyInput {
        ActionKeyInput {
            definition: Digest::of(b"definition"),
            inputs: vec![(WorkspacePath::new(input).unwrap(), Digest::of(b"in"))],
            upstream: vec![],
            env: vec![],
            tools: vec![],
        }
    }

    #[test]
    fn a_key_input_that_is_not_the_keys_preimage_is_dropped() {
        let (key, mut entry, blobs) = sample();
        let decoded = decode_artifact(&key, &encode_artifact(&key, &entry, &blobs)).unwrap();
        assert_eq!(decoded.entry.key_input, Some(key_input("src.txt")));
        entry.key_input = Some(key_input("other.txt"));
        let decoded = decode_artifact(&key, &encode_artifact(&key, &entry, &blobs)).unwrap();
        assert_eq!(decoded.entry.key_input, None);
        assert_eq!(decoded.entry.outputs, entry.outputs);
    }

    #[test]
    fn round_trip() {
        let (key, entry, blobs) = sample();
        let bytes = encode_artifact(&key, &entry, &blobs);
        let artifact = decode_artifact(&key, &bytes).unwrap();
        assert_eq!(artifact.entry, entry);
        assert_eq!(artifact.blobs, blobs);
    }

    #[test]
    fn every_corruption_is_rejected() {
        let (key, entry, blobs) = sample();
        let bytes = encode_artifact(&key, &entry, &blobs);
        // Flipping any single byte is caught (header, key, lengths, entry or a blob).
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            assert!(
                decode_artifact(&key, &bad).is_err(),
                "byte {i} flipped and accepted"
            );
        }
        // Truncation at every length.
        for n in 0..bytes.len() {
            assert!(decode_artifact(&key, &bytes[..n]).is_err(), "cut at {n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_artifact(&key, &long).is_err());
        assert_eq!(
            decode_artifact(&Digest::of(b"other"), &bytes),
            Err(ArtifactError::WrongKey)
        );
        // A blob left out.
        let short = encode_artifact(&key, &entry, &blobs[..1]);
        assert!(matches!(
            decode_artifact(&key, &short),
            Err(ArtifactError::MissingBlob(_))
        ));
    }

    #[test]
    fn config_env_overrides_file() {
        let file = RemoteCacheSettings {
            url: Some("https://file.example/".into()),
            team: Some("files".into()),
            token_env: Some("MY_TOKEN".into()),
            read_only: Some(true),
        };
        let env = |name: &str| match name {
            "MY_TOKEN" => Some("t1".to_string()),
            ENV_TEAM => Some("team_123".to_string()),
            _ => None,
        };
        let config = RemoteConfig::resolve(Some(&file), &env).unwrap();
        assert_eq!(config.url, "https://file.example");
        assert_eq!(config.token.as_deref(), Some("t1"));
        assert!(config.read_only);
        let key = Digest::of(b"k");
        assert_eq!(
            config.artifact_url(&key),
            format!(
                "https://file.example/v8/artifacts/{}?teamId=team_123",
                key.to_hex()
            )
        );
        let env = |name: &str| match name {
            ENV_URL => Some("http://127.0.0.1:9".to_string()),
            ENV_READ_ONLY => Some("0".to_string()),
            ENV_TOKEN => Some("t2".to_string()),
            _ => None,
        };
        let config = RemoteConfig::resolve(Some(&file), &env).unwrap();
        assert_eq!(config.url, "http://127.0.0.1:9");
        assert_eq!(config.token.as_deref(), Some("t2"));
        assert!(!config.read_only);
        assert!(RemoteConfig::resolve(None, &|_| None).is_none());
    }
}
