//! p2mls-vectors: the RFC 9420 test vectors of the MLS working group, verified against our MLS
//! engine (openmls 0.9.2 with openmls_rust_crypto or openmls_libcrux_crypto), plus a generator of
//! vectors in the same formats for the polyproto hybrid suite `0xF110` (wire `0x004F`).
//!
//! One module per upstream file, named after it (`crypto_basics` for `crypto-basics.json`); each
//! opens with the JSON format and the verification equations of `test-vectors.md`. Where openmls
//! exposes the computation, the verifier goes through openmls's public API; where openmls keeps it
//! private (tree math, the key schedule, secret tree, transcript and tree hashes, parent hashes,
//! TreeKEM, message framing), [`crypto`], [`codec`], [`tree`] and [`schedule`] compute it from
//! the provider's primitives.
//!
//! Every entry ends with one [`Verdict`]: pass, fail (field, expected vs computed), unsupported
//! (the provider does not offer the suite, with the reason) or error (the entry could not be read,
//! naming file, entry and field). Nothing is skipped silently.
//!
//! The vector files are third-party data: they are read from a directory given at run time
//! (`P2MLS_VECTORS_DIR`, `p2mls vectors verify --dir`), never copied into this repository.

pub mod codec;
pub mod crypto;
pub mod framing;
pub mod generate;
pub mod load;
pub mod mlsrs_engine;
pub mod report;
pub mod schedule;
pub mod tree;
pub mod verdict;

pub mod crypto_basics;
pub mod deserialization;
pub mod key_schedule;
pub mod message_protection;
pub mod messages;
pub mod passive_client;
pub mod passive_client_handling_commit;
pub mod passive_client_welcome;
pub mod psk_secret;
pub mod secret_tree;
pub mod transcript_hashes;
pub mod tree_math;
pub mod tree_operations;
pub mod tree_validation;
pub mod treekem;
pub mod welcome;

use std::path::Path;
use std::time::{Duration, Instant};

use openmls::prelude::{Ciphersuite, OpenMlsCrypto, OpenMlsProvider};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::load::LoadError;
pub use crate::verdict::{Checked, Finding, Outcome, Verdict};

/// A crypto provider the verifiers run on.
pub trait Backend: OpenMlsProvider + Default {
    const NAME: &'static str;
}

impl Backend for openmls_rust_crypto::OpenMlsRustCrypto {
    const NAME: &'static str = "openmls_rust_crypto";
}

impl Backend for openmls_libcrux_crypto::Provider {
    const NAME: &'static str = "openmls_libcrux_crypto";
}

/// Which provider to verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ProviderKind {
    RustCrypto,
    Libcrux,
    /// The second engine: openmls's crypto interface on mls-rs-crypto-rustcrypto.
    MlsRs,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 2] = [ProviderKind::RustCrypto, ProviderKind::Libcrux];

    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::RustCrypto => openmls_rust_crypto::OpenMlsRustCrypto::NAME,
            ProviderKind::Libcrux => openmls_libcrux_crypto::Provider::NAME,
            ProviderKind::MlsRs => mlsrs_engine::MlsRsEngine::NAME,
        }
    }

    /// Parses `rust-crypto` / `libcrux` (as the CLI spells them).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rust-crypto" | "rustcrypto" | "openmls_rust_crypto" => Some(ProviderKind::RustCrypto),
            "libcrux" | "openmls_libcrux_crypto" => Some(ProviderKind::Libcrux),
            "mls-rs" | "mlsrs" | "mls-rs-crypto-rustcrypto" => Some(ProviderKind::MlsRs),
            _ => None,
        }
    }
}

/// One upstream vector file and its verifier.
pub trait VectorFile {
    /// The upstream file name, e.g. `crypto-basics.json`.
    const FILE: &'static str;
    /// The entry type of the file.
    type Entry: DeserializeOwned;
    /// Verifies one entry whose suite (if any) the provider offers.
    fn verify<B: Backend>(entry: &Self::Entry, provider: &B) -> Checked;
}

/// The module name for a file name: `crypto-basics.json` -> `crypto_basics`.
pub fn module_name(file: &str) -> String {
    file.trim_end_matches(".json").replace('-', "_")
}

/// `0x0001` style.
pub fn suite_hex(suite: u16) -> String {
    format!("0x{suite:04X}")
}

