//! Release-mode timing of vector verification, without a bench framework: the whole directory
//! and each file, with std::time. Run:
//!
//! ```sh
//! P2MLS_VECTORS_DIR=../shared/vectors/rfc9420 cargo bench -p p2mls-vectors --bench verify
//! ```
//!
//! Prints a Markdown table (the one in the README). `P2MLS_VECTORS_PROVIDER=libcrux` switches
//! the provider; `P2MLS_BENCH_RUNS` sets the number of runs (default 3; the median is shown).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use p2mls_vectors::report::Summary;
use p2mls_vectors::{load, verify_entries, ProviderKind, FILES};

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
    println!("provider: {}, runs: {runs} (median)\n", provider.name());
    println!("| file | entries | pass | unsupported | fail+error | median ms |");
    println!("|---|---|---|---|---|---|");
    let mut total = Duration::ZERO;
    let mut all = Summary::default();
    for kind in FILES {
        let Ok(entries) = load::read_entries(&dir, kind.file) else {
            println!("| `{}` | absent or unreadable | | | | |", kind.file);
            continue;
        };
        let mut times = Vec::new();
        let mut summary = Summary::default();
        for _ in 0..runs {
            let start = Instant::now();
            let reports = verify_entries(kind, provider, &entries, None);
            times.push(start.elapsed());
            summary = Summary::of(&reports);
        }
        times.sort();
        let median = times[times.len() / 2];
        total += median;
        all.pass += summary.pass;
        all.unsupported += summary.unsupported;
        all.fail += summary.fail;
        all.error += summary.error;
        println!(
            "| `{}` | {} | {} | {} | {} | {:.1} |",
            kind.file,
            entries.len(),
            summary.pass,
            summary.unsupported,
            summary.fail + summary.error,
            median.as_secs_f64() * 1000.0
        );
    }
    println!(
        "| **whole directory** | {} | {} | {} | {} | {:.1} |",
        all.total(),
        all.pass,
        all.unsupported,
        all.fail + all.error,
        total.as_secs_f64() * 1000.0
    );
}
