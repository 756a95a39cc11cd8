//! `p2mls vectors`: verify the RFC 9420 test vectors against our MLS engine, and generate our
//! own for the hybrid suite. The work is in the `p2mls-vectors` crate; this is the CLI edge.

use std::path::PathBuf;

use p2mls_protocol::suites::SuiteRegistry;
use p2mls_vectors::report::{Header, Report};
use p2mls_vectors::{ProviderKind, Selection};

use crate::Error;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum VectorsCommand {
    /// Verify a directory of vector files (the official ones, or ours).
    Verify(VerifyArgs),
    /// Generate vectors in the official formats for a suite, deterministically from a seed.
    Generate(GenerateArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Directory with the vector files (e.g. ../shared/vectors/rfc9420), or a checkout of the
    /// mlswg test-vectors repository: every *.json file under it, in subdirectories too, is
    /// recognised by its content, whatever its name; files of no known kind are reported as
    /// unsupported.
    #[arg(long)]
    pub dir: PathBuf,
    /// Only entries of this suite: polyproto id or MLS wire code point (0x0001, 0xF110, 3).
    #[arg(long)]
    pub suite: Option<String>,
    /// Only files of this kind (crypto-basics.json or crypto_basics).
    #[arg(long)]
    pub file: Option<String>,
    /// Directory for report.json, junit.xml, report.md and report.html.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Verification engine: all (default: every engine below, one verdict per entry),
    /// rust-crypto, libcrux, or mls-rs (openmls on mls-rs-crypto-rustcrypto and RustCrypto's
    /// P-521, X448, Ed448: all seven suites).
    #[arg(long, default_value = "all")]
    pub provider: String,
    /// Entries verified at once (threads); 0: one per CPU core. The output and reports are the
    /// same for any value.
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// The suite: polyproto id or MLS wire code point (0xF110 is carried as its wire point).
    #[arg(long, default_value = "0xF110")]
    pub suite: String,
    /// Seed of the deterministic generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// Parses `0x004F`, `0xF110` or a decimal number; polyproto ids map to their wire code point.
pub fn parse_suite(text: &str) -> Result<u16, Error> {
    let t = text.trim();
    let value = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => t.parse(),
    }
    .map_err(|_| Error::Usage(format!("--suite {text}: not a 16-bit suite code")))?;
    let registry = SuiteRegistry::default();
    Ok(registry
        .by_polyproto_id(value)
        .map_or(value, |suite| suite.wire))
}

/// Runs `p2mls vectors ...`; returns the exit code.
pub fn run(command: &VectorsCommand) -> i32 {
    match command {
        VectorsCommand::Verify(args) => match verify(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("p2mls vectors verify: {e}");
                2
            }
        },
        VectorsCommand::Generate(args) => match generate(args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("p2mls vectors generate: {e}");
                2
            }
        },
    }
}

fn verify(args: &VerifyArgs) -> Result<i32, Error> {
    if !args.dir.is_dir() {
        return Err(Error::Usage(format!(
            "--dir {}: not a readable directory",
            args.dir.display()
        )));
    }
    let providers = if args.provider == "all" {
        ENGINES.to_vec()
    } else {
        vec![ProviderKind::parse(&args.provider).ok_or_else(|| {
            Error::Usage(format!(
                "--provider {}: expected all, rust-crypto, libcrux or mls-rs",
                args.provider
            ))
        })?]
    };
    let suite = args.suite.as_deref().map(parse_suite).transpose()?;
    if let Some(file) = &args.file {
        if p2mls_vectors::file_kind(file).is_none() {
            return Err(Error::Usage(format!(
                "--file {file}: not a known vector file"
            )));
        }
    }
    let selection = Selection {
        suite,
        file: args.file.clone(),
        jobs: args.jobs,
    };
    let mut runs = Vec::new();
    let mut absent = Vec::new();
    for provider in &providers {
        let (entries, missing) = p2mls_vectors::verify_dir(&args.dir, *provider, &selection);
        runs.push(entries);
        absent = missing;
    }
    let entries = merge(runs);
    if entries.iter().all(|e| e.kind.is_none()) {
        let unknown = match entries.len() {
            0 => String::new(),
            n => format!(" ({n} JSON file(s) of no known kind)"),
        };
        return Err(Error::Usage(format!(
            "--dir {}: holds no vector file of a known kind{unknown}",
            args.dir.display()
        )));
    }
    let report = Report::new(
        Header {
            harness: format!("p2mls {}", env!("CARGO_PKG_VERSION")),
            provider: providers
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", "),
            directory: args.dir.display().to_string(),
            absent: absent.iter().map(|s| (*s).to_owned()).collect(),
            suite: suite.map(p2mls_vectors::suite_hex),
            file: args.file.clone(),
        },
        entries,
    );
    print!("{}", report.table());
    // Entries whose suite a provider lacks are many and expected; a file of no known kind is
    // named with the reason.
    for e in report
        .entries
        .iter()
        .filter(|e| e.outcome.verdict != p2mls_vectors::Verdict::Pass)
        .filter(|e| e.outcome.verdict != p2mls_vectors::Verdict::Unsupported || e.kind.is_none())
    {
        println!(
            "  {:<11} {}: {}",
            e.outcome.verdict.as_str(),
            e.id,
            e.outcome.reason
        );
    }
    if let Some(dir) = &args.out {
        report
            .write(dir)
            .map_err(|e| Error::Usage(format!("cannot write reports to {}: {e}", dir.display())))?;
        println!("reports written to {}", dir.display());
    }
    Ok(report.exit_code())
}

