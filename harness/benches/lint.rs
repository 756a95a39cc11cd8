//! `p2mls lint` and `p2mls lint --fix` on the six published documents (release build), and
//! Spectral on the same documents where it is installed, for the "at least 10x faster than
//! Spectral" claim of docs/LINT.md.
//!
//! Run: `P2MLS_SHARED=../shared cargo bench -p p2mls --bench lint`. Spectral is found as
//! `$P2MLS_SPECTRAL` or `spectral` on the PATH and runs with the `spectral:oas` ruleset; its
//! time is the wall clock of one process (start-up included, as an editor meets it), ours that of
//! the `p2mls` binary for the same command, plus the library call alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use p2mls::lint::{self, fix, Document, Options};

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn run(program: &Path, args: &[String]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.code().is_some())
        .unwrap_or(false)
}

fn main() {
    let Some(shared) = std::env::var_os("P2MLS_SHARED").map(PathBuf::from) else {
        eprintln!("set P2MLS_SHARED to the shared/ directory");
        return;
    };
    let mut paths = Vec::new();
    for version in ["3.0.0", "3.1.0"] {
        let dir = shared.join("openapi-upstream").join(version);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("openapi-upstream")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        names.sort();
        paths.extend(names);
    }
    let docs: Vec<Document> = paths
        .iter()
        .map(|p| Document::load(p, &p.display().to_string()).expect("loads"))
        .collect();
    let args: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    println!("{} documents", docs.len());
    let library = median(21, || {
        lint::lint(&docs, &Options::default(), None);
    });
    println!("lint, library call:            {}", ms(library));
    let fixing = median(21, || {
        for d in &docs {
            fix::fix(d);
        }
    });
    println!("lint --fix, library call:      {}", ms(fixing));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_p2mls"));
    let mut lint_args = vec!["lint".to_owned()];
    lint_args.extend(args.iter().cloned());
    let ours = median(11, || {
        assert!(run(&exe, &lint_args), "p2mls lint did not run");
    });
    println!("p2mls lint (process):          {}", ms(ours));
    let mut dry = lint_args.clone();
    dry.push("--fix-dry-run".into());
    let ours_fix = median(11, || {
        assert!(run(&exe, &dry), "p2mls lint --fix-dry-run did not run");
    });
    println!("p2mls lint --fix-dry-run:      {}", ms(ours_fix));
    let spectral = std::env::var_os("P2MLS_SPECTRAL")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|d| d.join("spectral"))
                    .find(|p| p.is_file())
            })
        });
    let Some(spectral) = spectral else {
        println!("spectral: not installed (set P2MLS_SPECTRAL or put it on the PATH)");
        return;
    };
    let ruleset = std::env::temp_dir().join("p2mls-bench-spectral.yaml");
    std::fs::write(&ruleset, "extends: [[spectral:oas, recommended]]\n").expect("ruleset");
    let mut spectral_args = vec![
        "lint".to_owned(),
        "--ruleset".to_owned(),
        ruleset.display().to_string(),
        "--quiet".to_owned(),
    ];
    spectral_args.extend(args.iter().cloned());
    let theirs = median(5, || {
        assert!(run(&spectral, &spectral_args), "spectral did not run");
    });
    println!("spectral lint (process):       {}", ms(theirs));
    println!(
        "p2mls lint is {:.1}x faster than spectral (process against process)",
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}
