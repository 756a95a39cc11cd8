//! Optional self-check of the harness's own MLS engine (`p2mls run --vectors DIR`): before it
//! judges a target in a suite, the harness verifies the RFC 9420 vectors of that suite with both
//! crypto back ends it uses. A broken engine makes the check an `error` (the harness's fault),
//! never a `fail` of the target.

use std::path::{Path, PathBuf};

use p2mls_vectors::{verify_dir, ProviderKind, Selection, Verdict};

use crate::check::{CheckResult, Finding};

/// Our generated vectors for suites the official set does not cover (0xF110), next to the source.
pub fn generated_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/generated"))
}

fn verify(dir: &Path, wire: u16) -> CheckResult {
    let mut passed = 0;
    for provider in [ProviderKind::RustCrypto, ProviderKind::Libcrux] {
        let selection = Selection {
            suite: Some(wire),
            file: None,
        };
        let (entries, _) = verify_dir(dir, provider, &selection);
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
        return Err(Finding::Unsupported(format!(
            "no vector of wire suite {wire:#06x} in {}",
            dir.display()
        )));
    }
    Ok(())
}

/// Verifies the vectors of `wire` in `dir` (the official ones; ours for 0xF110) off the runtime.
pub async fn self_check(official: PathBuf, polyproto_id: u16, wire: u16) -> CheckResult {
    let dir = if polyproto_id == 0x0001 {
        official
    } else {
        generated_dir()
    };
    tokio::task::spawn_blocking(move || verify(&dir, wire))
        .await
        .map_err(Finding::harness)?
}
