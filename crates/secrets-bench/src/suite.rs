//! The main run: every operation beside its floor, measured in rounds. Each round runs every
//! benchmark once, so that the machine's noise falls on all of them alike; the table reports
//! the median over rounds of the rate and of the ratio to the floor of the same round.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::facade::Facade;
use crate::floors::{Disk, Envelope, Map, Sled};
use crate::measure::{self, median};
use crate::pg::Pg;
use secret_storage_sled::SledOptions;

/// Concurrent callers in the concurrency rows.
pub(crate) const CALLERS: usize = 32;
/// Most operations of one round of a benchmark that grows a store (bounds its memory).
const MAX_GROWING_OPS: u64 = 200_000;
/// Most operations of one round of any other benchmark.
const MAX_OPS: u64 = u64::MAX;

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Time of one benchmark in one round.
    pub(crate) round: Duration,
    /// Number of rounds.
    pub(crate) rounds: usize,
}

/// One line of the main table: an operation, and the floor it is compared with.
struct Row {
    operation: &'static str,
    backend: &'static str,
    bench: &'static str,
    floor: &'static str,
}

const ROWS: &[Row] = &[
    row(
        "create_secret",
        "memory",
        "op/memory/create",
        "seal+map_insert",
    ),
    row(
        "create_secret",
        "memory",
        "op/memory/create",
        "seal+map_insert_new",
    ),
    row(
        "get_secret_value",
        "memory",
        "op/memory/get",
        "map_get+open",
    ),
    row(
        "get_secret_value, cached",
        "memory",
        "op/memory/get_cached",
        "map_get",
    ),
    row(
        "put_secret_value",
        "memory",
        "op/memory/put",
        "seal+map_insert",
    ),
    row(
        "create_secret",
        "sled, 1 caller",
        "op/sled/create",
        "seal+sled_insert_flush",
    ),
    row("get_secret_value", "sled", "op/sled/get", "sled_get+open"),
    row(
        "get_secret_value, cached",
        "sled",
        "op/sled/get_cached",
        "sled_get",
    ),
    row(
        "put_secret_value",
        "sled",
        "op/sled/put",
        "seal+sled_insert_flush",
    ),
    row(
        "create_secret",
        "sled, 32 callers",
        "op/sled/create_32",
        "sled_insert_flush_32",
    ),
    row(
        "create_secret",
        "sled, 32 callers",
        "op/sled/create_32",
        "sled_new_inserts_32",
    ),
    row(
        "create_secret",
        "sled without journal, 1 caller",
        "op/sled-tx/create",
        "seal+sled_insert_flush",
    ),
    row(
        "create_secret",
        "sled without journal, 32 callers",
        "op/sled-tx/create_32",
        "sled_insert_flush_32",
    ),
];

/// The PostgreSQL rows, when a database was given.
const PG_ROWS: &[Row] = &[
    row(
        "create_secret",
        "PostgreSQL, 1 caller",
        "op/pg/create",
        "seal+pg_insert",
    ),
    row(
        "get_secret_value",
        "PostgreSQL",
        "op/pg/get",
        "pg_select+open",
    ),
    row(
        "get_secret_value, cached",
        "PostgreSQL",
        "op/pg/get_cached",
        "pg_select",
    ),
    row(
        "put_secret_value",
        "PostgreSQL",
        "op/pg/put",
        "seal+pg_insert",
    ),
    row(
        "create_secret",
        "PostgreSQL, 32 callers",
        "op/pg/create_32",
        "pg_insert_32",
    ),
];

/// The PostgreSQL floors, when a database was given.
const PG_FLOORS: &[(&str, &str, &str)] = &[
    (
        "pg_insert",
        "pg insert",
        "PostgreSQL: one prepared, autocommitted upsert of 1 KiB (one round trip, one WAL flush), 1 client",
    ),
    (
        "pg_insert_32",
        "pg insert ×32",
        "the same from 32 clients at once (aggregate)",
    ),
    (
        "pg_select",
        "pg select",
        "PostgreSQL: one prepared SELECT of 1 KiB by its key",
    ),
    (
        "seal+pg_insert",
        "envelope seal + pg insert",
        "envelope seal, then pg insert",
    ),
    (
        "pg_select+open",
        "pg select + envelope open",
        "pg select, then envelope open",
    ),
];

const fn row(
    operation: &'static str,
    backend: &'static str,
    bench: &'static str,
    floor: &'static str,
) -> Row {
    Row {
        operation,
        backend,
        bench,
        floor,
    }
}

