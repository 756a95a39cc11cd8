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
pub mod error;
pub mod framing;
pub mod generate;
pub mod load;
pub mod mlsrs_engine;
pub mod recognise;
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

pub use error::Error;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use openmls::prelude::{Ciphersuite, OpenMlsCrypto, OpenMlsProvider};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use crate::load::Source;
use crate::recognise::Recognition;
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
    /// The fields every entry has: a file is recognised by them, whatever its name
    /// ([`recognise`]).
    const FIELDS: &'static [&'static str];
    /// The entry type of the file.
    type Entry: DeserializeOwned;
    /// Whether an entry that has [`Self::FIELDS`] is of this kind: only kinds that share their
    /// fields with another tell themselves apart here.
    fn is_entry(_entry: &Map<String, Value>) -> bool {
        true
    }
    /// Verifies one entry whose suite (if any) the provider offers.
    fn verify<B: Backend>(entry: &Self::Entry, provider: &B) -> Checked;
}

/// The module name for a file name: `crypto-basics.json` -> `crypto_basics`; a file in a
/// subdirectory keeps its path: `test-vectors/welcome.json` -> `test_vectors::welcome`.
pub fn module_name(file: &str) -> String {
    file.trim_end_matches(".json")
        .replace('-', "_")
        .replace('/', "::")
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

fn run_typed<F: VectorFile, B: Backend>(file: &str, index: usize, value: &Value) -> Outcome {
    let provider = B::default();
    let checked = (|| {
        if let Some(wire) = load::suite_of(value) {
            suite_support(provider.crypto(), B::NAME, wire).map_err(Finding::Unsupported)?;
        }
        let entry: F::Entry =
            load::entry(file, index, value).map_err(|e| Finding::Error(e.to_string()))?;
        F::verify(&entry, &provider)
    })();
    Outcome::from_checked(checked)
}

/// Runs entry `index` of the file named first.
type Run = fn(&str, usize, &Value) -> Outcome;

/// A kind of vector file: how it is recognised, and how its entries are run (a function per
/// provider).
#[derive(Clone, Copy)]
pub struct FileKind {
    /// The upstream file name of the kind.
    pub file: &'static str,
    /// The fields every entry has.
    pub fields: &'static [&'static str],
    is_entry: fn(&Map<String, Value>) -> bool,
    run_rust: Run,
    run_libcrux: Run,
    run_mlsrs: Run,
}

impl std::fmt::Debug for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FileKind").field(&self.file).finish()
    }
}

impl PartialEq for FileKind {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file
    }
}

impl FileKind {
    const fn of<F: VectorFile>() -> Self {
        Self {
            file: F::FILE,
            fields: F::FIELDS,
            is_entry: F::is_entry,
            run_rust: run_typed::<F, openmls_rust_crypto::OpenMlsRustCrypto>,
            run_libcrux: run_typed::<F, openmls_libcrux_crypto::Provider>,
            run_mlsrs: run_typed::<F, mlsrs_engine::MlsRsEngine>,
        }
    }

    pub fn module(&self) -> String {
        module_name(self.file)
    }

    /// Whether `entry` (raw JSON) is an entry of this kind: an object with all of the kind's
    /// fields.
    pub fn recognises(&self, entry: &Value) -> bool {
        entry.as_object().is_some_and(|map| {
            self.fields.iter().all(|f| map.contains_key(*f)) && (self.is_entry)(map)
        })
    }

    /// Verifies entry `index` (its raw JSON) with `provider`. Never panics on hostile input; a
    /// panic inside a provider is caught and reported as an error.
    pub fn run(&self, provider: ProviderKind, index: usize, value: &Value) -> Outcome {
        self.run_in(self.file, provider, index, value)
    }

    /// [`FileKind::run`] for an entry of the file named `file` (which errors name).
    pub fn run_in(
        &self,
        file: &str,
        provider: ProviderKind,
        index: usize,
        value: &Value,
    ) -> Outcome {
        let f = match provider {
            ProviderKind::RustCrypto => self.run_rust,
            ProviderKind::Libcrux => self.run_libcrux,
            ProviderKind::MlsRs => self.run_mlsrs,
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(file, index, value))) {
            Ok(outcome) => outcome,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Outcome::from_checked(Err(Finding::Error(format!(
                    "{file}: entry {index}: verifier panicked: {msg}"
                ))))
            }
        }
    }

    /// The trial/report id of an entry: `crypto_basics::suite_0001::entry_0`, or
    /// `tree_math::entry_3` for files without suites.
    pub fn entry_id(&self, index: usize, value: &Value) -> String {
        entry_id(&self.module(), index, value)
    }
}

