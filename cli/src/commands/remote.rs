//! The remote cache on the driver's side: turns the build's fetch and upload
//! queues into HTTP requests through the [`Platform`], and decides what a
//! failure means (see docs/remote-cache.md):
//!
//! - 200 → the artifact goes to [`Build::handle_fetched`]; 404 → a miss;
//! - 401/403 → one warning naming the token, then local-only for the run;
//! - anything else (refused, timeout, 5xx) → one warning, then local-only;
//! - uploads never delay the build; at the end the run waits (at most
//!   [`UPLOAD_GRACE_MS`] in total) for the ones in flight.

use std::collections::{HashMap, VecDeque};

use cloesce_engine::build::Build;
use cloesce_engine::fingerprint::Digest;
use cloesce_engine::host::Host;
use cloesce_engine::job::JobId;
use cloesce_engine::pipeline::{remote_cache_settings, SourceFile};
use cloesce_engine::remote::RemoteConfig;

use crate::platform::{Finished, HttpMethod, HttpRequest, HttpResponse, Platform, Stream};

/// How long the end of a run waits for uploads still in flight, in total.
pub const UPLOAD_GRACE_MS: u64 = 10_000;

/// Requests in flight at once (natively, each is a thread).
const MAX_FETCHES: usize = 16;
const MAX_UPLOADS: usize = 8;

enum InFlight {
    Fetch(JobId),
    Upload,
}

/// The remote cache of one run.
pub struct RemoteDriver {
    config: RemoteConfig,
    next_id: u64,
    in_flight: HashMap<u64, InFlight>,
    fetches: usize,
    uploads: usize,
    /// Queued beyond the caps above.
    fetch_queue: VecDeque<(JobId, Digest)>,
    upload_queue: VecDeque<(Digest, Vec<u8>)>,
    /// False once the remote failed: local-only for the rest of the run.
    enabled: bool,
    warned: bool,
    pub uploaded: usize,
    pub upload_bytes: u64,
    /// Bytes of the artifacts downloaded.
    pub download_bytes: u64,
}

/// The remote cache settings from `cloesce.kdl` and the environment.
fn remote_config<P: Platform>(
    platform: &P,
    sources: &[SourceFile],
    disabled: bool,
) -> Option<RemoteConfig> {
    if disabled {
        return None;
    }
    let file = remote_cache_settings(sources);
    RemoteConfig::resolve(file.as_ref(), &|name| platform.env_var(name))
}

impl RemoteDriver {
    /// The configured remote cache, unless disabled, a dry run, or the
    /// platform cannot speak HTTP.
    pub fn configure<P: Platform>(
        platform: &P,
        pipeline: &cloesce_engine::pipeline::Pipeline,
        disabled: bool,
    ) -> Option<RemoteDriver> {
        let config = remote_config(platform, &pipeline.sources, disabled)?;
        if !platform.supports_http() {
            platform.write(
                Stream::Stderr,
                "warning: this build of cloesce cannot reach a remote cache; using the local cache only\n",
            );
            return None;
        }
        Some(RemoteDriver {
            config,
            next_id: 0,
            in_flight: HashMap::new(),
            fetches: 0,
            uploads: 0,
            fetch_queue: VecDeque::new(),
            upload_queue: VecDeque::new(),
            enabled: true,
            warned: false,
            uploaded: 0,
            upload_bytes: 0,
            download_bytes: 0,
        })
    }

    /// Whether a run would use a remote cache (or warn that it cannot):
    /// `sources` are the pipeline's, the user's file first.
    pub fn is_configured<P: Platform>(
        platform: &P,
        sources: &[SourceFile],
        disabled: bool,
    ) -> bool {
        remote_config(platform, sources, disabled).is_some()
    }

    pub fn read_only(&self) -> bool {
        self.config.read_only
    }

    fn warn<P: Platform>(&mut self, platform: &P, text: &str) {
        if !self.warned {
            self.warned = true;
            platform.write(Stream::Stderr, &format!("warning: {text}\n"));
        }
    }

    /// Gives up on the remote for the rest of the run, with one warning.
    fn give_up<P: Platform>(&mut self, platform: &P, build: &mut Build<'_>, why: &str) {
        self.warn(
            platform,
            &format!(
                "remote cache {}: {why}; using the local cache only for this run",
                self.config.url
            ),
        );
        self.enabled = false;
        build.disable_remote();
        self.upload_queue.clear();
        for (job, _) in std::mem::take(&mut self.fetch_queue) {
            build.handle_fetched(job, None);
        }
    }