/// Each floor: its key, its name in the tables, and what it does.
const FLOORS: &[(&str, &str, &str)] = &[
    (
        "seal",
        "value seal",
        "ring: fresh key + nonce (one getrandom call), key set-up, AES-256-GCM seal of 1 KiB — \
         the value's part of an envelope alone (no row's floor)",
    ),
    (
        "open",
        "value open",
        "ring: key set-up, AES-256-GCM open of 1 KiB (no row's floor)",
    ),
    (
        "envelope_seal",
        "envelope seal",
        "ring: fresh data key + both nonces (one getrandom call); the data key wrapped under a \
         master key (key set-up, seal of 32 bytes), the 1 KiB value sealed under it (key set-up, \
         seal), into one buffer",
    ),
    (
        "envelope_open",
        "envelope open",
        "ring: the data key unwrapped (key set-up, open of 48 bytes), then the 1 KiB value opened \
         under it (key set-up, open)",
    ),
    (
        "map_insert",
        "map insert",
        "`Mutex<HashMap>`: insert a copy of 1 KiB",
    ),
    (
        "map_get",
        "map get",
        "`Mutex<HashMap>`: get a copy of 1 KiB",
    ),
    (
        "sled_insert_flush",
        "sled insert+flush",
        "sled: insert 1 KiB, then `Db::flush` (durable), 1 thread",
    ),
    (
        "sled_insert_flush_32",
        "sled insert+flush ×32",
        "the same on 32 threads at once (aggregate)",
    ),
    (
        "sled_tx_32",
        "sled tx ×32, no flush",
        "sled: the transaction of a new secret's key (never used before; its record with the \
         1 KiB inline) on 32 threads, never flushed — the most creates/s sled's transactions \
         allow here even without durability (no row's floor)",
    ),
    (
        "sled_new_inserts_32",
        "sled new-secret inserts ×32, no flush",
        "sled: a new secret's key (never used before, so the tree grows; its record with the \
         1 KiB inline) as one plain insert, as the write journal applies it, on 32 threads, \
         never flushed — the most journaled creates/s sled allows here even without durability",
    ),
    (
        "disk_write_sync",
        "disk write+fdatasync",
        "the disk: overwrite 1 KiB in a preallocated file, then `fdatasync`, 1 thread — what \
         any engine's durable write costs here at least (no row's floor)",
    ),
    (
        "sled_tx_flush",
        "sled tx+flush",
        "sled: one transaction of the key a new secret writes, then `Db::flush` \
         (shows what the layout costs; no row's floor)",
    ),
    (
        "sled_get",
        "sled get",
        "sled: get a copy of 1 KiB (from its cache)",
    ),
    (
        "seal+map_insert",
        "envelope seal + map insert",
        "envelope seal, then map insert",
    ),
    (
        "seal+map_insert_new",
        "envelope seal + map insert, new key",
        "envelope seal, then insert under a name never used before (the map takes fresh memory for every \
         entry, as a create does; its table is pre-sized, and fresh each round, as the create \
         benchmark's store)",
    ),
    (
        "map_get+open",
        "map get + envelope open",
        "map get, then envelope open",
    ),
    (
        "seal+sled_insert_flush",
        "envelope seal + sled insert+flush",
        "envelope seal, then sled insert + flush",
    ),
    (
        "sled_get+open",
        "sled get + envelope open",
        "sled get, then envelope open",
    ),
];

fn floor_name(key: &str) -> &str {
    FLOORS
        .iter()
        .chain(PG_FLOORS)
        .find(|(k, _, _)| *k == key)
        .map_or(key, |(_, name, _)| name)
}

type Run<'a> = Box<dyn FnMut(Duration) -> f64 + 'a>;

/// The medians of one run: rate by benchmark key, and ratio to the floor by row.
pub(crate) struct Results {
    rates: BTreeMap<&'static str, f64>,
    /// By (operation's benchmark, floor).
    ratios: BTreeMap<(&'static str, &'static str), f64>,
    cache: (u64, u64),
    /// Writes and flushes of the 32-caller sled creates, over every round.
    sled_batches: (u64, u64),
}

