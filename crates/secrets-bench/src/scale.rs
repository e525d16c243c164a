//! `--scale`: how create and get rates, memory and disk grow from 1,000 to 1,000,000 secrets.
//!
//! Each size runs in a child process of its own (this binary with `--scale-step`), so that its
//! resident memory is its own and a size that takes too long can be stopped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::facade::Facade;
use crate::measure;
use crate::suite::{CALLERS, thousands};
use crate::sys::{disk_bytes, resident_bytes};
use secret_storage_sled::SledOptions;

/// The sizes measured, per backend.
const SIZES: &[u64] = &[1_000, 10_000, 100_000, 1_000_000];
/// The line a child reports its result on.
const MARK: &str = "SCALE-RESULT";

/// The backend a scale step fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `MemoryStorage`, filled by one thread.
    Memory,
    /// sled, durable, filled by [`CALLERS`] threads (group commit).
    Sled,
}

impl Backend {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "memory" => Some(Backend::Memory),
            "sled" => Some(Backend::Sled),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sled => "sled",
        }
    }
}

/// How far and how long the scale run goes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScaleSettings {
    /// The largest size on memory.
    pub(crate) memory_max: u64,
    /// The largest size on sled.
    pub(crate) sled_max: u64,
    /// A size whose child runs longer than this is stopped, and larger sizes are skipped.
    pub(crate) step_limit: Duration,
    /// Time spent measuring gets at each size.
    pub(crate) get_budget: Duration,
}

/// What one size came to.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Step {
    create_rate: f64,
    get_rate: f64,
    rss_before: u64,
    rss_after: u64,
    disk: u64,
}

/// Runs every size (in child processes) and returns the table, in Markdown.
pub(crate) fn run(settings: ScaleSettings, dir: &Path) -> String {
    let mut out = String::from(
        "| backend | secrets | create ops/s | get ops/s | resident memory | per secret | on disk | per secret |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut notes = Vec::new();
    for (backend, max) in [
        (Backend::Memory, settings.memory_max),
        (Backend::Sled, settings.sled_max),
    ] {
        let mut previous_rate: Option<f64> = None;
        for &n in SIZES.iter().filter(|&&n| n <= max) {
            if let Some(rate) = previous_rate {
                let projected = n as f64 / rate;
                if projected > settings.step_limit.as_secs_f64() {
                    notes.push(format!(
                        "{} at {}: skipped, filling would take ~{projected:.0} s at the rate \
                         of the size before (limit {} s)",
                        backend.name(),
                        thousands(n as f64),
                        settings.step_limit.as_secs()
                    ));
                    break;
                }
            }
            eprintln!(
                "scale: {} with {} secrets",
                backend.name(),
                thousands(n as f64)
            );
            match run_child(backend, n, settings, dir) {
                Ok(step) => {
                    out.push_str(&row(backend, n, &step));
                    previous_rate = Some(step.create_rate);
                }
                Err(why) => {
                    notes.push(format!(
                        "{} at {}: {why}",
                        backend.name(),
                        thousands(n as f64)
                    ));
                    break;
                }
            }
        }
    }
    out.push_str(&format!(
        "\nmemory is filled by 1 thread, sled by {CALLERS} threads (durable, group commit); \
         gets read random secrets on 1 thread; resident memory is the growth of the process's \
         VmRSS while filling; on disk is the allocated size of the sled directory\n"
    ));
    for note in notes {
        out.push_str(&format!("\n- {note}"));
    }
    out.push('\n');
    out
}

fn row(backend: Backend, n: u64, step: &Step) -> String {
    let grown = step.rss_after.saturating_sub(step.rss_before);
    let (disk, disk_per) = match backend {
        Backend::Memory => ("–".to_owned(), "–".to_owned()),
        Backend::Sled => (
            mib(step.disk),
            format!("{} B", thousands(step.disk as f64 / n as f64)),
        ),
    };
    format!(
        "| {} | {} | {} | {} | {} | {} B | {disk} | {disk_per} |\n",
        backend.name(),
        thousands(n as f64),
        thousands(step.create_rate),
        thousands(step.get_rate),
        mib(grown),
        thousands(grown as f64 / n as f64),
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Runs one size in a child process, stopping it at the step limit.
fn run_child(
    backend: Backend,
    n: u64,
    settings: ScaleSettings,
    dir: &Path,
) -> Result<Step, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut child = Command::new(exe)
        .arg("--scale-step")
        .arg(backend.name())
        .arg(n.to_string())
        .arg("--dir")
        .arg(dir)
        .arg("--get-ms")
        .arg(settings.get_budget.as_millis().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the step: {e}"))?;
    let stdout = child.stdout.take().ok_or("the step has no output")?;
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix(MARK).map(str::to_owned))
    });
    let deadline = Instant::now() + settings.step_limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(status)) => return Err(format!("the step failed ({status})")),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "stopped after the limit of {} s",
                    settings.step_limit.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("cannot wait for the step: {e}")),
        }
    }
    let line = reader
        .join()
        .map_err(|_| "reading the step's output failed".to_owned())?
        .ok_or("the step reported no result")?;
    parse_result(&line).ok_or_else(|| format!("unreadable step result: {line}"))
}

