//! Load generator: signed (V3) GetSecretValue / PutSecretValue at a chosen concurrency against
//! a `secrets serve` on this machine, bounded in request count and time.
//!
//! ```text
//! cargo run --release -p secrets-server --example loadgen -- \
//!     --addr 127.0.0.1:8080 --access-key-id ID --op get --concurrency 32 \
//!     --requests 200000 --duration 20
//! ```
//!
//! The secret comes from `$LOADGEN_ACCESS_KEY_SECRET`. Only loopback addresses are accepted.
//! Prints requests/s, latency percentiles and errors by code, then one JSON line.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secrets_server::client::{Client, Credentials, SignatureVersion};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Get,
    Put,
    /// 9 gets to 1 put.
    Mix,
}

#[derive(Debug)]
struct Args {
    addr: SocketAddr,
    access_key_id: String,
    op: Op,
    concurrency: usize,
    requests: u64,
    duration: Duration,
    secrets: usize,
    value_size: usize,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:8080".parse().map_err(|e| format!("{e}"))?,
        access_key_id: String::new(),
        op: Op::Get,
        concurrency: 32,
        requests: 100_000,
        duration: Duration::from_secs(30),
        secrets: 16,
        value_size: 256,
        threads: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--addr" => args.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--access-key-id" => args.access_key_id = value()?,
            "--op" => {
                args.op = match value()?.as_str() {
                    "get" => Op::Get,
                    "put" => Op::Put,
                    "mix" => Op::Mix,
                    other => return Err(format!("--op get|put|mix, not {other}")),
                }
            }
            "--concurrency" => args.concurrency = number(value()?)?.clamp(1, 1024) as usize,
            "--requests" => args.requests = number(value()?)?.min(10_000_000),
            "--duration" => args.duration = Duration::from_secs(number(value()?)?.clamp(1, 600)),
            "--secrets" => args.secrets = number(value()?)?.clamp(1, 10_000) as usize,
            "--value-size" => args.value_size = number(value()?)?.clamp(1, 30_000) as usize,
            "--threads" => args.threads = number(value()?)?.clamp(1, 64) as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if !args.addr.ip().is_loopback() {
        return Err(format!(
            "{} is not a loopback address: load only this machine",
            args.addr
        ));
    }
    if args.access_key_id.is_empty() {
        return Err("--access-key-id is required".into());
    }
    Ok(args)
}

/// What one worker saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

fn secret_name(i: usize) -> String {
    format!("loadgen/secret-{i:05}")
}

async fn worker(
    id: usize,
    args: Arc<Args>,
    credentials: Credentials,
    issued: Arc<AtomicU64>,
    started: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut client = match Client::connect(args.addr, credentials, SignatureVersion::V3).await {
        Ok(c) => c,
        Err(e) => {
            *tally.errors.entry(format!("connect: {e}")).or_default() += 1;
            return tally;
        }
    };
    let value = "v".repeat(args.value_size);
    loop {
        let n = issued.fetch_add(1, Ordering::Relaxed);
        if n >= args.requests || started.elapsed() >= args.duration {
            break;
        }
        let name = secret_name((n as usize) % args.secrets);
        let put = match args.op {
            Op::Get => false,
            Op::Put => true,
            Op::Mix => n % 10 == 9,
        };
        let version = format!("w{id}-{n}");
        let begun = Instant::now();
        let reply = if put {
            client
                .call(
                    "PutSecretValue",
                    &[
                        ("SecretName", &name),
                        ("VersionId", &version),
                        ("SecretData", &value),
                    ],
                )
                .await
        } else {
            client
                .call("GetSecretValue", &[("SecretName", &name)])
                .await
        };
        let micros = u32::try_from(begun.elapsed().as_micros()).unwrap_or(u32::MAX);
        match reply {
            Ok(r) if r.status == 200 => tally.latencies_us.push(micros),
            Ok(r) => {
                let code = r.code().unwrap_or("no code").to_owned();
                *tally.errors.entry(code).or_default() += 1;
            }
            Err(e) => {
                *tally.errors.entry(format!("transport: {e}")).or_default() += 1;
                break;
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

async fn setup(args: &Args, credentials: &Credentials) -> Result<(), String> {
    let mut client = Client::connect(args.addr, credentials.clone(), SignatureVersion::V3)
        .await
        .map_err(|e| format!("connecting to {}: {e}", args.addr))?;
    let value = "v".repeat(args.value_size);
    for i in 0..args.secrets {
        let name = secret_name(i);
        let reply = client
            .call(
                "CreateSecret",
                &[
                    ("SecretName", &name),
                    ("VersionId", "v0"),
                    ("SecretData", &value),
                ],
            )
            .await
            .map_err(|e| format!("creating {name}: {e}"))?;
        if reply.status != 200 && reply.code() != Some("Rejected.ResourceExist") {
            return Err(format!("creating {name}: {}", reply.body));
        }
    }
    Ok(())
}

async fn run(args: Args, credentials: Credentials) -> Result<(), String> {
    setup(&args, &credentials).await?;
    let args = Arc::new(args);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|id| {
            tokio::spawn(worker(
                id,
                Arc::clone(&args),
                credentials.clone(),
                Arc::clone(&issued),
                started,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for w in workers {
        let tally = w.await.map_err(|e| format!("a worker failed: {e}"))?;
        latencies.extend(tally.latencies_us);
        for (code, n) in tally.errors {
            *errors.entry(code).or_default() += n;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let ok = latencies.len() as f64;
    let error_count: u64 = errors.values().sum();
    let op = format!("{:?}", args.op).to_lowercase();
    println!(
        "op={op} concurrency={} ok={} errors={error_count} elapsed={elapsed:.2}s",
        args.concurrency,
        latencies.len()
    );
    println!(
        "requests/s={:.0} p50={:.3}ms p99={:.3}ms p99.9={:.3}ms max={:.3}ms",
        ok / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9),
        percentile(&latencies, 100.0)
    );
    for (code, n) in &errors {
        println!("error {code}: {n}");
    }
    println!(
        "{}",
        serde_json::json!({
            "op": op, "concurrency": args.concurrency, "ok": latencies.len(),
            "errors": errors, "elapsed_s": elapsed, "requests_per_s": ok / elapsed,
            "p50_ms": percentile(&latencies, 50.0), "p99_ms": percentile(&latencies, 99.0),
            "max_ms": percentile(&latencies, 100.0),
        })
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(secret) = std::env::var("LOADGEN_ACCESS_KEY_SECRET") else {
        eprintln!("loadgen: set LOADGEN_ACCESS_KEY_SECRET");
        return ExitCode::from(2);
    };
    let credentials = Credentials::new(args.access_key_id.clone(), secret);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args, credentials)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(1)
        }
    }
}