/// Whether `provider` offers suite `wire`; the reason when it does not.
pub fn suite_support<C: OpenMlsCrypto>(
    crypto: &C,
    provider: &str,
    wire: u16,
) -> Result<Ciphersuite, String> {
    let suite = Ciphersuite::try_from(wire).map_err(|_| {
        format!(
            "{} is not a cipher suite openmls 0.9.2 knows",
            suite_hex(wire)
        )
    })?;
    crypto.supports(suite).map_err(|e| {
        format!(
            "{provider} does not offer {suite:?} ({}): {e:?}",
            suite_hex(wire)
        )
    })?;
    Ok(suite)
}

fn run_typed<F: VectorFile, B: Backend>(index: usize, value: &Value) -> Outcome {
    let provider = B::default();
    let checked = (|| {
        if let Some(wire) = load::suite_of(value) {
            suite_support(provider.crypto(), B::NAME, wire).map_err(Finding::Unsupported)?;
        }
        let entry: F::Entry =
            load::entry(F::FILE, index, value).map_err(|e| Finding::Error(e.to_string()))?;
        F::verify(&entry, &provider)
    })();
    Outcome::from_checked(checked)
}

/// How a file's entries are run: a function per provider.
#[derive(Clone, Copy)]
pub struct FileKind {
    pub file: &'static str,
    run_rust: fn(usize, &Value) -> Outcome,
    run_libcrux: fn(usize, &Value) -> Outcome,
    run_mlsrs: fn(usize, &Value) -> Outcome,
}

impl FileKind {
    const fn of<F: VectorFile>() -> Self {
        Self {
            file: F::FILE,
            run_rust: run_typed::<F, openmls_rust_crypto::OpenMlsRustCrypto>,
            run_libcrux: run_typed::<F, openmls_libcrux_crypto::Provider>,
            run_mlsrs: run_typed::<F, mlsrs_engine::MlsRsEngine>,
        }
    }

    pub fn module(&self) -> String {
        module_name(self.file)
    }

    /// Verifies entry `index` (its raw JSON) with `provider`. Never panics on hostile input; a
    /// panic inside a provider is caught and reported as an error.
    pub fn run(&self, provider: ProviderKind, index: usize, value: &Value) -> Outcome {
        let f = match provider {
            ProviderKind::RustCrypto => self.run_rust,
            ProviderKind::Libcrux => self.run_libcrux,
            ProviderKind::MlsRs => self.run_mlsrs,
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(index, value))) {
            Ok(outcome) => outcome,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Outcome::from_checked(Err(Finding::Error(format!(
                    "{}: entry {index}: verifier panicked: {msg}",
                    self.file
                ))))
            }
        }
    }

    /// The trial/report id of an entry: `crypto_basics::suite_0001::entry_0`, or
    /// `tree_math::entry_3` for files without suites.
    pub fn entry_id(&self, index: usize, value: &Value) -> String {
        match load::suite_of(value) {
            Some(s) => format!("{}::suite_{s:04x}::entry_{index}", self.module()),
            None => format!("{}::entry_{index}", self.module()),
        }
    }
}

/// All upstream files, in the order of `test-vectors.md`.
pub const FILES: &[FileKind] = &[
    FileKind::of::<tree_math::TreeMath>(),
    FileKind::of::<crypto_basics::CryptoBasics>(),
    FileKind::of::<secret_tree::SecretTree>(),
    FileKind::of::<message_protection::MessageProtection>(),
    FileKind::of::<key_schedule::KeySchedule>(),
    FileKind::of::<psk_secret::PskSecret>(),
    FileKind::of::<transcript_hashes::TranscriptHashes>(),
    FileKind::of::<welcome::Welcome>(),
    FileKind::of::<tree_operations::TreeOperations>(),
    FileKind::of::<tree_validation::TreeValidation>(),
    FileKind::of::<treekem::TreeKem>(),
    FileKind::of::<messages::Messages>(),
    FileKind::of::<passive_client_welcome::PassiveClientWelcome>(),
    FileKind::of::<passive_client_handling_commit::PassiveClientHandlingCommit>(),
    FileKind::of::<deserialization::Deserialization>(),
];

/// The file kind for a file name (`crypto-basics.json`) or module name (`crypto_basics`).
pub fn file_kind(name: &str) -> Option<FileKind> {
    FILES
        .iter()
        .copied()
        .find(|k| k.file == name || k.module() == name || k.file.trim_end_matches(".json") == name)
}

/// One verified entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EntryReport {
    pub id: String,
    pub file: String,
    pub index: usize,
    /// The MLS wire code point of the entry's suite, `0x0001` style.
    pub suite: Option<String>,
    pub provider: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(skip)]
    pub duration: Duration,
}

