//! `p2mls-reference-server`: the reference server on its own (same flags as `p2mls serve`).

use clap::Parser;

#[derive(Parser)]
#[command(version, about = "p2mls reference polyproto-mls home server (AS/DS)")]
struct Cli {
    #[command(flatten)]
    serve: p2mls_reference_server::ServeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    p2mls_reference_server::serve_forever(Cli::parse().serve).await
}
