//! Wall time of a full `p2mls run` against the embedded reference server (release, loopback),
//! and where it goes: the checks run concurrently (the default `--jobs`), so the run is the span
//! from the first check's start to the last one's end plus the time outside it (starting the
//! server, registering the three actors, building the report); the sum of the checks' times over
//! that span is how many ran at once on average. Each check's time is the median over the runs.
//!
//! Run: `cargo bench -p p2mls --bench full_run` (P2MLS_BENCH_RUNS overrides 3).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use p2mls::{RunArgs, RunOutput};

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("P2MLS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let mut walls = Vec::new();
    let mut inside = Vec::new();
    // Check id -> (duration in each run, verdict of the last run).
    let mut checks: BTreeMap<String, (Vec<Duration>, String)> = BTreeMap::new();
    for _ in 0..runs {
        let started = Instant::now();
        let output = p2mls::run(&RunArgs::default()).await.expect("run");
        let wall = started.elapsed();
        assert_eq!(output.exit_code(), 0, "the clean embedded server failed");
        let RunOutput::Certified(report) = output else {
            unreachable!("a run without --list certifies")
        };
        walls.push(wall);
        // From the first check's start (offset zero) to the last one's end.
        inside.push(
            report
                .checks
                .iter()
                .map(|c| c.started + c.duration)
                .max()
                .unwrap_or_default(),
        );
        for c in &report.checks {
            let entry = checks.entry(c.def.id.clone()).or_default();
            entry.0.push(c.duration);
            entry.1 = c.verdict.as_str().to_owned();
        }
    }
    let mut per_check: Vec<(String, Duration, String)> = checks
        .into_iter()
        .map(|(id, (mut times, verdict))| (id, median(&mut times), verdict))
        .collect();
    let count = per_check.len();
    let wall = median(&mut walls.clone());
    let sum: Duration = per_check.iter().map(|(_, d, _)| *d).sum();
    let outside = median(
        &mut walls
            .iter()
            .zip(&inside)
            .map(|(w, i)| w.saturating_sub(*i))
            .collect::<Vec<_>>(),
    );
    let mut times: Vec<Duration> = per_check.iter().map(|(_, d, _)| *d).collect();
    let median_check = median(&mut times);
    walls.sort();

    let span = median(&mut inside.clone());
    println!("| runs | checks | wall (median) | min | max | checks' span | sum of check times | at once (sum / span) | outside checks | mean per check | median per check |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {runs} | {count} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.1} | {:.0} ms | {:.1} ms | {:.1} ms |",
        wall.as_secs_f64(),
        walls[0].as_secs_f64(),
        walls[walls.len() - 1].as_secs_f64(),
        span.as_secs_f64(),
        sum.as_secs_f64(),
        sum.as_secs_f64() / span.as_secs_f64().max(1e-9),
        ms(outside),
        ms(sum) / count as f64,
        ms(median_check),
    );

    // Families: the first segment of the check id; the per-operation contract checks
    // (`<operationId>.auth.*`, `.bad-request.*`, `.not-found.*`, `.success`) form one.
    let mut families: BTreeMap<&str, (usize, Duration)> = BTreeMap::new();
    for (id, d, _) in &per_check {
        let family = match id.split('.').next().unwrap_or(id) {
            op if op.contains('_') => "per-operation contract",
            family => family,
        };
        let entry = families.entry(family).or_default();
        entry.0 += 1;
        entry.1 += *d;
    }
    let mut families: Vec<_> = families.into_iter().collect();
    families.sort_by_key(|f| std::cmp::Reverse(f.1 .1));
    println!();
    println!("| family | checks | time | share of time in checks |");
    println!("|---|---|---|---|");
    for (family, (n, d)) in &families {
        println!(
            "| {family} | {n} | {:.0} ms | {:.0} % |",
            ms(*d),
            100.0 * d.as_secs_f64() / sum.as_secs_f64(),
        );
    }

    per_check.sort_by_key(|c| std::cmp::Reverse(c.1));
    println!();
    println!("| slowest checks | time | share of time in checks | verdict |");
    println!("|---|---|---|---|");
    for (id, d, verdict) in per_check.iter().take(5) {
        println!(
            "| `{id}` | {:.0} ms | {:.0} % | {verdict} |",
            ms(*d),
            100.0 * d.as_secs_f64() / sum.as_secs_f64(),
        );
    }
}
