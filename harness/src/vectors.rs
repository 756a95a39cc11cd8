//! `p2mls vectors`: verify the RFC 9420 test vectors against our MLS engine, and generate our
//! own for the hybrid suite. The work is in the `p2mls-vectors` crate; this is the CLI edge.

use std::path::PathBuf;

use p2mls_protocol::suites::SuiteRegistry;
use p2mls_vectors::report::{Header, Report};
use p2mls_vectors::{ProviderKind, Selection};

use crate::UsageError;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum VectorsCommand {
    /// Verify a directory of vector files (the official ones, or ours).
    Verify(VerifyArgs),
    /// Generate vectors in the official formats for a suite, deterministically from a seed.
    Generate(GenerateArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Directory with the vector files (e.g. ../shared/vectors/rfc9420).
    #[arg(long)]
    pub dir: PathBuf,
    /// Only entries of this suite: polyproto id or MLS wire code point (0x0001, 0xF110, 3).
    #[arg(long)]
    pub suite: Option<String>,
    /// Only this file (crypto-basics.json or crypto_basics).
    #[arg(long)]
    pub file: Option<String>,
    /// Directory for report.json, junit.xml and report.md.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Verification engine: rust-crypto (default), libcrux, or mls-rs (openmls on
    /// mls-rs-crypto-rustcrypto and RustCrypto's P-521, X448, Ed448: all seven suites).
    #[arg(long, default_value = "rust-crypto")]
    pub provider: String,
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
pub fn parse_suite(text: &str) -> Result<u16, UsageError> {
    let t = text.trim();
    let value = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => t.parse(),
    }
    .map_err(|_| UsageError(format!("--suite {text}: not a 16-bit suite code")))?;
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

fn verify(args: &VerifyArgs) -> Result<i32, UsageError> {
    if !args.dir.is_dir() {
        return Err(UsageError(format!(
            "--dir {}: not a readable directory",
            args.dir.display()
        )));
    }
    let provider = ProviderKind::parse(&args.provider).ok_or_else(|| {
        UsageError(format!(
            "--provider {}: expected rust-crypto, libcrux or mls-rs",
            args.provider
        ))
    })?;
    let suite = args.suite.as_deref().map(parse_suite).transpose()?;
    if let Some(file) = &args.file {
        if p2mls_vectors::file_kind(file).is_none() {
            return Err(UsageError(format!(
                "--file {file}: not a known vector file"
            )));
        }
    }
    let selection = Selection {
        suite,
        file: args.file.clone(),
    };
    let (entries, absent) = p2mls_vectors::verify_dir(&args.dir, provider, &selection);
    if entries.is_empty() && absent.len() == p2mls_vectors::FILES.len() {
        return Err(UsageError(format!(
            "--dir {}: holds none of the known vector files",
            args.dir.display()
        )));
    }
    let report = Report::new(
        Header {
            harness: format!("p2mls {}", env!("CARGO_PKG_VERSION")),
            provider: provider.name().to_owned(),
            directory: args.dir.display().to_string(),
            absent: absent.iter().map(|s| (*s).to_owned()).collect(),
            suite: suite.map(p2mls_vectors::suite_hex),
            file: args.file.clone(),
        },
        entries,
    );
    print!("{}", report.table());
    for e in report
        .entries
        .iter()
        .filter(|e| e.outcome.verdict != p2mls_vectors::Verdict::Pass)
        .filter(|e| e.outcome.verdict != p2mls_vectors::Verdict::Unsupported)
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
            .map_err(|e| UsageError(format!("cannot write reports to {}: {e}", dir.display())))?;
        println!("reports written to {}", dir.display());
    }
    Ok(report.exit_code())
}

fn generate(args: &GenerateArgs) -> Result<(), UsageError> {
    let wire = parse_suite(&args.suite)?;
    let files = p2mls_vectors::generate::generate(wire, args.seed).map_err(UsageError)?;
    p2mls_vectors::generate::write(&args.out, &files)
        .map_err(|e| UsageError(format!("cannot write to {}: {e}", args.out.display())))?;
    for (name, _) in &files {
        println!("{}", args.out.join(name).display());
    }
    Ok(())
}
