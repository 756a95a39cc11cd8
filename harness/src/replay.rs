//! `p2mls replay`: re-sends the client frames of a failed gateway check, from its transcript in a
//! report.json, to a gateway, with the recorded timing, and prints the new transcript. Secrets
//! recorded as `$TOKEN_ALICE` etc. are taken from environment variables of the same name.

use crate::Error;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::clients::gateway::{Direction, GatewayClient, Incoming, Transcript, TranscriptFrame};

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// A report.json written by `p2mls run --out`.
    pub report: PathBuf,
    /// The id of the check whose transcript to replay.
    #[arg(long)]
    pub check: String,
    /// Gateway URL to replay against (default: the one recorded).
    #[arg(long)]
    pub gateway: Option<String>,
}

/// How long to listen for answers after each sent frame.
const LISTEN: Duration = Duration::from_millis(300);

/// Replaces `$NAME` variables with environment values; names the missing ones.
fn fill_secrets(payload: &str) -> Result<String, String> {
    let mut out = payload.to_owned();
    let mut rest = payload;
    while let Some(start) = rest.find('$') {
        let name: String = rest[start + 1..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !name.is_empty() {
            let value = std::env::var(&name)
                .map_err(|_| format!("set {name} to replay this transcript"))?;
            out = out.replace(&format!("${name}"), &value);
        }
        rest = &rest[start + 1..];
    }
    Ok(out)
}

/// The recorded frames of `check` in a report.
pub fn recorded(report: &Value, check: &str) -> Result<Vec<TranscriptFrame>, Error> {
    recorded_frames(report, check).map_err(Error::Usage)
}

fn recorded_frames(report: &Value, check: &str) -> Result<Vec<TranscriptFrame>, String> {
    let entry = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == check))
        .ok_or_else(|| format!("the report has no check `{check}`"))?;
    let frames = entry["evidence"]["transcript"].clone();
    if frames.is_null() {
        return Err(format!(
            "check `{check}` has no gateway transcript (it passed, or is not a gateway check)"
        ));
    }
    serde_json::from_value(frames)
        .map_err(|e| format!("the transcript of `{check}` is malformed: {e}"))
}

/// Replays the client side; returns the new transcript.
pub async fn replay(args: &ReplayArgs) -> Result<Vec<TranscriptFrame>, Error> {
    replay_frames(args).await.map_err(Error::Usage)
}

async fn replay_frames(args: &ReplayArgs) -> Result<Vec<TranscriptFrame>, String> {
    let text = std::fs::read_to_string(&args.report)
        .map_err(|e| format!("cannot read {}: {e}", args.report.display()))?;
    let report: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", args.report.display()))?;
    let frames = recorded_frames(&report, &args.check)?;
    let transcript = Transcript::default();
    let mut connections: Vec<(String, GatewayClient)> = Vec::new();
    let started = tokio::time::Instant::now();
    for frame in frames {
        match frame.direction {
            Direction::Received => {}
            Direction::Note => {
                if let Some(url) = frame.payload.strip_prefix("open ") {
                    let url = args.gateway.clone().unwrap_or_else(|| url.to_owned());
                    let client =
                        GatewayClient::connect(&url, &frame.connection, transcript.clone()).await?;
                    connections.push((frame.connection.clone(), client));
                } else if frame.payload == "client closes" {
                    if let Some(i) = connections
                        .iter()
                        .position(|(name, _)| *name == frame.connection)
                    {
                        connections.remove(i).1.close().await;
                    }
                }
            }
            Direction::Sent => {
                tokio::time::sleep_until(started + Duration::from_millis(frame.at_ms)).await;
                let payload = fill_secrets(&frame.payload)?;
                let Some((_, client)) = connections
                    .iter_mut()
                    .find(|(name, _)| *name == frame.connection)
                else {
                    return Err(format!("frame for unknown connection {}", frame.connection));
                };
                client.send_text(payload).await?;
            }
        }
        for (_, client) in connections.iter_mut() {
            while let Incoming::Event(_) | Incoming::Malformed(_) = client.recv(LISTEN).await {}
        }
    }
    for (_, client) in connections {
        client.close().await;
    }
    Ok(transcript.take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_environment() {
        std::env::set_var("P2MLS_TEST_TOKEN_X", "abc");
        assert_eq!(
            fill_secrets(r#"{"token":"$P2MLS_TEST_TOKEN_X"}"#).as_deref(),
            Ok(r#"{"token":"abc"}"#)
        );
        assert!(fill_secrets("$P2MLS_TEST_UNSET_Y")
            .unwrap_err()
            .contains("P2MLS_TEST_UNSET_Y"));
        assert_eq!(fill_secrets("cost: 5 $").as_deref(), Ok("cost: 5 $"));
    }

    #[test]
    fn transcripts_are_found_by_check_id() {
        let report = serde_json::json!({"checks": [
            {"id": "a", "evidence": null},
            {"id": "b", "evidence": {"transcript": [
                {"connection": "c#1", "direction": "sent", "at_ms": 3, "payload": "{}"}
            ]}}
        ]});
        assert_eq!(recorded(&report, "b").expect("frames").len(), 1);
        assert!(recorded(&report, "a").is_err());
        assert!(recorded(&report, "zzz").is_err());
    }
}