    fn start<P: Platform>(
        &mut self,
        platform: &P,
        method: HttpMethod,
        key: &Digest,
        body: Vec<u8>,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        platform.http(HttpRequest {
            id,
            method,
            url: self.config.artifact_url(key),
            headers: self.config.headers(method == HttpMethod::Put),
            body,
        });
        id
    }

    /// Starts every queued fetch and upload, and prints the build's remote
    /// warnings. Call after every `poll` and `handle_*`.
    pub fn pump<P: Platform>(&mut self, platform: &P, build: &mut Build<'_>) {
        while let Some(warning) = build.poll_warning() {
            platform.write(Stream::Stderr, &format!("{warning}\n"));
        }
        while let Some((job, key)) = build.poll_fetch() {
            if self.enabled {
                self.fetch_queue.push_back((job, key));
            } else {
                build.handle_fetched(job, None);
            }
        }
        while let Some((key, artifact)) = build.poll_upload() {
            if self.enabled && !self.config.read_only {
                self.upload_queue.push_back((key, artifact));
            }
        }
        while self.fetches < MAX_FETCHES {
            let Some((job, key)) = self.fetch_queue.pop_front() else {
                break;
            };
            let id = self.start(platform, HttpMethod::Get, &key, Vec::new());
            self.in_flight.insert(id, InFlight::Fetch(job));
            self.fetches += 1;
        }
        while self.uploads < MAX_UPLOADS {
            let Some((key, artifact)) = self.upload_queue.pop_front() else {
                break;
            };
            self.upload_bytes += artifact.len() as u64;
            let id = self.start(platform, HttpMethod::Put, &key, artifact);
            self.in_flight.insert(id, InFlight::Upload);
            self.uploads += 1;
        }
    }

    /// Handles the response to one of our requests.
    pub fn handle<P: Platform>(
        &mut self,
        platform: &P,
        build: &mut Build<'_>,
        response: HttpResponse,
    ) {
        let Some(kind) = self.in_flight.remove(&response.id) else {
            return;
        };
        match kind {
            InFlight::Fetch(_) => self.fetches -= 1,
            InFlight::Upload => self.uploads -= 1,
        }
        let failure = match &response.result {
            Ok((status, _)) if matches!(status, 401 | 403) => Some(format!(
                "the server refused the token (HTTP {status}); check CLOESCE_REMOTE_CACHE_TOKEN or the variable named by `token-env`"
            )),
            Ok((status, _)) if *status == 400 && self.config.team.is_none() => Some(
                "the server answered HTTP 400 (a self-hosted turborepo-remote-cache needs a team: set `team=` or CLOESCE_REMOTE_CACHE_TEAM)".to_string(),
            ),
            Ok((200..=299, _)) | Ok((404, _)) => None,
            Ok((status, _)) => Some(format!("the server answered HTTP {status}")),
            Err(e) => Some(format!("unreachable ({e})")),
        };
        if let Some(why) = failure {
            self.give_up(platform, build, &why);
            if let InFlight::Fetch(job) = kind {
                build.handle_fetched(job, None);
            }
            return;
        }
        match kind {
            InFlight::Fetch(job) => {
                let body = match response.result {
                    Ok((200..=299, body)) => {
                        self.download_bytes += body.len() as u64;
                        Some(body)
                    }
                    _ => None,
                };
                build.handle_fetched(job, body);
            }
            InFlight::Upload => self.uploaded += 1,
        }
    }

    /// HTTP requests in flight or queued.
    pub fn pending(&self) -> usize {
        self.in_flight.len() + self.fetch_queue.len() + self.upload_queue.len()
    }

    /// After the build: waits, at most [`UPLOAD_GRACE_MS`] in total, for the
    /// uploads still in flight, so the process does not exit mid-upload.
    pub async fn finish<P: Platform>(
        &mut self,
        platform: &P,
        host: &dyn Host,
        build: &mut Build<'_>,
    ) {
        let deadline = host.now_ns() + UPLOAD_GRACE_MS * 1_000_000;
        while self.pending() > 0 {
            let now = host.now_ns();
            if now >= deadline {
                self.warn(
                    platform,
                    &format!(
                        "{} upload(s) to the remote cache did not finish in {} s and were abandoned",
                        self.pending(),
                        UPLOAD_GRACE_MS / 1000
                    ),
                );
                break;
            }
            let left = (deadline - now) / 1_000_000;
            match platform.next_finished(Some(left.max(1))).await {
                Some(Finished::Http(response)) => {
                    self.handle(platform, build, response);
                    self.pump(platform, build);
                }
                Some(Finished::Job(_)) => {}
                None => {}
            }
        }
    }
}
