//! Crash recovery, in the manner of sled's own `test_crash_recovery.rs`: a child process
//! writes a stream of secrets, reporting each write once `update` has acknowledged it; the
//! parent kills it with SIGKILL at a random moment, reopens the store and checks that
//!
//! - every acknowledged write is there, with its exact payload bytes (the unacknowledged write
//!   in flight at the kill may or may not be, but whole if at all);
//! - every record decodes, and the layout is sound (`check_integrity`);
//! - every version of every record has its payload, and no payload exists without its version
//!   (no half-written secret).
//!
//! A directory is reused for a few kills in a row, so recovering a store that was itself
//! killed mid-recovery is covered too.
//!
//! `CRASH_ITERATIONS` sets the number of kills (default 20); `CRASH_SEED` replays a run (the
//! seed is printed). `scripts/crash-soak.sh MINUTES` runs this for as long as asked.
//!
//! A round (a child's run, its kill, reopening and checking the store) that takes longer than
//! `ROUND_LIMIT` fails the test at once, showing where it hangs (`tests/watchdog`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secret_model::SecretName;
use secret_storage::testkit::{sample_record, secret_name, version_id};
use secret_storage::{SecretRecord, Storage, Update};
use secret_storage_sled::{SledOptions, SledStorage};

mod watchdog;
use watchdog::Watchdog;

const CHILD_TEST: &str = "crash_child_writer";
const ENV_DIR: &str = "CRASH_CHILD_DIR";
const ENV_SEED: &str = "CRASH_CHILD_SEED";
const ENV_EPOCH: &str = "CRASH_CHILD_EPOCH";
/// How many children write to one directory before the next starts afresh.
const EPOCHS_PER_DIR: u32 = 5;
/// Most versions a secret keeps in the child's stream; adding one more drops the oldest.
const MAX_VERSIONS: usize = 4;
/// Lines of the child's protocol start with this; everything else is libtest's chatter.
const MARK: &str = "CRASH ";
/// The longest a round may take: a round takes well under a second on a quiet machine, so
/// this is a hang, not a slow disk.
const ROUND_LIMIT: Duration = Duration::from_secs(120);

/// splitmix64: small, seedable, good enough to pick operations and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The payload of version `id` of `name`: 1 to ~6 KiB of bytes determined by the pair.
fn payload(name: &str, id: &str) -> Vec<u8> {
    let mut rng = Rng(fnv1a(&[name, id]));
    let len = 1 + rng.below(6 * 1024) as usize;
    let mut bytes = format!("{name}:{id}:").into_bytes();
    bytes.extend((0..len).map(|_| rng.next() as u8));
    bytes
}

/// One write of the child's stream, as printed: `begin|ack OP NAME VERSION DROPPED`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Create {
        name: String,
        id: String,
    },
    Add {
        name: String,
        id: String,
        dropped: Option<String>,
    },
    Delete {
        name: String,
    },
}

impl Op {
    fn to_line(&self) -> String {
        match self {
            Op::Create { name, id } => format!("create {name} {id} -"),
            Op::Add { name, id, dropped } => {
                format!("add {name} {id} {}", dropped.as_deref().unwrap_or("-"))
            }
            Op::Delete { name } => format!("delete {name} - -"),
        }
    }

    fn parse(line: &str) -> Option<Op> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [op, name, id, dropped] = fields[..] else {
            return None;
        };
        let (name, id) = (name.to_owned(), id.to_owned());
        match op {
            "create" => Some(Op::Create { name, id }),
            "add" => Some(Op::Add {
                name,
                id,
                dropped: (dropped != "-").then(|| dropped.to_owned()),
            }),
            "delete" => Some(Op::Delete { name }),
            _ => None,
        }
    }

    /// Applies this write to a model of the store: name → version ids, oldest first.
    fn apply(&self, model: &mut Model) {
        match self {
            Op::Create { name, id } => {
                model.insert(name.clone(), vec![id.clone()]);
            }
            Op::Add { name, id, dropped } => {
                let versions = model.entry(name.clone()).or_default();
                versions.retain(|v| Some(v) != dropped.as_ref());
                versions.push(id.clone());
            }
            Op::Delete { name } => {
                model.remove(name);
            }
        }
    }
}

type Model = BTreeMap<String, Vec<String>>;

/// The record for `name` with these versions, oldest first.
fn record_of(name: &str, versions: &[String]) -> SecretRecord {
    let ids: Vec<&str> = versions.iter().map(String::as_str).collect();
    sample_record(name, &ids)
}

// ---------------------------------------------------------------------------------------
// The child.

