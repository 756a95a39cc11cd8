//! `p2mls`: command line only; the work is in the library.

use clap::{Parser, Subcommand};
use p2mls::{RunArgs, RunOutput};

#[derive(Parser)]
#[command(version, about = "Conformance and interop harness for polyproto-mls")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Certify a server (the embedded reference server unless --target is given).
    Run(RunArgs),
    /// Run the reference server.
    Serve(p2mls_reference_server::ServeArgs),
    /// Lint OpenAPI documents against the polyproto rule catalogue (docs/LINT.md).
    Lint(p2mls::lint::LintArgs),
    /// List the changes between two versions of a document, breaking or not for clients and
    /// for servers.
    Diff(p2mls::diff::DiffArgs),
    /// Re-send the gateway frames of a failed check from a report.json and print what comes back.
    Replay(p2mls::replay::ReplayArgs),
    /// Run a hostile target (stalls, trickles, huge bodies, invalid JSON or UTF-8, truncated
    /// messages) to see that `p2mls run` against it ends in bounded time and memory.
    Chaos(p2mls::chaos::ChaosArgs),
    /// RFC 9420 test vectors: verify a directory, or generate our own for a suite.
    #[command(subcommand)]
    Vectors(p2mls::vectors::VectorsCommand),
}

fn main() {
    let cli = Cli::parse();
    // lint, diff and vectors are synchronous: no runtime needed.
    match &cli.command {
        Command::Lint(args) => std::process::exit(lint(args)),
        Command::Diff(args) => std::process::exit(diff(args)),
        Command::Vectors(command) => std::process::exit(p2mls::vectors::run(command)),
        _ => {}
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("p2mls: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => {
                tracing_subscriber::fmt()
                    .with_env_filter(
                        tracing_subscriber::EnvFilter::try_from_default_env()
                            .unwrap_or_else(|_| "info".into()),
                    )
                    .init();
                match p2mls_reference_server::serve_forever(args).await {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("p2mls serve: {e:#}");
                        2
                    }
                }
            }
            Command::Run(mut args) => {
                // Ctrl-C: stop after the running check, clean up, write the reports; a second
                // Ctrl-C stops at once.
                let (stop, interrupt) = tokio::sync::watch::channel(false);
                args.interrupt = Some(interrupt);
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        eprintln!("\np2mls: interrupted: cleaning up and writing the reports (Ctrl-C again to stop at once)");
                        let _ = stop.send(true);
                        if tokio::signal::ctrl_c().await.is_ok() {
                            std::process::exit(130);
                        }
                    }
                });
                run(args).await
            }
            Command::Chaos(args) => match p2mls::chaos::serve(&args).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("p2mls chaos: {e}");
                    2
                }
            },
            Command::Replay(args) => match p2mls::replay::replay(&args).await {
                Ok(frames) => {
                    for f in frames {
                        println!(
                            "{:>6} ms  {:<10} {:<8} {}",
                            f.at_ms,
                            f.connection,
                            format!("{:?}", f.direction).to_lowercase(),
                            f.payload
                        );
                    }
                    0
                }
                Err(e) => {
                    eprintln!("p2mls replay: {e}");
                    2
                }
            },
            Command::Lint(_) | Command::Diff(_) | Command::Vectors(_) => unreachable_command(),
        }
    });
    std::process::exit(code);
}

async fn run(args: RunArgs) -> i32 {
    let output = match p2mls::run(&args).await {
        Ok(output) => output,
        Err(e) => {
            eprintln!("p2mls run: {e}");
            return 2;
        }
    };
    match &output {
        RunOutput::Listed(defs) => {
            for d in defs {
                println!(
                    "{:<60} {:<8} {}",
                    d.id,
                    d.level.as_str(),
                    d.requirements.join(",")
                );
            }
        }
        RunOutput::Certified(report) => {
            let s = &report.summary;
            println!(
                "{} checks: {} pass, {} fail, {} non-strict, {} unsupported, {} error",
                report.checks.len(),
                s.pass,
                s.fail,
                s.non_strict,
                s.unsupported,
                s.error
            );
            if let Some(cleanup) = &report.cleanup {
                println!(
                    "clean-up: {} removed through the API, {} left on the target (listed in the report){}",
                    cleanup.removed.len(),
                    cleanup.left.len(),
                    if cleanup.errors.is_empty() {
                        String::new()
                    } else {
                        format!("; {} clean-up error(s): {}", cleanup.errors.len(), cleanup.errors.join("; "))
                    }
                );
            }
            // Each root cause once, with the checks it broke (details are in the reports).
            for line in p2mls::console::summary_lines(&report.checks) {
                println!("{line}");
            }
            for line in p2mls::console::difference_lines(&report.differences) {
                println!("{line}");
            }
            if args.format.github() {
                for line in p2mls::console::github_annotations(&report.checks) {
                    println!("{line}");
                }
            }
            if !report.gate.now_passing.is_empty() {
                println!(
                    "expected failures that now pass: {}",
                    report.gate.now_passing.join(", ")
                );
            }
            if let Some(dir) = &args.out {
                if let Err(e) = report.write(dir) {
                    eprintln!("p2mls run: cannot write reports to {}: {e}", dir.display());
                    return 2;
                }
                println!("reports written to {}", dir.display());
            }
        }
    }
    output.exit_code()
}

/// Commands handled before the runtime starts never reach the async dispatch.
fn unreachable_command() -> i32 {
    eprintln!("p2mls: internal error: command dispatched twice");
    2
}

fn lint(args: &p2mls::lint::LintArgs) -> i32 {
    let outcome = p2mls::lint::run(args);
    eprint!("{}", outcome.notes);
    for e in &outcome.errors {
        eprintln!("p2mls lint: {e}");
    }
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &outcome.output) {
                eprintln!("p2mls lint: cannot write {}: {e}", path.display());
                return 2;
            }
        }
        None => print!("{}", outcome.output),
    }
    outcome.code
}

fn diff(args: &p2mls::diff::DiffArgs) -> i32 {
    match p2mls::diff::run(args) {
        Ok((output, code)) => {
            print!("{output}");
            code
        }
        Err(e) => {
            eprintln!("p2mls diff: {e}");
            2
        }
    }
}