/// A file that could not be read at all: one error entry stands for it.
fn file_error(kind: &FileKind, provider: ProviderKind, err: &LoadError) -> EntryReport {
    EntryReport {
        id: format!("{}::file", kind.module()),
        file: kind.file.to_owned(),
        index: 0,
        suite: None,
        provider: provider.name(),
        outcome: Outcome::from_checked(Err(Finding::Error(err.to_string()))),
        duration: Duration::ZERO,
    }
}

/// Selection for [`verify_dir`].
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only entries of this MLS wire suite.
    pub suite: Option<u16>,
    /// Only this file (file or module name).
    pub file: Option<String>,
}

/// Verifies one file's entries (already parsed) with `provider`.
pub fn verify_entries(
    kind: &FileKind,
    provider: ProviderKind,
    entries: &[Value],
    suite: Option<u16>,
) -> Vec<EntryReport> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, v)| suite.is_none() || load::suite_of(v) == suite)
        .map(|(index, value)| {
            let start = Instant::now();
            let outcome = kind.run(provider, index, value);
            EntryReport {
                id: kind.entry_id(index, value),
                file: kind.file.to_owned(),
                index,
                suite: load::suite_of(value).map(suite_hex),
                provider: provider.name(),
                outcome,
                duration: start.elapsed(),
            }
        })
        .collect()
}

/// Verifies every known file present in `dir`. Files that are absent are listed in the second
/// value; a file that is present but unreadable gives one error entry.
pub fn verify_dir(
    dir: &Path,
    provider: ProviderKind,
    selection: &Selection,
) -> (Vec<EntryReport>, Vec<&'static str>) {
    verify_each(provider, selection, |file| {
        dir.join(file)
            .exists()
            .then(|| load::read_entries(dir, file))
    })
}

/// Our generated vectors as committed under `vectors/generated/`, built into the binary so that
/// an installed `p2mls` carries them (`tests/generated.rs` keeps this list and the files equal).
pub const GENERATED: &[(&str, &str)] = &[
    (
        "crypto-basics.json",
        include_str!("../generated/crypto-basics.json"),
    ),
    (
        "secret-tree.json",
        include_str!("../generated/secret-tree.json"),
    ),
    (
        "key-schedule.json",
        include_str!("../generated/key-schedule.json"),
    ),
    (
        "psk_secret.json",
        include_str!("../generated/psk_secret.json"),
    ),
    (
        "transcript-hashes.json",
        include_str!("../generated/transcript-hashes.json"),
    ),
    (
        "message-protection.json",
        include_str!("../generated/message-protection.json"),
    ),
    ("welcome.json", include_str!("../generated/welcome.json")),
    ("treekem.json", include_str!("../generated/treekem.json")),
];

/// [`verify_dir`] over files held in memory as (name, JSON text), such as [`GENERATED`].
pub fn verify_files(
    files: &[(&str, &str)],
    provider: ProviderKind,
    selection: &Selection,
) -> (Vec<EntryReport>, Vec<&'static str>) {
    verify_each(provider, selection, |file| {
        files
            .iter()
            .find(|(name, _)| *name == file)
            .map(|(_, text)| load::parse_entries(file, text.as_bytes()))
    })
}

/// Verifies every selected file kind whose entries `read` finds (`None`: the file is absent).
fn verify_each(
    provider: ProviderKind,
    selection: &Selection,
    read: impl Fn(&'static str) -> Option<Result<Vec<serde_json::Value>, load::LoadError>>,
) -> (Vec<EntryReport>, Vec<&'static str>) {
    let mut reports = Vec::new();
    let mut absent = Vec::new();
    for kind in FILES {
        if let Some(only) = &selection.file {
            if file_kind(only).map(|k| k.file) != Some(kind.file) {
                continue;
            }
        }
        match read(kind.file) {
            None => absent.push(kind.file),
            Some(Ok(entries)) => {
                reports.extend(verify_entries(kind, provider, &entries, selection.suite))
            }
            Some(Err(e)) => reports.push(file_error(kind, provider, &e)),
        }
    }
    (reports, absent)
}

/// [`suite_support`] for a provider chosen at run time.
pub fn suite_support_by_kind(provider: ProviderKind, wire: u16) -> Result<Ciphersuite, String> {
    match provider {
        ProviderKind::RustCrypto => {
            let p = openmls_rust_crypto::OpenMlsRustCrypto::default();
            suite_support(p.crypto(), provider.name(), wire)
        }
        ProviderKind::Libcrux => {
            let p = openmls_libcrux_crypto::Provider::default();
            suite_support(p.crypto(), provider.name(), wire)
        }
        ProviderKind::MlsRs => {
            let p = mlsrs_engine::MlsRsEngine::default();
            suite_support(p.crypto(), provider.name(), wire)
        }
    }
}
