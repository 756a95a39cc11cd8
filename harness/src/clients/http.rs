//! An HTTP client that records every exchange as evidence (curl line, status, headers, body).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::tls::TlsSettings;
use crate::check::Exchange;

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

/// The HTTP client with its base URL.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    timeout: Duration,
}

impl Http {
    /// A client trusting the bundled web roots.
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        Self::with_tls(base, timeout, &TlsSettings::default())
    }

    /// A client with the target config's trust anchors (or its explicit opt-out).
    pub fn with_tls(base: &str, timeout: Duration, tls: &TlsSettings) -> anyhow::Result<Self> {
        // reqwest's `timeout` is a total deadline (connect to end of body), so a target that
        // trickles its body cannot keep a request alive beyond it.
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls.http_config())
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            timeout,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The per-request deadline (also bounds WebSocket handshakes).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a request; returns the response and the recorded exchange.
    pub async fn send(&self, req: &ApiRequest) -> (Result<ApiResponse, String>, Exchange) {
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