/// Runs every benchmark `settings.rounds` times, with sled directories under `dir`, and the
/// PostgreSQL ones too when `postgres` names a database.
pub(crate) fn run(settings: Settings, dir: &Path, postgres: Option<&str>) -> Results {
    // Declared before the stores on it, so that it (and its schemas) goes after them.
    let pg = postgres.map(|url| Pg::open(url, CALLERS));
    let envelope = Envelope::new();
    let plaintext = crate::value();
    // A whole envelope of 1 KiB (1,088 B: the store's adds ~48 B more, its header).
    let sealed = envelope.enveloped_bytes();
    let map = Map::filled();
    map.insert_as("floor/read", envelope.enveloped_bytes());
    let raw_sled = Sled::open(&dir.join("raw-sled"));
    // The floors that never flush write here, so that the durable floors' flushes do not
    // carry their data.
    let unflushed_tx = Sled::open(&dir.join("raw-sled-unflushed-tx"));
    // And each its own, so that neither runs on a tree the other has grown.
    let unflushed_inserts = Sled::open(&dir.join("raw-sled-unflushed-inserts"));
    raw_sled.insert_as("floor/read", envelope.enveloped_bytes());
    let disk = Disk::open(&dir.join("raw-disk"));
    let memory = Facade::memory();
    let sled = Facade::sled(&dir.join("facade-sled"), SledOptions::default());
    let sled_tx = Facade::sled(
        &dir.join("facade-sled-tx"),
        SledOptions::default().with_journal(false),
    );
    let pg_facade = pg.as_ref().map(|pg| {
        pg.insert_as("floor/read", &envelope.enveloped_bytes());
        pg.facade(CALLERS)
    });
    // Writes and flushes of the 32-caller creates, over every round.
    let concurrent_batches = Cell::new((0u64, 0u64));

    let mut benches: Vec<(&'static str, Run<'_>)> = vec![
        ("seal", single(|| sink(envelope.seal()))),
        (
            "open",
            single(|| sink(envelope.open(envelope.sealed_bytes()))),
        ),
        ("envelope_seal", single(|| sink(envelope.wrap_seal()))),
        (
            "envelope_open",
            single(|| sink(envelope.unwrap_open(envelope.enveloped_bytes()))),
        ),
        ("map_insert", single(|| map.insert(plaintext.clone()))),
        ("map_get", single(|| sink(map.get("floor/read")))),
        (
            "sled_insert_flush",
            single(|| raw_sled.insert_flush(&plaintext)),
        ),
        (
            "sled_insert_flush_32",
            Box::new(|budget| {
                measure::concurrent(CALLERS, budget, &|_| raw_sled.insert_flush(&plaintext))
            }),
        ),
        ("sled_tx_flush", single(|| raw_sled.tx_flush(&sealed))),
        ("disk_write_sync", single(|| disk.write_sync(&plaintext))),
        (
            "sled_tx_32",
            Box::new(|budget| {
                let rate = measure::concurrent(CALLERS, budget, &|_| unflushed_tx.tx(&sealed));
                // Untimed: so that sled's background flush of it does not slow what comes next.
                unflushed_tx.flush();
                rate
            }),
        ),
        (
            "sled_new_inserts_32",
            Box::new(|budget| {
                let rate = measure::concurrent(CALLERS, budget, &|_| {
                    unflushed_inserts.new_secret_inserts(&sealed)
                });
                // Untimed: so that sled's background flush of it does not slow what comes next.
                unflushed_inserts.flush();
                rate
            }),
        ),
        ("sled_get", single(|| sink(raw_sled.get("floor/read")))),
        (
            "seal+map_insert",
            single(|| map.insert(envelope.wrap_seal())),
        ),
        (
            "seal+map_insert_new",
            // A fresh map each round, bounded like the create benchmark's fresh store.
            Box::new(|budget| {
                let fresh = Map::empty(MAX_GROWING_OPS as usize);
                measure::single(budget, MAX_GROWING_OPS, || {
                    fresh.insert_new(envelope.wrap_seal());
                })
            }),
        ),
        (
            "map_get+open",
            single(|| sink(envelope.unwrap_open(map.get("floor/read").unwrap_or_default()))),
        ),
        (
            "seal+sled_insert_flush",
            single(|| raw_sled.insert_flush(&envelope.wrap_seal())),
        ),
        (
            "sled_get+open",
            single(|| sink(envelope.unwrap_open(raw_sled.get("floor/read").unwrap_or_default()))),
        ),
        (
            "op/memory/create",
            // A fresh store each round, so that rounds do not pile up secrets.
            Box::new(|budget| {
                let fresh = Facade::memory();
                measure::single(budget, MAX_GROWING_OPS, || fresh.create())
            }),
        ),
        ("op/memory/get", single(|| sink(memory.get()))),
        ("op/memory/get_cached", single(|| sink(memory.get_cached()))),
        ("op/memory/put", single(|| memory.put())),
        ("op/sled/create", single(|| sled.create())),
        ("op/sled/get", single(|| sink(sled.get()))),
        ("op/sled/get_cached", single(|| sink(sled.get_cached()))),
        ("op/sled/put", single(|| sled.put())),
        (
            "op/sled/create_32",
            Box::new(|budget| {
                let before = sled.writes_and_flushes().unwrap_or_default();
                let rate = measure::concurrent(CALLERS, budget, &|_| sled.create());
                let after = sled.writes_and_flushes().unwrap_or_default();
                let (writes, flushes) = concurrent_batches.get();
                concurrent_batches.set((writes + after.0 - before.0, flushes + after.1 - before.1));
                rate
            }),
        ),
        ("op/sled-tx/create", single(|| sled_tx.create())),
        (
            "op/sled-tx/create_32",
            Box::new(|budget| measure::concurrent(CALLERS, budget, &|_| sled_tx.create())),
        ),
    ];

    if let (Some(pg), Some(facade)) = (&pg, &pg_facade) {
        benches.extend([
            ("pg_insert", single(|| pg.insert(0, &plaintext)) as Run<'_>),
            (
                "pg_insert_32",
                Box::new(|budget| {
                    measure::concurrent(CALLERS, budget, &|thread| pg.insert(thread, &plaintext))
                }),
            ),
            ("pg_select", single(|| sink(pg.select("floor/read")))),
            (
                "seal+pg_insert",
                single(|| pg.insert(0, &envelope.wrap_seal())),
            ),
            (
                "pg_select+open",
                single(|| sink(envelope.unwrap_open(pg.select("floor/read")))),
            ),
            ("op/pg/create", single(|| facade.create())),
            ("op/pg/get", single(|| sink(facade.get()))),
            ("op/pg/get_cached", single(|| sink(facade.get_cached()))),
            ("op/pg/put", single(|| facade.put())),
            (
                "op/pg/create_32",
                Box::new(|budget| measure::concurrent(CALLERS, budget, &|_| facade.create())),
            ),
        ]);
    }

    let mut samples: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for round in 0..settings.rounds {
        eprint!("round {}/{}:", round + 1, settings.rounds);
        for (key, run) in &mut benches {
            eprint!(" {key}");
            let rate = run(settings.round);
            samples.entry(key).or_default().push(rate);
        }
        eprintln!();
    }
    assert!(
        samples.values().all(|v| v.len() == settings.rounds),
        "every benchmark has a key of its own"
    );
    let rates = samples.iter().map(|(k, v)| (*k, median(v))).collect();
    let ratios = ROWS
        .iter()
        .chain(PG_ROWS)
        .filter(|row| samples.contains_key(row.bench))
        .map(|row| {
            let per_round: Vec<f64> = samples[row.floor]
                .iter()
                .zip(&samples[row.bench])
                .map(|(floor, op)| floor / op)
                .collect();
            ((row.bench, row.floor), median(&per_round))
        })
        .collect();
    let (hits_mem, misses_mem) = memory.cache_hits_and_misses();
    let (hits_sled, misses_sled) = sled.cache_hits_and_misses();
    Results {
        rates,
        ratios,
        cache: (hits_mem + hits_sled, misses_mem + misses_sled),
        sled_batches: concurrent_batches.get(),
    }
}

/// Keeps a result alive in the optimizer's eyes, so that the work making it is not elided.
fn sink<T>(result: T) {
    std::hint::black_box(result);
}

fn single<'a>(mut op: impl FnMut() + 'a) -> Run<'a> {
    Box::new(move |budget| measure::single(budget, MAX_OPS, &mut op))
}

