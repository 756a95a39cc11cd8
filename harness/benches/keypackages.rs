//! KeyPackage throughput of the reference server (release, loopback only, bounded): durable
//! SQLite storage (a database file: WAL, `synchronous = FULL`, every 2xx after its commit) side
//! by side with in-memory storage. Each server runs as its own process, so its CPU time is
//! measured apart from the client's.
//!
//! Per storage, before any timing: N actors register and generate all their KeyPackages
//! (suite 0x0001; openmls generation is not what is measured) and the request bodies are
//! serialized. Then C cycles, each timed phase by phase:
//! 1. batch upload: N concurrent uploaders, each POSTing B batches of S KeyPackages;
//! 2. single upload: N concurrent uploaders, each POSTing P requests of one KeyPackage (one
//!    transaction, so one fsync, per package);
//! 3. discovery: N concurrent discoverers consume every package of the cycle, one per request,
//!    each cycling over all owners. Every answer must hold exactly one package never handed
//!    out before, and afterwards no owner has any left.
//!
//! With the defaults a session never stores more than 100 packages, the server's default limit:
//! discovery reads every stored package of the owner, so its cost grows with that number.
//!
//! Run: `cargo bench -p p2mls --bench keypackages`. P2MLS_KP_ACTORS (8), P2MLS_KP_CYCLES (10),
//! P2MLS_KP_BATCHES (1 per cycle), P2MLS_KP_BATCH (50) and P2MLS_KP_SINGLES (50 per cycle)
//! override the workload, P2MLS_KP_ROUNDS (3) the number of rounds, P2MLS_BENCH_DIR the
//! directory the database files are created in (default: the system temp directory).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use openmls::prelude::Ciphersuite;
use p2mls::clients::actors::{register, Actor};
use p2mls::clients::http::Http;
use p2mls::clients::mls::{key_package_json, KeyPackageOptions};
use p2mls_protocol::identifiers::format_code_point;
use p2mls_protocol::routes;
use p2mls_protocol::suites::SuiteRegistry;
use serde_json::Value;

const SECRET: &str = "kp-bench-secret";
const SUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
/// Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ).
const TICKS_PER_SECOND: u64 = 100;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy)]
struct Workload {
    actors: usize,
    cycles: usize,
    /// Batches per actor and cycle.
    batches: usize,
    /// Packages per batch.
    batch: usize,
    /// Single-package uploads per actor and cycle.
    singles: usize,
}

impl Workload {
    /// Packages each actor uploads, and has discovered, per cycle.
    fn per_cycle(&self) -> usize {
        self.batches * self.batch + self.singles
    }
}

enum Storage {
    Durable(PathBuf),
    InMemory,
}

/// The round with the median throughput.
fn median_round(mut rounds: Vec<Phase>) -> Phase {
    rounds.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    rounds.swap_remove(rounds.len() / 2)
}