/// Not a test of its own: the body of the child process, which does nothing unless started
/// by `acknowledged_writes_survive_sigkill_and_no_secret_is_half_written`.
#[test]
#[ignore = "run as a child process by the crash recovery test"]
fn crash_child_writer() {
    let (Ok(dir), Ok(seed), Ok(epoch)) = (
        std::env::var(ENV_DIR),
        std::env::var(ENV_SEED),
        std::env::var(ENV_EPOCH),
    ) else {
        return;
    };
    let mut rng = Rng(seed.parse().unwrap());
    let store = SledStorage::open_with(&dir, child_options(seed.parse().unwrap()).0).unwrap();
    let mut view = read_model(&store);
    let mut out = std::io::stdout().lock();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut counter = 0u64;
    while Instant::now() < deadline {
        counter += 1;
        let roll = rng.below(100);
        let names: Vec<&String> = view.keys().collect();
        let op = if names.is_empty() || roll < 30 {
            Op::Create {
                name: format!("e{epoch}-s{counter}"),
                id: format!("v{counter}"),
            }
        } else {
            let name = names[rng.below(names.len() as u64) as usize].clone();
            if roll < 92 {
                let versions = &view[&name];
                let dropped = (versions.len() >= MAX_VERSIONS).then(|| versions[0].clone());
                Op::Add {
                    name,
                    id: format!("e{epoch}-v{counter}"),
                    dropped,
                }
            } else {
                Op::Delete { name }
            }
        };
        writeln!(out, "{MARK}begin {}", op.to_line()).unwrap();
        out.flush().unwrap();
        let mut after = view.clone();
        op.apply(&mut after);
        write_op(&store, &op, &after);
        writeln!(out, "{MARK}ack {}", op.to_line()).unwrap();
        out.flush().unwrap();
        view = after;
    }
}

/// How a child opens the store, by its seed: through the write journal (default size, or so
/// small that a checkpoint comes every few writes), or without it (which folds a journal left
/// by an earlier child into sled first). One directory sees several of these in a row.
fn child_options(seed: u64) -> (SledOptions, &'static str) {
    match seed % 3 {
        0 => (SledOptions::default(), "journal"),
        1 => (
            SledOptions::default().with_journal_capacity_bytes(8 * 1024),
            "journal, checkpoint every few writes",
        ),
        _ => (SledOptions::default().with_journal(false), "transactions"),
    }
}

