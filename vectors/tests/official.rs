//! The official RFC 9420 vectors, one libtest-mimic trial per file and entry, named for cargo
//! test filters: `crypto_basics::suite_0001::entry_0`, `tree_math::entry_3`.
//!
//! The directory comes from `P2MLS_VECTORS_DIR` (CI: `../shared/vectors/rfc9420`); the files are
//! third-party data and never copied into the repository. Without the variable a single ignored
//! trial says so. Unsupported entries are ignored trials whose name carries the reason; they are
//! never counted as passes. The provider is openmls_rust_crypto unless `P2MLS_VECTORS_PROVIDER`
//! says `libcrux` or `mls-rs` (the second engine, on mls-rs-crypto-rustcrypto).

use std::path::PathBuf;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use p2mls_vectors::{load, ProviderKind, Verdict, FILES};

fn main() {
    let args = Arguments::from_args();
    let trials = match std::env::var_os("P2MLS_VECTORS_DIR") {
        None => vec![Trial::test(
            "official_vectors::P2MLS_VECTORS_DIR_unset__set_it_to_the_rfc9420_vectors_directory",
            || Ok(()),
        )
        .with_ignored_flag(true)],
        Some(dir) => trials(PathBuf::from(dir)),
    };
    libtest_mimic::run(&args, trials).exit();
}

fn provider() -> ProviderKind {
    std::env::var("P2MLS_VECTORS_PROVIDER")
        .ok()
        .and_then(|p| ProviderKind::parse(&p))
        .unwrap_or(ProviderKind::RustCrypto)
}

fn trials(dir: PathBuf) -> Vec<Trial> {
    let provider = provider();
    let mut out = Vec::new();
    if !dir.is_dir() {
        let shown = dir.display().to_string();
        out.push(Trial::test("official_vectors::directory", move || {
            Err(Failed::from(format!(
                "P2MLS_VECTORS_DIR={shown} is not a directory"
            )))
        }));
        return out;
    }
    for kind in FILES {
        let module = kind.module();
        if !dir.join(kind.file).exists() {
            out.push(Trial::test(format!("{module}::absent"), || Ok(())).with_ignored_flag(true));
            continue;
        }
        let entries = match load::read_entries(&dir, kind.file) {
            Ok(entries) => Arc::new(entries),
            Err(e) => {
                let msg = e.to_string();
                out.push(Trial::test(format!("{module}::file"), move || {
                    Err(Failed::from(msg))
                }));
                continue;
            }
        };
        for index in 0..entries.len() {
            let id = kind.entry_id(index, &entries[index]);
            // Unsupported suites are decided up front so they show as ignored trials.
            let support = load::suite_of(&entries[index])
                .map(|wire| p2mls_vectors::suite_support_by_kind(provider, wire));
            if let Some(Err(reason)) = support {
                out.push(
                    Trial::test(format!("{id}::unsupported"), || Ok(()))
                        .with_kind(sanitize(&reason))
                        .with_ignored_flag(true),
                );
                continue;
            }
            let kind = *kind;
            let entries = Arc::clone(&entries);
            out.push(Trial::test(id, move || {
                let outcome = kind.run(provider, index, &entries[index]);
                match outcome.verdict {
                    Verdict::Pass => Ok(()),
                    Verdict::Fail => Err(Failed::from(format!("fail: {}", outcome.reason))),
                    Verdict::Error => Err(Failed::from(format!("error: {}", outcome.reason))),
                    // Vectors have no SHOULDs: an entry never ends non-strict.
                    Verdict::NonStrict => Err(Failed::from(format!(
                        "non-strict (not a vector verdict): {}",
                        outcome.reason
                    ))),
                    // Decided above; a verifier may still find a missing capability.
                    Verdict::Unsupported => Err(Failed::from(format!(
                        "unsupported (counted, not a pass): {}",
                        outcome.reason
                    ))),
                }
            }));
        }
    }
    out
}

/// The trial kind is shown in brackets; keep it short and on one line.
fn sanitize(reason: &str) -> String {
    let short: String = reason.chars().take(90).collect();
    short.replace(['\n', '[', ']'], " ")
}
