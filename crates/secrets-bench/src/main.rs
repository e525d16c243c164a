//! `secrets-bench`: the throughput of the secrets store beside its physical floor, measured in
//! one run, and (`--scale`) how its cost grows with the number of secrets.
//!
//! ```text
//! cargo run --release -p secrets-bench                 # the main table (about 2 minutes)
//! cargo run --release -p secrets-bench -- --quick      # short rounds, a smoke run
//! cargo run --release -p secrets-bench -- --scale      # 1,000 to 1,000,000 secrets
//! ```
//!
//! Every value is 1 KiB. sled stores are durable (every acknowledged write flushed) and live in
//! fresh directories under `--dir` (default: the system's temporary directory), removed at the
//! end. `docs/benchmarks.md` holds the figures and how to read them.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod facade;
mod floors;
mod measure;
mod pg;
mod scale;
mod suite;
mod sys;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use scale::{Backend, ScaleSettings};
use suite::Settings;

const USAGE: &str = "\
usage: secrets-bench [--quick] [--scale] [--rounds N] [--round-ms MS] [--dir PATH]

  (no flag)      every operation beside its floor: a table of ops/s and ratios
  --quick        short rounds (a smoke run; figures are rough)
  --scale        create/get rates, memory and disk from 1,000 to 1,000,000 secrets
                 (with --quick: up to 100,000 on memory and 10,000 on sled)
  --rounds N     rounds of the main table (default 7, quick 3); medians are reported
  --round-ms MS  time of each benchmark in each round (default 400, quick 60)
  --step-limit-s S  stop a scale size that runs longer (default 600, quick 60)
  --dir PATH     where the sled directories go (default: the temporary directory)
  --postgres URL  also measure PostgreSQL (default: $SECRETS_TEST_POSTGRES_URL if set); the
                 run makes two schemas of its own there and drops them at the end";

/// The command line.
#[derive(Debug, Default)]
struct Args {
    quick: bool,
    scale: bool,
    rounds: Option<usize>,
    round_ms: Option<u64>,
    step_limit_s: Option<u64>,
    dir: Option<PathBuf>,
    postgres: Option<String>,
    /// Internal: run one size of the scale run (a child process of `--scale`).
    scale_step: Option<(Backend, u64)>,
    get_ms: Option<u64>,
}

fn parse_args(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(word) = words.next() {
        let mut value = |flag: &str| words.next().ok_or(format!("{flag} needs a value"));
        match word.as_str() {
            "--quick" => args.quick = true,
            "--scale" => args.scale = true,
            "--rounds" => args.rounds = Some(number(&value("--rounds")?)?),
            "--round-ms" => args.round_ms = Some(number(&value("--round-ms")?)?),
            "--step-limit-s" => args.step_limit_s = Some(number(&value("--step-limit-s")?)?),
            "--get-ms" => args.get_ms = Some(number(&value("--get-ms")?)?),
            "--dir" => args.dir = Some(PathBuf::from(value("--dir")?)),
            "--postgres" => args.postgres = Some(value("--postgres")?),
            "--scale-step" => {
                let backend = value("--scale-step")?;
                let backend =
                    Backend::parse(&backend).ok_or(format!("unknown backend {backend}"))?;
                let n = number(&value("--scale-step")?)?;
                if n == 0 {
                    return Err("--scale-step needs at least one secret".into());
                }
                args.scale_step = Some((backend, n));
            }
            "-h" | "--help" => return Err(String::new()),
            // `cargo bench` passes this to every bench target; there is nothing to do then.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.rounds == Some(0) {
        return Err("--rounds must be at least 1".into());
    }
    Ok(args)
}

/// The 1 KiB value every benchmark writes (printable, so that it is valid `text`).
pub(crate) fn value() -> Vec<u8> {
    (0..1024u32).map(|i| b'a' + (i % 26) as u8).collect()
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("secrets-bench: {why}");
            }
            eprintln!("{USAGE}");
            return if why.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    if let Some((backend, n)) = args.scale_step {
        let get_budget = Duration::from_millis(args.get_ms.unwrap_or(1000));
        scale::step(backend, n, &base, get_budget);
        return ExitCode::SUCCESS;
    }
    let dir = match tempfile::Builder::new()
        .prefix("secrets-bench-")
        .tempdir_in(&base)
    {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!(
                "secrets-bench: cannot make a directory in {}: {e}",
                base.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "secrets-bench: {cores} cores; sled directories under {}\n",
        base.display()
    );
    if args.scale {
        let settings = ScaleSettings {
            memory_max: if args.quick { 100_000 } else { 1_000_000 },
            sled_max: if args.quick { 10_000 } else { 1_000_000 },
            step_limit: Duration::from_secs(args.step_limit_s.unwrap_or(if args.quick {
                60
            } else {
                600
            })),
            get_budget: Duration::from_millis(if args.quick { 200 } else { 1000 }),
        };
        println!("{}", scale::run(settings, dir.path()));
    } else {
        let settings = Settings {
            rounds: args.rounds.unwrap_or(if args.quick { 3 } else { 7 }),
            round: Duration::from_millis(args.round_ms.unwrap_or(if args.quick {
                60
            } else {
                400
            })),
        };
        let postgres = args
            .postgres
            .clone()
            .or_else(|| std::env::var("SECRETS_TEST_POSTGRES_URL").ok())
            .filter(|url| !url.is_empty());
        let results = suite::run(settings, dir.path(), postgres.as_deref());
        println!("{}", results.report(settings));
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Args, String> {
        parse_args(words.iter().map(|w| w.to_string()))
    }

    #[test]
    fn flags_parse() {
        let args = parse(&["--quick", "--scale", "--rounds", "5", "--dir", "/x"]).unwrap();
        assert!(args.quick && args.scale);
        assert_eq!(args.rounds, Some(5));
        assert_eq!(args.dir, Some(PathBuf::from("/x")));
        let pg = parse(&["--postgres", "postgresql://x@127.0.0.1/db"]).unwrap();
        assert_eq!(pg.postgres.as_deref(), Some("postgresql://x@127.0.0.1/db"));
        let step = parse(&["--scale-step", "sled", "1000"]).unwrap();
        assert_eq!(step.scale_step, Some((Backend::Sled, 1000)));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(parse(&["--rounds"]).is_err());
        assert!(parse(&["--postgres"]).is_err());
        assert!(parse(&["--rounds", "x"]).is_err());
        assert!(parse(&["--rounds", "0"]).is_err());
        assert!(parse(&["--scale-step", "postgres", "10"]).is_err());
        assert!(parse(&["--scale-step", "memory", "0"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert_eq!(parse(&["--help"]).unwrap_err(), "");
    }
}
