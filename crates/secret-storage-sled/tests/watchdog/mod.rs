//! A watchdog for tests that run in rounds (start a child, kill it, reopen the store, check
//! it): a round that takes longer than its limit ends the test process at once, saying which
//! round hung and showing every thread's stack (with gdb, where it is installed), instead of
//! hanging until CI's own time limit with nothing to show. A deadlock inside sled was found
//! this way (`vendor/README.md`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

/// Watches the rounds of one test; dropping it stops the watch.
pub(crate) struct Watchdog {
    rounds: Sender<Option<String>>,
}

impl Watchdog {
    /// Starts watching: from [`Watchdog::round`] to [`Watchdog::done`], at most `limit` may pass.
    pub(crate) fn start(test: &'static str, limit: Duration) -> Watchdog {
        let (rounds, watched) = mpsc::channel::<Option<String>>();
        std::thread::spawn(move || {
            let mut running = None;
            loop {
                match watched.recv_timeout(limit) {
                    Ok(round) => running = round,
                    Err(RecvTimeoutError::Disconnected) => return,
                    Err(RecvTimeoutError::Timeout) => {
                        if let Some(round) = &running {
                            report_hang(test, round, limit);
                        }
                    }
                }
            }
        });
        Watchdog { rounds }
    }

    /// A round starts; `round` says which, for the report if it hangs.
    pub(crate) fn round(&self, round: String) {
        self.rounds.send(Some(round)).unwrap();
    }

    /// The round ended.
    pub(crate) fn done(&self) {
        self.rounds.send(None).unwrap();
    }
}

/// Says which round hung, shows every thread's stack if gdb can, and ends the process with a
/// failure. Writes to stderr directly: libtest captures `eprintln!` of a test's threads, and
/// exiting would throw that away.
fn report_hang(test: &str, round: &str, limit: Duration) -> ! {
    let mut stderr = std::io::stderr();
    let _ = writeln!(
        stderr,
        "{test}: a round has not ended after {limit:?}, so it hangs ({round}); every thread's \
         stack follows, if gdb is installed"
    );
    let shown = Command::new("gdb")
        .args(["-batch", "-nx", "-p", &std::process::id().to_string()])
        .args(["-ex", "thread apply all bt 40"])
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status();
    if let Err(e) = shown {
        let _ = writeln!(stderr, "{test}: gdb could not be run: {e}");
    }
    let _ = writeln!(stderr, "{test}: FAILED: hung ({round})");
    std::process::exit(101);
}