fn parse_result(line: &str) -> Option<Step> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [create_rate, get_rate, rss_before, rss_after, disk] = fields[..] else {
        return None;
    };
    Some(Step {
        create_rate: create_rate.parse().ok()?,
        get_rate: get_rate.parse().ok()?,
        rss_before: rss_before.parse().ok()?,
        rss_after: rss_after.parse().ok()?,
        disk: disk.parse().ok()?,
    })
}

/// The child's side: fills a fresh store with `n` secrets, reads random ones for
/// `get_budget`, and prints the result line.
pub(crate) fn step(backend: Backend, n: u64, dir: &Path, get_budget: Duration) {
    let sled_dir = tempfile::tempdir_in(dir).expect("a directory for the sled store");
    let rss_before = resident_bytes().unwrap_or(0);
    let facade = match backend {
        Backend::Memory => Facade::memory(),
        Backend::Sled => Facade::sled(sled_dir.path(), SledOptions::default()),
    };
    let started = Instant::now();
    match backend {
        Backend::Memory => (0..n).for_each(|i| facade.create_numbered(i)),
        Backend::Sled => {
            let next = AtomicU64::new(0);
            std::thread::scope(|s| {
                for _ in 0..CALLERS {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= n {
                                break;
                            }
                            facade.create_numbered(i);
                        }
                    });
                }
            });
        }
    }
    let create_rate = n as f64 / started.elapsed().as_secs_f64();
    let rss_after = resident_bytes().unwrap_or(0);
    let mut rng = SplitMix(n);
    let get_rate = measure::single(get_budget, u64::MAX, || {
        facade.get_numbered(rng.next() % n);
    });
    let disk = match backend {
        Backend::Memory => 0,
        Backend::Sled => disk_bytes(sled_dir.path()),
    };
    println!("{MARK} {create_rate} {get_rate} {rss_before} {rss_after} {disk}");
}

/// splitmix64, to pick which secret to read.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_parse_back() {
        let step = parse_result(" 1000.5 2000 10 20 30").unwrap();
        assert_eq!(step.create_rate, 1000.5);
        assert_eq!((step.rss_before, step.rss_after, step.disk), (10, 20, 30));
        assert!(parse_result(" 1 2 3").is_none());
        assert!(parse_result(" a 2 3 4 5").is_none());
    }

    #[test]
    fn backends_parse_by_name() {
        assert_eq!(Backend::parse("sled"), Some(Backend::Sled));
        assert_eq!(Backend::parse("memory").map(Backend::name), Some("memory"));
        assert_eq!(Backend::parse("postgres"), None);
    }
}