/// `{module}::suite_0001::entry_0`, or `{module}::entry_3` for entries without a suite.
fn entry_id(module: &str, index: usize, value: &Value) -> String {
    match load::suite_of(value) {
        Some(s) => format!("{module}::suite_{s:04x}::entry_{index}"),
        None => format!("{module}::entry_{index}"),
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
    /// The file's path relative to the verified directory (`/`-separated).
    pub file: String,
    pub index: usize,
    /// The MLS wire code point of the entry's suite, `0x0001` style.
    pub suite: Option<String>,
    pub provider: &'static str,
    /// The upstream file name of the kind the file was recognised as; None when it was not.
    #[serde(skip)]
    pub kind: Option<&'static str>,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(skip)]
    pub duration: Duration,
}

/// One entry stands for a whole file: one that could not be read (an error), or one of no known
/// kind (unsupported, with the reason).
fn file_entry(
    file: &str,
    kind: Option<&'static str>,
    provider: ProviderKind,
    finding: Finding,
) -> EntryReport {
    EntryReport {
        id: format!("{}::file", module_name(file)),
        file: file.to_owned(),
        index: 0,
        suite: None,
        provider: provider.name(),
        kind,
        outcome: Outcome::from_checked(Err(finding)),
        duration: Duration::ZERO,
    }
}

/// Selection for [`verify_dir`], and how many entries are verified at once.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only entries of this MLS wire suite.
    pub suite: Option<u16>,
    /// Only files of this kind (file or module name).
    pub file: Option<String>,
    /// Entries verified at once (threads); 0: one per CPU core. The report is the same for any
    /// value: entries are independent and come back in their file's order.
    pub jobs: usize,
}

