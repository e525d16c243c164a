//! A watchdog for tests that run in rounds (start a child, kill it, reopen the store, check
//! it): a round that takes longer than its limit ends the test process with a failure,
//! saying which round hung and showing every thread's stack (with gdb, where it is installed
//! and may attach), instead of hanging until CI's own time limit with nothing to show. A
//! deadlock inside sled was found this way (`vendor/README.md`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How long gdb may take to print the stacks before it is killed.
const GDB_LIMIT: Duration = Duration::from_secs(60);

/// Watches the rounds of one test; dropping it stops the watch.
pub(crate) struct Watchdog {
    rounds: Sender<Option<String>>,
    /// Set once a round has overrun: the process is then ending with a failure, and the test
    /// must not finish (and pass) first, so it parks at its next call.
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    /// Starts watching: from [`Watchdog::round`] to [`Watchdog::done`], at most `limit` may pass.
    pub(crate) fn start(test: &'static str, limit: Duration) -> Watchdog {
        let (rounds, watched) = mpsc::channel::<Option<String>>();
        let fired = Arc::new(AtomicBool::new(false));
        let firing = Arc::clone(&fired);
        std::thread::spawn(move || {
            let mut running = None;
            loop {
                match watched.recv_timeout(limit) {
                    Ok(round) => running = round,
                    Err(RecvTimeoutError::Disconnected) => return,
                    Err(RecvTimeoutError::Timeout) => {
                        if let Some(round) = &running {
                            firing.store(true, Ordering::SeqCst);
                            report_hang(test, round, limit);
                        }
                    }
                }
            }
        });
        Watchdog { rounds, fired }
    }

    /// A round starts; `round` says which, for the report if it hangs.
    pub(crate) fn round(&self, round: String) {
        self.park_if_fired();
        self.rounds.send(Some(round)).unwrap();
    }

    /// The round ended.
    pub(crate) fn done(&self) {
        self.park_if_fired();
        self.rounds.send(None).unwrap();
    }

    /// A round that overran fails the test even if it ends meanwhile: the watchdog is
    /// printing the stacks and will end the process.
    fn park_if_fired(&self) {
        while self.fired.load(Ordering::SeqCst) {
            std::thread::park();
        }
    }
}

/// Says which round hung, shows every thread's stack if gdb can (within [`GDB_LIMIT`]), and
/// ends the process with a failure. Writes to stderr directly: libtest captures `eprintln!` of
/// a test's threads, and exiting would throw that away.
fn report_hang(test: &str, round: &str, limit: Duration) -> ! {
    let mut stderr = std::io::stderr();
    let _ = writeln!(
        stderr,
        "{test}: a round has not ended after {limit:?}, so it hangs ({round}); every thread's \
         stack follows, if gdb is installed and may attach to this process"
    );
    let gdb = Command::new("gdb")
        .args(["-batch", "-nx", "-p", &std::process::id().to_string()])
        .args(["-ex", "thread apply all bt 40"])
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn();
    match gdb {
        Err(e) => {
            let _ = writeln!(stderr, "{test}: gdb could not be run: {e}");
        }
        Ok(mut gdb) => {
            let deadline = Instant::now() + GDB_LIMIT;
            while matches!(gdb.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if matches!(gdb.try_wait(), Ok(None)) {
                let _ = gdb.kill();
                let _ = writeln!(
                    stderr,
                    "{test}: gdb took over {GDB_LIMIT:?} and was stopped"
                );
            }
        }
    }
    let _ = writeln!(stderr, "{test}: FAILED: hung ({round})");
    std::process::exit(101);
}
