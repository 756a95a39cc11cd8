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
    /// RFC 9420 test vectors: verify a directory, or generate our own for a suite.
    #[command(subcommand)]
    Vectors(p2mls::vectors::VectorsCommand),
}

fn main() {
    let cli = Cli::parse();
    if let Command::Vectors(command) = &cli.command {
        std::process::exit(p2mls::vectors::run(command));
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
            Command::Run(args) => run(args).await,
            // Handled before the runtime starts.
            Command::Vectors(_) => 2,
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
            for c in report.checks.iter().filter(|c| c.evidence.is_some()) {
                println!("  {:<11} {}: {}", c.verdict.as_str(), c.def.id, c.reason);
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
