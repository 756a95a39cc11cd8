//! Our generated vectors for the hybrid suite (`0xF110`, wire `0x004F`), committed under
//! `vectors/generated/`: regenerating from the seed gives the committed bytes, and every entry
//! passes with openmls_rust_crypto and with openmls_libcrux_crypto. One trial per provider,
//! file and entry (`generated::libcrux::welcome::suite_004f::entry_0`); an unsupported entry
//! shows as an ignored trial with the reason.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use p2mls_vectors::{
    file_kind, generate, load, suite_support_by_kind, ProviderKind, Verdict, GENERATED,
};

/// The seed of the committed files (`p2mls vectors generate --suite 0xF110 --seed 1`).
const SEED: u64 = 1;
const WIRE: u16 = p2mls_protocol::suites::HYBRID_PQS_DEFAULT_WIRE;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("generated")
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test("generated::reproducible_from_seed", || {
        let files = generate::generate(WIRE, SEED).map_err(Failed::from)?;
        for (name, text) in files {
            let committed = std::fs::read_to_string(dir().join(name))
                .map_err(|e| Failed::from(format!("{name}: {e}")))?;
            if committed != text {
                return Err(Failed::from(format!(
                    "{name}: regenerating with seed {SEED} differs from the committed file \
                     (run `p2mls vectors generate --suite 0xF110 --seed {SEED} --out vectors/generated`)"
                )));
            }
        }
        Ok(())
    })];
    trials.push(Trial::test("generated::other_seeds_verify", || {
        // The generator is sound for any seed, not only the committed one.
        for seed in [2, 3] {
            let files = generate::generate(WIRE, seed).map_err(Failed::from)?;
            let texts: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
            for provider in ProviderKind::ALL {
                let selection = p2mls_vectors::Selection::default();
                let (reports, _) = p2mls_vectors::verify_files(&texts, provider, &selection);
                if let Some(bad) = reports.iter().find(|r| r.outcome.verdict != Verdict::Pass) {
                    return Err(Failed::from(format!(
                        "seed {seed}, {}: {} is {}: {}",
                        provider.name(),
                        bad.id,
                        bad.outcome.verdict.as_str(),
                        bad.outcome.reason
                    )));
                }
                if reports.len() < 12 {
                    return Err(Failed::from(format!(
                        "seed {seed}: only {} entries",
                        reports.len()
                    )));
                }
            }
        }
        Ok(())
    }));
    trials.push(Trial::test("generated::built_into_the_binary", || {
        // GENERATED (include_str!) must list exactly the committed files: a new generated file
        // not added there would be missing from `p2mls run --vectors`.
        let mut committed: Vec<String> = std::fs::read_dir(dir())
            .map_err(|e| Failed::from(e.to_string()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        committed.sort();
        let mut built: Vec<String> = GENERATED.iter().map(|(n, _)| (*n).to_owned()).collect();
        built.sort();
        if committed != built {
            return Err(Failed::from(format!(
                "vectors/generated holds {committed:?}, GENERATED lists {built:?}"
            )));
        }
        Ok(())
    }));
    let files = match generate::generate(WIRE, SEED) {
        Ok(files) => files,
        Err(e) => {
            trials.push(Trial::test("generated::generate", move || {
                Err(Failed::from(e.clone()))
            }));
            libtest_mimic::run(&args, trials).exit();
        }
    };
    for provider in ProviderKind::ALL {
        let pname = match provider {
            ProviderKind::RustCrypto => "rust_crypto",
            ProviderKind::Libcrux => "libcrux",
            ProviderKind::MlsRs => "mls_rs",
        };
        if let Err(reason) = suite_support_by_kind(provider, WIRE) {
            trials.push(
                Trial::test(format!("generated::{pname}::unsupported"), || Ok(()))
                    .with_kind(reason.chars().take(90).collect::<String>())
                    .with_ignored_flag(true),
            );
            continue;
        }
        for (name, _) in &files {
            let Some(kind) = file_kind(name) else {
                continue;
            };
            let entries = match load::read_entries(&dir(), name) {
                Ok(e) => e,
                Err(e) => {
                    let msg = e.to_string();
                    trials.push(Trial::test(
                        format!("generated::{pname}::{}::file", kind.module()),
                        move || Err(Failed::from(msg.clone())),
                    ));
                    continue;
                }
            };
            for (index, value) in entries.into_iter().enumerate() {
                let id = format!("generated::{pname}::{}", kind.entry_id(index, &value));
                trials.push(Trial::test(id, move || {
                    let outcome = kind.run(provider, index, &value);
                    match outcome.verdict {
                        Verdict::Pass => Ok(()),
                        v => Err(Failed::from(format!("{}: {}", v.as_str(), outcome.reason))),
                    }
                }));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