impl Results {
    fn rate(&self, key: &str) -> f64 {
        self.rates.get(key).copied().unwrap_or(f64::NAN)
    }

    fn ratio(&self, bench: &str, floor: &str) -> f64 {
        self.ratios
            .get(&(bench, floor))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// The tables, in Markdown.
    pub(crate) fn report(&self, settings: Settings) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "1 KiB values; median of {} rounds of {} ms per benchmark; \
             ratio = time of the operation / time of its floor, per round, then median\n\n",
            settings.rounds,
            settings.round.as_millis()
        ));
        out.push_str("| operation | backend | ops/s | floor | floor ops/s | × floor |\n");
        out.push_str("|---|---|---:|---|---:|---:|\n");
        for row in ROWS
            .iter()
            .chain(PG_ROWS)
            .filter(|row| self.rates.contains_key(row.bench))
        {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {:.1} |\n",
                row.operation,
                row.backend,
                thousands(self.rate(row.bench)),
                floor_name(row.floor),
                thousands(self.rate(row.floor)),
                self.ratio(row.bench, row.floor),
            ));
        }
        out.push_str("\n| floor | what it does | ops/s |\n|---|---|---:|\n");
        for (key, name, what) in FLOORS
            .iter()
            .chain(PG_FLOORS)
            .filter(|(key, _, _)| self.rates.contains_key(key))
        {
            out.push_str(&format!(
                "| {name} | {what} | {} |\n",
                thousands(self.rate(key))
            ));
        }
        out.push_str(&format!(
            "\nvalue cache: {} hits, {} misses\n",
            self.cache.0, self.cache.1
        ));
        let (writes, flushes) = self.sled_batches;
        out.push_str(&format!(
            "sled, {CALLERS} callers: {} creates shared {} flushes ({:.1} per flush)\n",
            thousands(writes as f64),
            thousands(flushes as f64),
            writes as f64 / flushes.max(1) as f64
        ));
        out.push_str(&self.targets());
        out
    }

    /// Issue 8's targets, met or not (the 2× target checked against both create floors).
    fn targets(&self) -> String {
        let checks: [(&str, f64, f64, bool); 7] = [
            (
                "memory create_secret ≥ 250,000/s",
                self.rate("op/memory/create"),
                250_000.0,
                true,
            ),
            (
                "memory create_secret within 2× of envelope seal + map insert",
                self.ratio("op/memory/create", "seal+map_insert"),
                2.0,
                false,
            ),
            (
                "memory create_secret within 2× of envelope seal + map insert (the floor with new keys)",
                self.ratio("op/memory/create", "seal+map_insert_new"),
                2.0,
                false,
            ),
            (
                "memory get_secret_value ≥ 400,000/s",
                self.rate("op/memory/get"),
                400_000.0,
                true,
            ),
            (
                "sled create_secret, 1 caller ≥ 8,000/s",
                self.rate("op/sled/create"),
                8_000.0,
                true,
            ),
            (
                "sled create_secret, 32 callers ≥ 40,000/s",
                self.rate("op/sled/create_32"),
                40_000.0,
                true,
            ),
            (
                "cached get_secret_value (memory) ≥ 1,000,000/s",
                self.rate("op/memory/get_cached"),
                1_000_000.0,
                true,
            ),
        ];
        let mut out = String::from("\n| target | measured | met |\n|---|---:|---|\n");
        for (what, measured, bound, at_least) in checks {
            let met = if at_least {
                measured >= bound
            } else {
                measured <= bound
            };
            let shown = if at_least {
                thousands(measured)
            } else {
                format!("{measured:.1}×")
            };
            out.push_str(&format!(
                "| {what} | {shown} | {} |\n",
                if met { "yes" } else { "no" }
            ));
        }
        out
    }
}