/// `jobs` with 0 read as one per CPU core.
pub fn jobs_or_cores(jobs: usize) -> usize {
    match jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Verifies one file's entries (already parsed) with `provider`, under the kind's own name, on
/// `jobs` threads (0: one per CPU core).
pub fn verify_entries(
    kind: &FileKind,
    provider: ProviderKind,
    entries: &[Value],
    suite: Option<u16>,
    jobs: usize,
) -> Vec<EntryReport> {
    verify_file(kind.file, kind, provider, entries, suite, jobs)
}

/// Verifies the entries of the file named `file`, recognised as `kind`, with `provider`.
fn verify_file(
    file: &str,
    kind: &FileKind,
    provider: ProviderKind,
    entries: &[Value],
    suite: Option<u16>,
    jobs: usize,
) -> Vec<EntryReport> {
    let module = module_name(file);
    let selected: Vec<(usize, &Value)> = entries
        .iter()
        .enumerate()
        .filter(|(_, v)| suite.is_none() || load::suite_of(v) == suite)
        .collect();
    in_parallel(&selected, jobs_or_cores(jobs), |&(index, value)| {
        let start = Instant::now();
        let outcome = kind.run_in(file, provider, index, value);
        EntryReport {
            id: entry_id(&module, index, value),
            file: file.to_owned(),
            index,
            suite: load::suite_of(value).map(suite_hex),
            provider: provider.name(),
            kind: Some(kind.file),
            outcome,
            duration: start.elapsed(),
        }
    })
}

/// Stack of a verifier thread: what the main thread has, since the verifiers (openmls in a
/// debug build above all) were written and tested there.
const VERIFIER_STACK: usize = 8 * 1024 * 1024;

/// `items.map(f)` on up to `jobs` scoped threads, in the order of `items`. Each thread takes the
/// next item not yet taken, so a few slow entries (treekem's) do not leave a thread idle.
fn in_parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let jobs = jobs.min(items.len());
    if jobs <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let work = || {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else {
                    return out;
                };
                out.push((i, f(item)));
            }
        };
        let threads: Vec<_> = (0..jobs)
            .map(|_| {
                std::thread::Builder::new()
                    .stack_size(VERIFIER_STACK)
                    .spawn_scoped(scope, work)
            })
            .collect();
        let mut done = Vec::with_capacity(items.len());
        // A thread that cannot start leaves its share to the others; a verifier's panic is
        // caught in `run_in`, so a panic here is ours and goes on.
        for handle in threads.into_iter().flatten() {
            done.extend(
                handle
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        done
    });
    // Threads that could not start: what nobody took is done here.
    let taken = next.load(Ordering::Relaxed).min(items.len());
    done.extend(
        items[taken..]
            .iter()
            .enumerate()
            .map(|(k, item)| (taken + k, f(item))),
    );
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Verifies every JSON file under `dir`, in subdirectories too (a checkout of the mlswg
/// test-vectors repository works as well as a flat directory). Each file is recognised by its
/// content ([`recognise`]); a file of no known kind gives one unsupported entry with the reason,
/// an unreadable one an error entry. The second value lists the kinds no file was recognised as.
pub fn verify_dir(
    dir: &Path,
    provider: ProviderKind,
    selection: &Selection,
) -> (Vec<EntryReport>, Vec<&'static str>) {
    verify_sources(load::json_files(dir), provider, selection)
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
    let sources = files
        .iter()
        .map(|(name, text)| Source {
            name: (*name).to_owned(),
            entries: load::parse_entries(name, text.as_bytes()),
        })
        .collect();
    verify_sources(sources, provider, selection)
}

/// Recognises and verifies `sources`: files of a known kind in the order of [`FILES`] (then by
/// name), then the files of no known kind.
fn verify_sources(
    sources: Vec<Source>,
    provider: ProviderKind,
    selection: &Selection,
) -> (Vec<EntryReport>, Vec<&'static str>) {
    /// What becomes of one file.
    enum Plan {
        Verify(FileKind, Vec<Value>),
        /// One entry stands for the file.
        Whole(EntryReport),
    }
    let only = selection.file.as_deref().map(file_kind);
    let selected = |kind: Option<FileKind>| match only {
        None => true,
        Some(only) => only.is_some() && only == kind,
    };
    let mut plans: Vec<(usize, String, Option<&'static str>, Plan)> = Vec::new();
    for source in sources {
        let (kind, plan) = match recognise::recognise(&source.name, source.entries) {
            Recognition::Kind(kind, entries) => (Some(kind), Plan::Verify(kind, entries)),
            // An unreadable file is an error whatever it holds; named like a known kind, it
            // counts as that kind's file.
            Recognition::Unreadable(error) => {
                let kind = recognise::kind_named(&source.name);
                let finding = Finding::Error(error.to_string());
                let entry = file_entry(&source.name, kind.map(|k| k.file), provider, finding);
                (kind, Plan::Whole(entry))
            }
            Recognition::Unsupported(reason) => {
                let finding = Finding::Unsupported(reason);
                (
                    None,
                    Plan::Whole(file_entry(&source.name, None, provider, finding)),
                )
            }
        };
        if !selected(kind) {
            continue;
        }
        let rank = kind.map_or(FILES.len(), |k| {
            FILES.iter().position(|f| *f == k).unwrap_or(FILES.len())
        });
        plans.push((rank, source.name, kind.map(|k| k.file), plan));
    }
    plans.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let absent = FILES
        .iter()
        .filter(|k| selected(Some(**k)))
        .map(|k| k.file)
        .filter(|f| !plans.iter().any(|p| p.2 == Some(*f)))
        .collect();
    let mut reports = Vec::new();
    for (_, name, _, plan) in plans {
        match plan {
            Plan::Verify(kind, entries) => reports.extend(verify_file(
                &name,
                &kind,
                provider,
                &entries,
                selection.suite,
                selection.jobs,
            )),
            Plan::Whole(entry) => reports.push(entry),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_results_keep_the_order_of_their_items() {
        // Early items are the slow ones, so threads finish out of order.
        let items: Vec<u64> = (0..40).collect();
        let slow_first = |i: &u64| {
            std::thread::sleep(Duration::from_millis(40u64.saturating_sub(*i)));
            (*i, std::thread::current().id())
        };
        let done = in_parallel(&items, 4, slow_first);
        assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), items);
        let threads: std::collections::HashSet<_> = done.iter().map(|d| d.1).collect();
        assert!(threads.len() > 1, "ran on one thread only");
        assert_eq!(in_parallel(&items, 1, |i| i * 2)[39], 78);
        assert!(in_parallel(&[] as &[u8], 4, |i| *i).is_empty());
    }

    #[test]
    fn a_file_verified_on_threads_gives_the_reports_of_one_thread() {
        let kind = file_kind("psk_secret").expect("kind");
        let entries: Vec<Value> = serde_json::from_str(
            GENERATED
                .iter()
                .find(|(name, _)| *name == "psk_secret.json")
                .expect("generated psk_secret")
                .1,
        )
        .expect("json");
        let strip = |reports: Vec<EntryReport>| {
            reports
                .into_iter()
                .map(|e| (e.id, e.outcome.verdict, e.outcome.reason))
                .collect::<Vec<_>>()
        };
        let one = strip(verify_entries(
            &kind,
            ProviderKind::RustCrypto,
            &entries,
            None,
            1,
        ));
        let many = strip(verify_entries(
            &kind,
            ProviderKind::RustCrypto,
            &entries,
            None,
            3,
        ));
        assert_eq!(one.len(), entries.len());
        assert_eq!(one, many);
    }
}
