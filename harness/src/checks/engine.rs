//! Optional self-check of the harness's own MLS engine (`p2mls run --vectors DIR`): before it
//! judges a target in a suite, the harness verifies the RFC 9420 vectors of that suite with both
//! crypto back ends it uses. A broken engine makes the check an `error` (the harness's fault),
//! never a `fail` of the target.

use std::path::PathBuf;

use p2mls_vectors::{verify_dir, verify_files, ProviderKind, Selection, Verdict, GENERATED};

use p2mls_protocol::identifiers::format_code_point;
use p2mls_protocol::suites::SuiteRegistry;

use super::unit::CheckDef;
use crate::check::{CheckResult, Finding, Level};

/// Self-checks of the harness's MLS engine, one per registry suite (`p2mls run --vectors DIR`):
/// they need nothing from the target.
pub fn checks(official: &std::path::Path, registry: &SuiteRegistry) -> Vec<CheckDef> {
    registry
        .suites()
        .iter()
        .map(|suite| {
            let id = format_code_point(suite.polyproto_id);
            let (polyproto_id, wire, dir) = (suite.polyproto_id, suite.wire, official.to_path_buf());
            CheckDef::new(
                format!("engine.{id}.vectors"),
                Level::Must,
                format!("[{id}] The harness's own MLS engine passes the RFC 9420 vectors of the suite with both back ends"),
            )
            .requires(&["MLS.3.rfc9420-basis"])
            .judged_by(move |_| Box::pin(self_check(dir.clone(), polyproto_id, wire)))
        })
        .collect()
}

/// Where a suite's vectors come from: the official directory, or ours built into the binary.
enum Source {
    Dir(PathBuf),
    Generated,
}

fn verify(source: &Source, wire: u16) -> CheckResult {
    let mut passed = 0;
    for provider in [ProviderKind::RustCrypto, ProviderKind::Libcrux] {
        let selection = Selection {
            suite: Some(wire),
            file: None,
            jobs: 0,
        };
        let (entries, _) = match source {
            Source::Dir(dir) => verify_dir(dir, provider, &selection),
            Source::Generated => verify_files(GENERATED, provider, &selection),
        };
        if let Some(bad) = entries
            .iter()
            .find(|e| matches!(e.outcome.verdict, Verdict::Fail | Verdict::Error))
        {
            return Err(Finding::harness(format!(
                "the harness's MLS engine ({}) fails vector {}: {}",
                provider.name(),
                bad.id,
                bad.outcome.reason
            )));
        }
        passed += entries
            .iter()
            .filter(|e| e.outcome.verdict == Verdict::Pass)
            .count();
    }
    if passed == 0 {
        let place = match source {
            Source::Dir(dir) => dir.display().to_string(),
            Source::Generated => "the generated vectors".to_owned(),
        };
        return Err(Finding::Unsupported(format!(
            "no vector of wire suite {wire:#06x} in {place}"
        )));
    }
    Ok(())
}

/// Verifies the vectors of `wire` in `dir` (the official ones; ours for 0xF110) off the runtime.
pub async fn self_check(official: PathBuf, polyproto_id: u16, wire: u16) -> CheckResult {
    let source = if polyproto_id == 0x0001 {
        Source::Dir(official)
    } else {
        Source::Generated
    };
    tokio::task::spawn_blocking(move || verify(&source, wire))
        .await
        .map_err(Finding::harness)?
}