fn write_op(store: &SledStorage, op: &Op, after: &Model) {
    let (name, decision) = match op {
        Op::Delete { name } => (name, Update::Delete),
        Op::Create { name, id } | Op::Add { name, id, .. } => {
            let dropped = match op {
                Op::Add { dropped, .. } => dropped.iter().map(|d| version_id(d)).collect(),
                _ => vec![],
            };
            let decision = Update::Write {
                record: record_of(name, &after[name]),
                put_payloads: vec![(version_id(id), payload(name, id).into())],
                delete_payloads: dropped,
            };
            (name, decision)
        }
    };
    store
        .update(&secret_name(name), &mut |_| decision.clone())
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// The parent.

#[test]
fn acknowledged_writes_survive_sigkill_and_no_secret_is_half_written() {
    let iterations: u32 = std::env::var("CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("crash recovery: {iterations} kills, seed {seed} (CRASH_SEED={seed} replays it)");
    let started = Instant::now();
    let mut rng = Rng(seed);
    let mut dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let mut acknowledged_total = 0;
    let mut outcomes: BTreeMap<&str, u32> = BTreeMap::new();
    let watchdog = Watchdog::start("crash recovery", ROUND_LIMIT);
    for iteration in 0..iterations {
        let epoch = iteration % EPOCHS_PER_DIR;
        if epoch == 0 && iteration > 0 {
            dir = tempfile::tempdir().unwrap();
            model.clear();
        }
        let child_seed = rng.next();
        // Mostly anywhere in a stream of writes; sometimes during the child's start-up and
        // recovery of the previous crash.
        let delay = if rng.below(5) == 0 {
            2 + rng.below(30)
        } else {
            2 + rng.below(300)
        };
        let context = format!(
            "seed {seed}, iteration {iteration}, epoch {epoch}, delay {delay} ms, child: {}, \
             dir {}",
            child_options(child_seed).1,
            dir.path().display()
        );
        watchdog.round(context.clone());
        let lines = run_child(
            dir.path(),
            epoch,
            child_seed,
            Duration::from_millis(delay),
            &context,
        );
        let (acknowledged, in_flight) = read_protocol(&lines);
        acknowledged_total += acknowledged.len();
        for op in &acknowledged {
            op.apply(&mut model);
        }
        match verify(dir.path(), &model, in_flight.as_ref()) {
            Ok((observed, in_flight)) => {
                model = observed;
                let outcome = match in_flight {
                    InFlight::None => "killed between writes",
                    InFlight::Lost => "in-flight write lost",
                    InFlight::Applied => "in-flight write applied",
                };
                *outcomes.entry(outcome).or_default() += 1;
                watchdog.done();
            }
            Err(problem) => {
                let kept = dir.keep();
                panic!(
                    "{problem}\n({context}; store kept at {}; in flight: {in_flight:?})",
                    kept.display()
                );
            }
        }
    }
    eprintln!(
        "crash recovery: {iterations} kills, {acknowledged_total} acknowledged writes verified \
         in {:.1} s; kills: {outcomes:?}",
        started.elapsed().as_secs_f64()
    );
}

/// Runs the child on `dir`, kills it after `delay`, and returns its protocol lines.
fn run_child(dir: &Path, epoch: u32, seed: u64, delay: Duration, context: &str) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            CHILD_TEST,
            "--exact",
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .env(ENV_SEED, seed.to_string())
        .env(ENV_EPOCH, epoch.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Read while the child runs, so a full pipe never holds it up.
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // libtest's "test crash_child_writer ... " may precede the first line.
            .filter_map(|line| line.find(MARK).map(|at| line[at + MARK.len()..].to_owned()))
            .collect::<Vec<String>>()
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    std::thread::sleep(delay);
    if let Some(status) = child.try_wait().unwrap() {
        let errors = errors.join().unwrap();
        panic!("the child exited by itself ({status}) before the kill ({context}):\n{errors}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(errors.join());
    reader.join().unwrap()
}

/// The acknowledged writes, and the write begun but not acknowledged, if any. A last line cut
/// short by the kill is not a complete line and so never counts as an acknowledgement.
fn read_protocol(lines: &[String]) -> (Vec<Op>, Option<Op>) {
    let mut acknowledged = Vec::new();
    let mut in_flight = None;
    for line in lines {
        if let Some(rest) = line.strip_prefix("begin ") {
            in_flight = Op::parse(rest);
        } else if let Some(rest) = line.strip_prefix("ack ")
            && let Some(op) = Op::parse(rest)
        {
            assert_eq!(in_flight.as_ref(), Some(&op), "ack without begin");
            acknowledged.push(op);
            in_flight = None;
        }
    }
    (acknowledged, in_flight)
}

/// Every record, by name, with its version ids in order.
fn read_model(store: &SledStorage) -> Model {
    let mut model = Model::new();
    let mut after: Option<SecretName> = None;
    loop {
        let page = store.list(after.as_ref(), 7).unwrap();
        let Some(last) = page.last() else {
            return model;
        };
        after = Some(last.name.clone());
        for record in page {
            let ids = record
                .versions
                .iter()
                .map(|v| v.version_id.as_str().to_owned());
            model.insert(record.name.as_str().to_owned(), ids.collect());
        }
    }
}

/// Reopens the store after a kill and checks it against the acknowledged writes; returns what
/// it holds.
/// Whether the write in flight at the kill turned out applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InFlight {
    None,
    Lost,
    Applied,
}

fn verify(dir: &Path, model: &Model, in_flight: Option<&Op>) -> Result<(Model, InFlight), String> {
    let store = SledStorage::open(dir).map_err(|e| format!("reopening failed: {e}"))?;
    let report = store
        .check_integrity()
        .map_err(|e| format!("the reopened store is unsound: {e}"))?;
    let observed = read_model(&store);
    for (name, versions) in &observed {
        let snap = store
            .snapshot(&secret_name(name))
            .map_err(|e| format!("snapshot of {name}: {e}"))?
            .ok_or_else(|| format!("{name} is listed but has no snapshot"))?;
        if snap.record != record_of(name, versions) {
            return Err(format!("the record of {name} is not one that was written"));
        }
        let with_payload: BTreeSet<&str> =
            snap.payloads.iter().map(|(id, _)| id.as_str()).collect();
        let in_record: BTreeSet<&str> = versions.iter().map(String::as_str).collect();
        if with_payload != in_record {
            return Err(format!(
                "half-written {name}: versions {in_record:?} but payloads {with_payload:?}"
            ));
        }
        for (id, bytes) in &snap.payloads {
            if *bytes != payload(name, id.as_str()) {
                return Err(format!(
                    "the payload of {name} version {id} has other bytes"
                ));
            }
        }
    }
    let payloads: usize = observed.values().map(Vec::len).sum();
    if report.secrets != observed.len() || report.payloads != payloads {
        return Err(format!(
            "integrity report {report:?} disagrees with the listing"
        ));
    }
    let Some(op) = in_flight else {
        if &observed == model {
            return Ok((observed, InFlight::None));
        }
        return Err(format!(
            "the store is not the acknowledged state: {}",
            describe_difference(model, &observed)
        ));
    };
    let mut with_in_flight = model.clone();
    op.apply(&mut with_in_flight);
    if observed == with_in_flight {
        // Every write of the stream changes the model, so at most one of the two matches.
        return Ok((observed, InFlight::Applied));
    }
    if &observed == model {
        return Ok((observed, InFlight::Lost));
    }
    Err(format!(
        "the store is neither the acknowledged state nor that plus the write in flight:\n\
         differences from the acknowledged state: {}",
        describe_difference(model, &observed)
    ))
}

fn describe_difference(expected: &Model, observed: &Model) -> String {
    let mut out = Vec::new();
    for (name, versions) in expected {
        match observed.get(name) {
            None => out.push(format!("{name} is missing")),
            Some(seen) if seen != versions => {
                out.push(format!("{name} has {seen:?}, not {versions:?}"))
            }
            Some(_) => {}
        }
    }
    for name in observed.keys().filter(|n| !expected.contains_key(*n)) {
        out.push(format!("{name} should not exist"));
    }
    out.join("; ")
}
