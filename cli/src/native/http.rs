//! Blocking HTTP for the remote cache (`ureq` with rustls), run on a thread
//! per request by the native platform.

use std::time::Duration;

use crate::platform::{HttpMethod, HttpRequest};

/// Connecting gives up after this long (an unreachable server costs little).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole request (connect, send, receive) gives up after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest artifact accepted.
const MAX_BODY: u64 = 1 << 30;

/// Overrides [`REQUEST_TIMEOUT`] (milliseconds; for tests and slow links).
pub const TIMEOUT_ENV: &str = "CLOESCE_REMOTE_CACHE_TIMEOUT_MS";

/// One agent, shared (it pools connections).
pub fn agent() -> ureq::Agent {
    let request_timeout = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(REQUEST_TIMEOUT, Duration::from_millis);
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT.min(request_timeout)))
        .timeout_global(Some(request_timeout))
        .http_status_as_error(false)
        .user_agent(concat!("cloesce/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// Performs a request: the status and body, or why there is none.
pub fn perform(agent: &ureq::Agent, request: &HttpRequest) -> Result<(u16, Vec<u8>), String> {
    let result = match request.method {
        HttpMethod::Get => {
            let mut builder = agent.get(&request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            builder.call()
        }
        HttpMethod::Put => {
            let mut builder = agent.put(&request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            builder.send(&request.body[..])
        }
    };
    let mut response = result.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}
