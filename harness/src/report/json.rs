//! report.json. The deterministic form drops timings and the target URL, keeps evidence only for
//! checks that did not pass, and redacts volatile values.

use serde_json::{json, Value};

use super::Report;
use crate::redact::redact;

pub fn render(report: &Report, deterministic: bool) -> Value {
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(|c| {
            let mut v = json!({
                "id": c.def.id,
                "title": c.def.title,
                "requirements": c.def.requirements,
                "level": c.def.level,
                "verdict": c.verdict,
                "reason": c.reason,
                "evidence": c.evidence,
            });
            if deterministic {
                v["reason"] = json!(redact(&c.reason));
                v["evidence"] = match &c.evidence {
                    None => Value::Null,
                    Some(e) => json!({
                        "expected": redact(&e.expected),
                        "observed": redact(&e.observed),
                        "requests": e.exchanges.iter().map(|x| redact(&x.request)).collect::<Vec<_>>(),
                        "statuses": e.exchanges.iter().map(|x| x.status).collect::<Vec<_>>(),
                    }),
                };
            } else {
                v["started_ms"] = json!(c.started.as_millis() as u64);
                v["duration_ms"] = json!(c.duration.as_millis() as u64);
                if !c.rate_limited.is_empty() {
                    v["rate_limited"] = json!(c.rate_limited);
                }
            }
            v
        })
        .collect();
    let mut header = serde_json::to_value(&report.header).unwrap_or(Value::Null);
    if deterministic {
        if let Some(h) = header.as_object_mut() {
            if !report.header.embedded {
                h.insert("target".into(), json!("<target>"));
            }
            h.insert("harness".into(), json!("p2mls"));
            // How long rate limits held the run up depends on timing.
            h.remove("rate_limit");
            // Certificates made for the run carry the run's dates.
            if let Some(chain) = h
                .get_mut("tls")
                .and_then(|t| t.get_mut("chain"))
                .and_then(Value::as_array_mut)
            {
                for cert in chain {
                    cert["not_before"] = json!("<date>");
                    cert["not_after"] = json!("<date>");
                }
            }
        }
    }
    let spec_findings: Vec<Value> = report
        .spec_findings
        .iter()
        .map(|f| {
            let mut v = json!(f);
            if deterministic {
                v["observed"] = json!(redact(&f.observed));
            }
            v
        })
        .collect();
    let cleanup = match (&report.cleanup, deterministic) {
        (None, _) => Value::Null,
        (Some(c), false) => json!(c),
        // Ids differ from run to run: how many of each kind.
        (Some(c), true) => {
            let count = |items: &[crate::ledger::Item]| {
                let mut counts = std::collections::BTreeMap::<&str, usize>::new();
                for i in items {
                    *counts.entry(i.kind.as_str()).or_default() += 1;
                }
                json!(counts)
            };
            json!({ "removed": count(&c.removed), "left": count(&c.left), "errors": c.errors.len() })
        }
    };
    json!({
        "cleanup": cleanup,
        "header": header,
        "summary": report.summary,
        "by_level": report.by_level,
        "gate": report.gate,
        "checks": checks,
        "requirements": report.requirements,
        "spec_findings": spec_findings,
        "differences": report.differences.iter().map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
            if deterministic {
                for key in ["target", "reference"] {
                    if let Some(text) = v[key].as_str().map(redact) {
                        v[key] = Value::String(text);
                    }
                }
            }
            v
        }).collect::<Vec<_>>(),
    })
}
