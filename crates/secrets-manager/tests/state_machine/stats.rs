//! With `STATE_MACHINE_STATS=1`, how often each outcome was reached, printed after the last
//! case of a run: to see that the runs reach the cases they are meant to (eviction, the label
//! cap, retries, expiry, every error code), not only that they pass.

use std::collections::BTreeMap;
use std::sync::Mutex;

use secret_model::ErrorCode;

static COUNTS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
static CASES: Mutex<u32> = Mutex::new(0);

fn enabled() -> bool {
    std::env::var_os("STATE_MACHINE_STATS").is_some()
}

/// Counts one answer of `op`.
pub fn note(op: &str, code: Option<ErrorCode>) {
    if enabled() {
        let key = format!("{op}: {}", code.map_or("ok", |c| c.as_str()));
        *COUNTS.lock().expect("not poisoned").entry(key).or_default() += 1;
    }
}

/// Counts an event the model reaches (the model also runs while transitions are drawn, so
/// these counts are about twice the real ones).
pub fn event(what: &str) {
    note(what, None);
}

/// Prints the counts once `cases` cases have finished.
pub fn case_done(cases: u32) {
    if !enabled() {
        return;
    }
    let mut done = CASES.lock().expect("not poisoned");
    *done += 1;
    if *done == cases {
        *done = 0;
        let mut counts = COUNTS.lock().expect("not poisoned");
        for (k, n) in counts.iter() {
            eprintln!("{n:>8}  {k}");
        }
        counts.clear();
    }
}
