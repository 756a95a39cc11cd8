//! An HTTP client that records every exchange as evidence (curl line, status, headers, body).

use crate::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::tls::TlsSettings;

/// One HTTP exchange, recorded as evidence.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exchange {
    /// The request as a curl command line (tokens replaced by variable names).
    pub request: String,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// The response body, truncated.
    pub body: String,
    /// The request as sent (with its real token): kept in memory for replays, never written.
    #[serde(skip)]
    pub sent: Option<ApiRequest>,
    /// Rate-limit answers waited out before this one (status, Retry-After, time waited).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub retries: Vec<String>,
}

impl Exchange {
    /// The status as reports show it: the number, or that no response came.
    pub fn status_text(&self) -> String {
        self.status
            .map_or_else(|| "no response".to_owned(), |s| s.to_string())
    }
}

/// Longest response body kept in evidence.
const EVIDENCE_BODY_LIMIT: usize = 2048;
/// Largest response body the harness reads at all: a hostile target cannot exhaust memory.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Who authenticates a request.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// A real token, shown in evidence as `$<label>`.
    Bearer {
        token: String,
        label: String,
    },
    /// A literal (e.g. invalid) token, shown as is.
    Literal(String),
}

/// A request to the target.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub auth: Auth,
    pub body: Option<(String, Vec<u8>)>,
    pub headers: Vec<(String, String)>,
    /// (name, value, label) of headers that carry secrets (PROFILE.idcert-issue's second factor).
    pub secret_headers: Vec<(String, String, String)>,
    /// Hand a 429 back as it is (for the check that provokes one).
    pub no_retry: bool,
}

impl ApiRequest {
    pub fn new(method: Method, path: impl Into<String>, auth: Auth) -> Self {
        Self {
            method,
            path: path.into(),
            auth,
            body: None,
            headers: Vec::new(),
            secret_headers: Vec::new(),
            no_retry: false,
        }
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(("application/json".into(), body.to_string().into_bytes()));
        self
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.into(), body.into()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A 429 is answered to the caller, not retried.
    pub fn without_retry(mut self) -> Self {
        self.no_retry = true;
        self
    }

    /// A header whose value is a secret: sent as is, shown as `$LABEL` in the evidence.
    pub fn secret_header(mut self, name: &str, value: &str, label: &str) -> Self {
        self.secret_headers
            .push((name.into(), value.into(), label.into()));
        self
    }
}

/// A response from the target.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The HTTP client with its base URL, its pacing and its rate-limit policy.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    timeout: Duration,
    policy: RetryPolicy,
    /// Shared by every clone (concurrent checks): the run's pacing and what it waited.
    shared: Arc<Shared>,
}

/// How the harness treats a target that protects itself (429, or 503 with Retry-After).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries of one request at most.
    pub max_retries: u32,
    /// Time the whole run may spend waiting out rate limits.
    pub budget: Duration,
    /// Requests per second across the run (None: as fast as answers come).
    pub rate: Option<f64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            budget: Duration::from_secs(120),
            rate: None,
        }
    }
}

#[derive(Default)]
struct Shared {
    /// When the next request may start (pacing).
    next_slot: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    /// Milliseconds spent waiting out Retry-After (and 429 back-off).
    waited_ms: AtomicU64,
    retries: AtomicU64,
}

/// Waiting a target imposed on the run, for the report header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RateLimitStats {
    pub retries: u64,
    pub waited_ms: u64,
}