/// `1234567.8` as `1,234,568`.
pub(crate) fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(f64::NAN), "n/a");
    }

    #[test]
    fn every_row_names_benchmarks_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            round: Duration::from_millis(5),
            rounds: 1,
        };
        // With a test database (CI starts one), the PostgreSQL rows run too.
        let postgres = std::env::var("SECRETS_TEST_POSTGRES_URL").ok();
        let results = run(settings, dir.path(), postgres.as_deref());
        let (rows, floors) = if postgres.is_some() {
            (ROWS.len() + PG_ROWS.len(), FLOORS.len() + PG_FLOORS.len())
        } else {
            (ROWS.len(), FLOORS.len())
        };
        let measured_rows: Vec<&Row> = ROWS
            .iter()
            .chain(PG_ROWS)
            .filter(|row| results.rates.contains_key(row.bench))
            .collect();
        assert_eq!(measured_rows.len(), rows);
        for row in measured_rows {
            assert!(results.rate(row.bench) > 0.0, "{}", row.bench);
            assert!(results.rate(row.floor) > 0.0, "{}", row.floor);
        }
        let measured_floors = FLOORS
            .iter()
            .chain(PG_FLOORS)
            .filter(|(key, _, _)| results.rates.contains_key(key));
        assert_eq!(measured_floors.clone().count(), floors);
        for (key, _, _) in measured_floors {
            assert!(results.rate(key) > 0.0, "{key}");
        }
        assert!(results.report(settings).contains("| target |"));
    }
}
