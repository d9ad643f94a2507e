//! GET with timeouts, retries and backoff that honour `Retry-After`.

use std::io::Read;
use std::time::Duration;

use crate::key::ApiKey;
use crate::FetchError;

/// Retry and timeout settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first try (so `retries + 1` tries in all).
    pub retries: u32,
    /// First backoff; doubled after every failed try.
    pub backoff: Duration,
    /// Longest wait between tries, also the cap on a server's `Retry-After`.
    pub max_backoff: Duration,
    /// Connect timeout, and the longest silence while waiting for headers or body bytes.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 6,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(120),
            timeout: Duration::from_secs(60),
        }
    }
}

/// What a GET gave.
pub(crate) enum Got<T> {
    Found(T),
    /// 404 (or 403 from the anonymous bucket, S3's answer for a missing key without list rights).
    Missing,
}

/// A retry the client is about to make (for progress display).
#[derive(Debug, Clone)]
pub struct RetryNote {
    /// URL without the query.
    pub url: String,
    /// Why the last try failed.
    pub reason: String,
    /// Seconds waited before the next try.
    pub wait_s: f64,
}

pub(crate) struct Client {
    agent: ureq::Agent,
    key: ApiKey,
    policy: RetryPolicy,
}

/// Why one try failed.
enum TryError {
    /// Worth another try; `retry_after` from the server when it said.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Another try would fail the same way.
    Final(FetchError),
}

impl Client {
    pub(crate) fn new(key: ApiKey, policy: RetryPolicy) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(policy.timeout))
            .timeout_recv_response(Some(policy.timeout))
            .timeout_per_read(Some(policy.timeout))
            .user_agent(concat!("multimat-mpfetch/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.new_agent(),
            key,
            policy,
        }
    }

    /// GETs `url` (with the API key when `auth`) and hands the body to `check`, retrying
    /// transport errors, 429, 5xx and bodies that `check` rejects (truncated transfers).
    /// `route` names the request in messages (URLs in messages stop before the query).
    pub(crate) fn get<T>(
        &self,
        url: &str,
        auth: bool,
        check: &dyn Fn(Vec<u8>) -> Result<T, String>,
        on_retry: &dyn Fn(RetryNote),
    ) -> Result<Got<T>, FetchError> {
        let shown = url.split('?').next().unwrap_or(url).to_string();
        let mut last = String::new();
        for attempt in 0..=self.policy.retries {
            match self.try_once(url, &shown, auth) {
                Ok(None) => return Ok(Got::Missing),
                Ok(Some(body)) => match check(body) {
                    Ok(v) => return Ok(Got::Found(v)),
                    Err(why) => {
                        last = format!("unusable response: {why}");
                        self.wait(attempt, None, &shown, &last, on_retry);
                    }
                },
                Err(TryError::Final(e)) => return Err(e),
                Err(TryError::Transient {
                    reason,
                    retry_after,
                }) => {
                    last = reason;
                    self.wait(attempt, retry_after, &shown, &last, on_retry);
                }
            }
        }
        Err(FetchError::Http {
            url: shown,
            problem: format!(
                "gave up after {} tries; last: {}",
                self.policy.retries + 1,
                self.key.scrub(&last)
            ),
        })
    }

    fn wait(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        url: &str,
        reason: &str,
        on_retry: &dyn Fn(RetryNote),
    ) {
        if attempt >= self.policy.retries {
            return;
        }
        let backoff = self
            .policy
            .backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.policy.max_backoff);
        let d = retry_after
            .map(|r| r.min(self.policy.max_backoff))
            .unwrap_or(backoff);
        on_retry(RetryNote {
            url: url.to_string(),
            reason: self.key.scrub(reason),
            wait_s: d.as_secs_f64(),
        });
        std::thread::sleep(d);
    }

    fn try_once(&self, url: &str, shown: &str, auth: bool) -> Result<Option<Vec<u8>>, TryError> {
        let mut req = self.agent.get(url);
        if auth {
            req = req.header("x-api-key", self.key.expose());
        }
        let resp = req.call().map_err(|e| TryError::Transient {
            reason: self.key.scrub(&e.to_string()),
            retry_after: None,
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let mut body = Vec::new();
        let read = resp.into_body().into_reader().read_to_end(&mut body);
        match status {
            200..=299 => match read {
                Ok(_) => Ok(Some(body)),
                Err(e) => Err(TryError::Transient {
                    reason: format!("connection dropped while reading the body: {e}"),
                    retry_after: None,
                }),
            },
            404 => Ok(None),
            401 | 403 if auth => Err(TryError::Final(FetchError::KeyRejected {
                status,
                route: route_of(shown),
            })),
            403 => Ok(None),
            408 | 425 | 429 | 500 | 502 | 503 | 504 => Err(TryError::Transient {
                reason: format!("HTTP {status}"),
                retry_after,
            }),
            _ => {
                let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                Err(TryError::Final(FetchError::Http {
                    url: shown.to_string(),
                    problem: format!("HTTP {status}: {}", self.key.scrub(text.trim())),
                }))
            }
        }
    }
}

/// The path of a URL (`https://host/materials/summary/` → `materials/summary`).
fn route_of(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split_once('/')
        .map(|(_, p)| p.trim_end_matches('/').to_string())
        .unwrap_or_default()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept; `,` kept for id lists,
/// as the API splits them itself).
pub(crate) fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~,".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_queries_and_routes() {
        assert_eq!(encode("mp-1,mp-2"), "mp-1,mp-2");
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            route_of("https://api.example.org/materials/summary/"),
            "materials/summary"
        );
    }
}
