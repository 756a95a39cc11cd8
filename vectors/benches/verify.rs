//! Release-mode timing of vector verification, without a bench framework: the whole directory
//! and each file, with std::time. Run:
//!
//! ```sh
//! P2MLS_VECTORS_DIR=../shared/vectors/rfc9420 cargo bench -p p2mls-vectors --bench verify
//! ```
//!
//! Prints a Markdown table (the one in the README): each file verified one entry at a time and
//! with one thread per core, as `p2mls vectors verify` does by default.
//! `P2MLS_VECTORS_PROVIDER=libcrux` switches the provider; `P2MLS_BENCH_RUNS` sets the number of
//! runs (default 3; the median is shown).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use p2mls_vectors::report::Summary;
use p2mls_vectors::{jobs_or_cores, load, verify_entries, FileKind, ProviderKind, FILES};
use serde_json::Value;

fn main() {
    let Some(dir) = std::env::var_os("P2MLS_VECTORS_DIR").map(PathBuf::from) else {
        println!("P2MLS_VECTORS_DIR is unset: nothing to time (set it to the rfc9420 directory)");
        return;
    };
    let provider = std::env::var("P2MLS_VECTORS_PROVIDER")
        .ok()
        .and_then(|p| ProviderKind::parse(&p))
        .unwrap_or(ProviderKind::RustCrypto);
    let runs: usize = std::env::var("P2MLS_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let cores = jobs_or_cores(0);
    println!(
        "provider: {}, runs: {runs} (median), parallel: {cores} threads\n",
        provider.name()
    );
    println!(
        "| file | entries | pass | unsupported | fail+error | sequential ms | parallel ms | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut totals = (Duration::ZERO, Duration::ZERO);
    let mut all = Summary::default();
    for kind in FILES {
        let Ok(entries) = load::read_entries(&dir, kind.file) else {
            println!("| `{}` | absent or unreadable | | | | | | |", kind.file);
            continue;
        };
        let (sequential, summary) = median(runs, kind, provider, &entries, 1);
        let (parallel, again) = median(runs, kind, provider, &entries, cores);
        assert_eq!(
            summary, again,
            "{}: verdicts depend on the threads",
            kind.file
        );
        totals.0 += sequential;
        totals.1 += parallel;
        all.pass += summary.pass;
        all.unsupported += summary.unsupported;
        all.fail += summary.fail;
        all.error += summary.error;
        println!(
            "| `{}` | {} | {} | {} | {} | {:.1} | {:.1} | {:.2} |",
            kind.file,
            entries.len(),
            summary.pass,
            summary.unsupported,
            summary.fail + summary.error,
            ms(sequential),
            ms(parallel),
            ms(sequential) / ms(parallel).max(0.001)
        );
    }
    println!(
        "| **whole directory** | {} | {} | {} | {} | {:.1} | {:.1} | {:.2} |",
        all.total(),
        all.pass,
        all.unsupported,
        all.fail + all.error,
        ms(totals.0),
        ms(totals.1),
        ms(totals.0) / ms(totals.1).max(0.001)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median wall time of verifying `entries` on `jobs` threads, and the verdict counts.
fn median(
    runs: usize,
    kind: &FileKind,
    provider: ProviderKind,
    entries: &[Value],
    jobs: usize,
) -> (Duration, Summary) {
    let mut times = Vec::new();
    let mut summary = Summary::default();
    for _ in 0..runs {
        let start = Instant::now();
        let reports = verify_entries(kind, provider, entries, None, jobs);
        times.push(start.elapsed());
        summary = Summary::of(&reports);
    }
    times.sort();
    (times[times.len() / 2], summary)
}