impl Http {
    /// A client trusting the bundled web roots.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, Error> {
        Self::with_tls(base, timeout, &TlsSettings::default())
    }

    /// A client with the target config's trust anchors (or its explicit opt-out).
    pub fn with_tls(base: &str, timeout: Duration, tls: &TlsSettings) -> Result<Self, Error> {
        // reqwest's `timeout` is a total deadline (connect to end of body), so a target that
        // trickles its body cannot keep a request alive beyond it.
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls.http_config())
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            timeout,
            policy: RetryPolicy::default(),
            shared: Arc::default(),
        })
    }

    /// With a retry and pacing policy (the target config's, `--rate`).
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Retries and time waited for rate limits so far, across all clones.
    pub fn rate_limit_stats(&self) -> RateLimitStats {
        RateLimitStats {
            retries: self.shared.retries.load(Ordering::Relaxed),
            waited_ms: self.shared.waited_ms.load(Ordering::Relaxed),
        }
    }

    /// Waits for the request's slot under `--rate`.
    async fn pace(&self) {
        let Some(rate) = self.policy.rate.filter(|r| *r > 0.0) else {
            return;
        };
        let interval = Duration::from_secs_f64(1.0 / rate);
        let start = {
            let mut next = self.shared.next_slot.lock().await;
            let now = tokio::time::Instant::now();
            let start = next.map_or(now, |slot| slot.max(now));
            *next = Some(start + interval);
            start
        };
        tokio::time::sleep_until(start).await;
    }

    /// The same client (trust anchors, pacing, retry policy) for another origin.
    pub fn at(&self, base: &str) -> Http {
        Http {
            base: base.trim_end_matches('/').to_owned(),
            ..self.clone()
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The per-request deadline (also bounds WebSocket handshakes).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a request; returns the response and the recorded exchange. A 429, or a 503 with
    /// `Retry-After`, is waited out and retried (within the policy); every such answer stays in
    /// the exchange's `retries`.
    pub async fn send(&self, req: &ApiRequest) -> (Result<ApiResponse, Error>, Exchange) {
        let mut retries = Vec::new();
        let mut backoff = Duration::from_secs(1);
        loop {
            self.pace().await;
            let (result, mut exchange) = self.send_once(req).await;
            let Some(wait) = result.as_ref().ok().and_then(|r| retry_wait(r, backoff)) else {
                exchange.retries = retries;
                return (result.map_err(Error::Transport), exchange);
            };
            let status = exchange.status.unwrap_or_default();
            let waited = Duration::from_millis(self.shared.waited_ms.load(Ordering::Relaxed));
            let refused = if retries.len() as u32 >= self.policy.max_retries || req.no_retry {
                Some(format!("{status} after {} retries", retries.len()))
            } else if waited + wait > self.policy.budget {
                Some(format!(
                    "{status} asking for {wait:?}, past the run's retry budget of {:?} ({waited:?} spent)",
                    self.policy.budget
                ))
            } else {
                None
            };
            if let Some(why) = refused {
                exchange.retries = retries;
                if req.no_retry {
                    // The caller judges 429 itself (the rate-limit check).
                    return (result.map_err(Error::Transport), exchange);
                }
                return (Err(Error::RateLimited(why)), exchange);
            }
            retries.push(format!(
                "{status}{}: waited {} ms",
                exchange
                    .headers
                    .iter()
                    .find(|(k, _)| k == "retry-after")
                    .map(|(_, v)| format!(" (Retry-After: {v})"))
                    .unwrap_or_default(),
                wait.as_millis()
            ));
            self.shared.retries.fetch_add(1, Ordering::Relaxed);
            self.shared
                .waited_ms
                .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    async fn send_once(&self, req: &ApiRequest) -> (Result<ApiResponse, String>, Exchange) {
        let url = format!("{}{}", self.base, req.path);
        let mut builder = self.client.request(req.method.clone(), &url);
        match &req.auth {
            Auth::None => {}
            Auth::Bearer { token, .. } => builder = builder.bearer_auth(token),
            Auth::Literal(token) => {
                builder = builder.header("Authorization", format!("Bearer {token}"))
            }
        }
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        for (name, value, _) in &req.secret_headers {
            builder = builder.header(name, value);
        }
        if let Some((content_type, body)) = &req.body {
            builder = builder
                .header("Content-Type", content_type)
                .body(body.clone());
        }
        let curl = curl_line(req, &url);
        let result = match builder.send().await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let headers: Vec<(String, String)> = response
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let mut body = Vec::new();
                let mut failure = None;
                loop {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            if body.len() + chunk.len() > MAX_BODY {
                                failure = Some(format!("response body exceeds {MAX_BODY} bytes"));
                                break;
                            }
                            body.extend_from_slice(&chunk);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            failure = Some(format!(
                                "reading the response body failed: {}",
                                self.describe(&e)
                            ));
                            break;
                        }
                    }
                }
                match failure {
                    Some(f) => Err(f),
                    None => Ok(ApiResponse {
                        status,
                        content_type,
                        headers,
                        body,
                    }),
                }
            }
            Err(e) => Err(format!("request failed: {}", self.describe(&e))),
        };
        let exchange = Exchange {
            request: curl,
            status: result.as_ref().ok().map(|r| r.status),
            headers: result
                .as_ref()
                .map(|r| {
                    r.headers
                        .iter()
                        .filter(|(k, _)| k != "date")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            body: match &result {
                Ok(r) => truncate(&r.text()),
                Err(e) => format!("<{e}>"),
            },
            sent: Some(req.clone()),
            retries: Vec::new(),
        };
        (result, exchange)
    }

    /// A reqwest error with its causes (its own message hides them), a timeout named as such.
    fn describe(&self, error: &reqwest::Error) -> String {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        if error.is_timeout() {
            text = format!("no complete answer within {:?} ({text})", self.timeout);
        }
        text
    }
}

/// How long to wait before retrying `response`: a 429 (with its Retry-After, else the
/// back-off), or a 503 with Retry-After. None: judge the answer as it is.
fn retry_wait(response: &ApiResponse, backoff: Duration) -> Option<Duration> {
    let retry_after = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| parse_retry_after(v, std::time::SystemTime::now()));
    match (response.status, retry_after) {
        (429, Some(wait)) | (503, Some(wait)) => Some(wait),
        (429, None) => Some(backoff),
        _ => None,
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; a date in the past is 0.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

fn truncate(text: &str) -> String {
    if text.len() <= EVIDENCE_BODY_LIMIT {
        return text.to_owned();
    }
    let mut end = EVIDENCE_BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The request as a curl command line, tokens replaced by variable names.
fn curl_line(req: &ApiRequest, url: &str) -> String {
    let mut parts = vec![
        "curl".to_owned(),
        "-X".into(),
        req.method.to_string(),
        shell_quote(url),
    ];
    match &req.auth {
        Auth::None => {}
        Auth::Bearer { label, .. } => {
            parts.push("-H".into());
            parts.push(format!("\"Authorization: Bearer ${label}\""));
        }
        Auth::Literal(token) => {
            parts.push("-H".into());
            parts.push(shell_quote(&format!("Authorization: Bearer {token}")));
        }
    }
    for (name, value) in &req.headers {
        parts.push("-H".into());
        parts.push(shell_quote(&format!("{name}: {value}")));
    }
    for (name, _, label) in &req.secret_headers {
        parts.push("-H".into());
        parts.push(format!("\"{name}: ${label}\""));
    }
    if let Some((content_type, body)) = &req.body {
        parts.push("-H".into());
        parts.push(shell_quote(&format!("Content-Type: {content_type}")));
        parts.push("--data-raw".into());
        parts.push(shell_quote(&truncate(&String::from_utf8_lossy(body))));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn curl_lines_hide_tokens_and_quote_bodies() {
        let req = ApiRequest::new(
            Method::POST,
            "/x",
            Auth::Bearer {
                token: "secret".into(),
                label: "TOKEN_ALICE".into(),
            },
        )
        .secret_header("X-P2-Sensitive-Solution", "hunter2", "PASSWORD_ALICE")
        .raw("text/plain", "it's");
        let line = curl_line(&req, "http://h/x");
        assert!(!line.contains("secret"));
        assert!(!line.contains("hunter2"));
        assert!(line.contains("X-P2-Sensitive-Solution: $PASSWORD_ALICE"));
        assert!(line.contains("$TOKEN_ALICE"));
        assert!(line.contains(r"'it'\''s'"));
    }
}