/// The engines `--provider all` runs, in this order.
const ENGINES: [ProviderKind; 3] = [
    ProviderKind::RustCrypto,
    ProviderKind::Libcrux,
    ProviderKind::MlsRs,
];

/// One verdict per entry from every engine's run (the runs list the same entries in the same
/// order): a fail or error of any engine stands; else a pass of any engine, noting which engines
/// passed; else unsupported with every engine's reason. So every entry is verified by every
/// engine that has its suite, and is unsupported only if none has it.
fn merge(mut runs: Vec<Vec<p2mls_vectors::EntryReport>>) -> Vec<p2mls_vectors::EntryReport> {
    use p2mls_vectors::Verdict;
    if runs.len() == 1 {
        return runs.remove(0);
    }
    let first = runs.remove(0);
    let mut out = Vec::new();
    for (i, entry) in first.into_iter().enumerate() {
        let mut all: Vec<p2mls_vectors::EntryReport> = vec![entry];
        all.extend(runs.iter().filter_map(|run| run.get(i)).cloned());
        let failing = all
            .iter()
            .position(|e| matches!(e.outcome.verdict, Verdict::Fail | Verdict::Error));
        let passed: Vec<&'static str> = all
            .iter()
            .filter(|e| e.outcome.verdict == Verdict::Pass)
            .map(|e| e.provider)
            .collect();
        let mut merged = match (failing, passed.first()) {
            (Some(at), _) => all.swap_remove(at),
            (None, Some(_)) => {
                let at = all
                    .iter()
                    .position(|e| e.outcome.verdict == Verdict::Pass)
                    .unwrap_or(0);
                all.swap_remove(at)
            }
            (None, None) => {
                // Each engine's reason once (a file of no known kind is so for every engine).
                let mut reasons: Vec<&str> = Vec::new();
                for e in &all {
                    if !reasons.contains(&e.outcome.reason.as_str()) {
                        reasons.push(&e.outcome.reason);
                    }
                }
                let reason = reasons.join("; ");
                let mut e = all.swap_remove(0);
                e.outcome.reason = reason;
                e
            }
        };
        if merged.outcome.verdict == Verdict::Pass {
            merged
                .outcome
                .notes
                .push(format!("passed with {}", passed.join(", ")));
        }
        out.push(merged);
    }
    out
}

fn generate(args: &GenerateArgs) -> Result<(), Error> {
    let wire = parse_suite(&args.suite)?;
    let files = p2mls_vectors::generate::generate(wire, args.seed).map_err(Error::Usage)?;
    p2mls_vectors::generate::write(&args.out, &files)
        .map_err(|e| Error::Usage(format!("cannot write to {}: {e}", args.out.display())))?;
    for (name, _) in &files {
        println!("{}", args.out.join(name).display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2mls_vectors::{EntryReport, Outcome, Verdict};

    fn entry(id: &str, provider: &'static str, verdict: Verdict, reason: &str) -> EntryReport {
        EntryReport {
            id: id.into(),
            file: "f.json".into(),
            index: 0,
            suite: None,
            provider,
            kind: Some("f.json"),
            outcome: Outcome {
                verdict,
                reason: reason.into(),
                mismatch: None,
                notes: Vec::new(),
            },
            duration: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn merged_verdicts_let_no_failure_hide_and_no_engine_be_skipped() {
        let a = vec![
            entry("x", "a", Verdict::Pass, ""),
            entry("y", "a", Verdict::Pass, ""),
            entry("z", "a", Verdict::Unsupported, "a lacks it"),
        ];
        let b = vec![
            entry("x", "b", Verdict::Unsupported, "b lacks it"),
            entry("y", "b", Verdict::Fail, "field differs"),
            entry("z", "b", Verdict::Unsupported, "b lacks it"),
        ];
        let merged = merge(vec![a, b]);
        assert_eq!(merged[0].outcome.verdict, Verdict::Pass);
        assert_eq!(merged[0].outcome.notes, ["passed with a"]);
        assert_eq!(merged[1].outcome.verdict, Verdict::Fail);
        assert_eq!(merged[1].provider, "b");
        assert_eq!(merged[2].outcome.verdict, Verdict::Unsupported);
        assert_eq!(merged[2].outcome.reason, "a lacks it; b lacks it");
    }

    #[test]
    fn a_reason_every_engine_gives_is_given_once() {
        let why = "no known kind of vector file has entries with fields {foo}";
        let merged = merge(vec![
            vec![entry("f::file", "a", Verdict::Unsupported, why)],
            vec![entry("f::file", "b", Verdict::Unsupported, why)],
        ]);
        assert_eq!(merged[0].outcome.reason, why);
    }
}