/// `p2mls serve` as a child process; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(storage: &Storage, keypackage_limit: usize) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_p2mls"));
        command.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--registration-secret",
            SECRET,
            "--keypackage-limit",
            &keypackage_limit.to_string(),
        ]);
        match storage {
            Storage::Durable(path) => command.arg("--db").arg(path),
            Storage::InMemory => command.arg("--in-memory"),
        };
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("server starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("serving ").map(str::to_owned))
            .expect("the server prints `serving URL`");
        // Keep reading, so that the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, base }
    }

    /// Whether the process still runs: a failed request says whether the server died under it
    /// (killed from outside, e.g.) or answered badly.
    fn liveness(&self) -> &'static str {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        match stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
        {
            Some("Z" | "X") | None => "the server process has exited",
            Some(_) => "the server process still runs",
        }
    }

    /// User plus system CPU time the server process has used so far.
    fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the parenthesised command name: state is the first, utime the 12th and
        // stime the 13th (proc(5) fields 14 and 15).
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .map(|f| f.parse().unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default();
        let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
        Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One timed phase.
struct Phase {
    requests: usize,
    packages: usize,
    wall: Duration,
    /// Sorted request latencies.
    latencies: Vec<Duration>,
    server_cpu: Duration,
}

impl Phase {
    /// The cycles of one phase as one.
    fn merge(parts: Vec<Phase>) -> Phase {
        let mut latencies: Vec<Duration> = parts.iter().flat_map(|p| p.latencies.clone()).collect();
        latencies.sort();
        Phase {
            requests: parts.iter().map(|p| p.requests).sum(),
            packages: parts.iter().map(|p| p.packages).sum(),
            wall: parts.iter().map(|p| p.wall).sum(),
            latencies,
            server_cpu: parts.iter().map(|p| p.server_cpu).sum(),
        }
    }

    fn rate(&self) -> f64 {
        self.packages as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index.min(self.latencies.len() - 1)]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Serialized upload bodies of one actor in one cycle: batched, then single.
type Bodies = (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Upload bodies of one actor per cycle: `batches` arrays of `batch` packages, then `singles`
/// arrays of one.
fn bodies(actor: &Actor, work: Workload, registry: &SuiteRegistry) -> Vec<Bodies> {
    let encode = |chunk: &[Value]| serde_json::to_vec(chunk).expect("json");
    (0..work.cycles)
        .map(|_| {
            let packages: Vec<Value> = (0..work.per_cycle())
                .map(|_| {
                    let bytes = actor
                        .mls
                        .key_package(SUITE, &KeyPackageOptions::default())
                        .expect("KeyPackage");
                    key_package_json(&bytes, registry).expect("KeyPackage JSON")
                })
                .collect();
            let (batched, single) = packages.split_at(work.batches * work.batch);
            (
                batched.chunks(work.batch).map(encode).collect(),
                single.chunks(1).map(encode).collect(),
            )
        })
        .collect()
}

/// Every uploader POSTs its bodies one after another; the uploaders run concurrently.
async fn upload(
    client: &reqwest::Client,
    server: &Server,
    work: Vec<(String, Vec<Vec<u8>>)>,
    per_request: usize,
) -> Phase {
    let url = format!("{}{}", server.base, routes::KEYPACKAGES);
    let requests = work.iter().map(|(_, b)| b.len()).sum::<usize>();
    let cpu = server.cpu();
    let started = Instant::now();
    let uploaders = work.into_iter().map(|(token, bodies)| {
        let url = url.clone();
        async move {
            let mut latencies = Vec::with_capacity(bodies.len());
            for body in bodies {
                let sent = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("upload failed ({}): {e:?}", server.liveness()));
                let status = resp.status().as_u16();
                let text = resp.text().await.expect("upload body");
                assert_eq!(status, 200, "upload refused: {text}");
                latencies.push(sent.elapsed());
            }
            latencies
        }
    });
    let mut latencies = join_all(uploaders).await.concat();
    let wall = started.elapsed();
    latencies.sort();
    Phase {
        requests,
        packages: requests * per_request,
        wall,
        latencies,
        server_cpu: server.cpu().saturating_sub(cpu),
    }
}

async fn discover_one(
    client: &reqwest::Client,
    server: &Server,
    url: &str,
    token: &str,
) -> Vec<Value> {
    let resp = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("discovery failed ({}): {e:?}", server.liveness()));
    match resp.status().as_u16() {
        204 => Vec::new(),
        200 => resp.json().await.expect("a JSON array"),
        status => panic!("discovery answered {status}: {:?}", resp.text().await),
    }
}

/// Discoverer `j` consumes `count` packages, owner `(j + i) % n` in its `i`th request, so every
/// owner is asked `count` times in total when there are as many discoverers as owners.
async fn discover(
    client: &reqwest::Client,
    server: &Server,
    actors: &[Actor],
    count: usize,
) -> Phase {
    let query = format!("ciphersuites={}", format_code_point(0x0001));
    let urls: Vec<String> = actors
        .iter()
        .map(|a| format!("{}{}?{query}", server.base, routes::keypackages_of(&a.fid)))
        .collect();
    let cpu = server.cpu();
    let started = Instant::now();
    let discoverers = actors.iter().enumerate().map(|(j, by)| {
        let urls = &urls;
        async move {
            let mut latencies = Vec::with_capacity(count);
            let mut ids = Vec::with_capacity(count);
            for i in 0..count {
                let sent = Instant::now();
                let list =
                    discover_one(client, server, &urls[(j + i) % urls.len()], &by.token).await;
                latencies.push(sent.elapsed());
                assert_eq!(list.len(), 1, "discovery must hand out exactly one package");
                ids.push(list[0]["id"].as_str().expect("id").to_owned());
            }
            (latencies, ids)
        }
    });
    let (latencies, ids): (Vec<_>, Vec<_>) = join_all(discoverers).await.into_iter().unzip();
    let wall = started.elapsed();
    let server_cpu = server.cpu().saturating_sub(cpu);
    let ids: Vec<String> = ids.concat();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a KeyPackage was handed out twice");
    for url in &urls {
        let rest = discover_one(client, server, url, &actors[0].token).await;
        assert!(rest.is_empty(), "packages left after consuming all of them");
    }
    let mut latencies = latencies.concat();
    latencies.sort();
    Phase {
        requests: ids.len(),
        packages: ids.len(),
        wall,
        latencies,
        server_cpu,
    }
}

/// Batch upload, single upload and discovery against one server, each summed over the cycles.
async fn measure(storage: &Storage, work: Workload) -> [Phase; 3] {
    let server = Server::start(storage, work.per_cycle().max(100));
    let http = Http::new(&server.base, Duration::from_secs(60)).expect("http");
    let tag = p2mls::random_hex(4);
    let mut actors = Vec::new();
    for i in 0..work.actors {
        actors.push(
            register(&http, SECRET, &format!("kp{i}"), &tag)
                .await
                .expect("actor"),
        );
    }
    let registry = &SuiteRegistry::default();
    // Generation uses both cores; it is not timed.
    let generated: Vec<Vec<Bodies>> = std::thread::scope(|scope| {
        let handles: Vec<_> = actors
            .iter()
            .map(|a| scope.spawn(move || bodies(a, work, registry)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("generation"))
            .collect()
    });
    // By cycle, then by actor.
    let mut cycles: Vec<Vec<Bodies>> = (0..work.cycles).map(|_| Vec::new()).collect();
    for per_actor in generated {
        for (cycle, bodies) in cycles.iter_mut().zip(per_actor) {
            cycle.push(bodies);
        }
    }
    let tokens = || actors.iter().map(|a| a.token.clone());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let mut phases: [Vec<Phase>; 3] = Default::default();
    for cycle in cycles {
        let (batched, singles): (Vec<_>, Vec<_>) = cycle.into_iter().unzip();
        let work_batched = tokens().zip(batched).collect();
        phases[0].push(upload(&client, &server, work_batched, work.batch).await);
        phases[1].push(upload(&client, &server, tokens().zip(singles).collect(), 1).await);
        phases[2].push(discover(&client, &server, &actors, work.per_cycle()).await);
    }
    phases.map(Phase::merge)
}

#[tokio::main]
async fn main() {
    let work = Workload {
        actors: env_or("P2MLS_KP_ACTORS", 8),
        cycles: env_or("P2MLS_KP_CYCLES", 10),
        batches: env_or("P2MLS_KP_BATCHES", 1),
        batch: env_or("P2MLS_KP_BATCH", 50),
        singles: env_or("P2MLS_KP_SINGLES", 50),
    };
    let rounds = env_or("P2MLS_KP_ROUNDS", 3).max(1);
    assert!(work.actors > 0 && work.cycles > 0 && work.batch > 0 && work.per_cycle() > 0);
    let base = std::env::var_os("P2MLS_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("p2mls-kpbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    // Rounds alternate the two storages, each on a fresh server (and database file); every
    // row reports the round with the median throughput, so a burst of load elsewhere on the
    // machine moves one round, not the table.
    let mut file: [Vec<Phase>; 3] = Default::default();
    let mut mem: [Vec<Phase>; 3] = Default::default();
    for round in 0..rounds {
        let durable = Storage::Durable(dir.join(format!("round{round}.sqlite")));
        for (all, phase) in file.iter_mut().zip(measure(&durable, work).await) {
            all.push(phase);
        }
        for (all, phase) in mem.iter_mut().zip(measure(&Storage::InMemory, work).await) {
            all.push(phase);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let file = file.map(median_round);
    let mem = mem.map(median_round);

    let operations = [
        format!("upload, {} per POST", work.batch),
        "upload, 1 per POST".to_owned(),
        "discover (consumes 1)".to_owned(),
    ];
    println!(
        "{} concurrent clients (one actor session each), {} cycles of {} packages per actor, \
         {rounds} rounds (median shown); database files in {}\n",
        work.actors,
        work.cycles,
        work.per_cycle(),
        base.display(),
    );
    println!("| storage | operation | requests | KeyPackages | wall | KeyPackages/s | p50 | p99 | server CPU |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (storage, phases) in [("durable SQLite file", &file), ("in-memory SQLite", &mem)] {
        for (operation, p) in operations.iter().zip(phases) {
            if p.requests == 0 {
                continue;
            }
            println!(
                "| {storage} | {operation} | {} | {} | {:.2} s | {:.0} | {:.1} ms | {:.1} ms | {:.2} s |",
                p.requests,
                p.packages,
                p.wall.as_secs_f64(),
                p.rate(),
                ms(p.percentile(0.5)),
                ms(p.percentile(0.99)),
                p.server_cpu.as_secs_f64(),
            );
        }
    }
    println!();
    println!("| operation | throughput durable / in-memory | p50 durable / in-memory | p99 durable / in-memory |");
    println!("|---|---|---|---|");
    for ((operation, f), m) in operations.iter().zip(&file).zip(&mem) {
        if f.requests == 0 {
            continue;
        }
        println!(
            "| {operation} | {:.2} | {:.2} | {:.2} |",
            f.rate() / m.rate(),
            ms(f.percentile(0.5)) / ms(m.percentile(0.5)),
            ms(f.percentile(0.99)) / ms(m.percentile(0.99)),
        );
    }
}
