//! Logging for a server process: `tracing` lines on stderr, written in batches by a thread of
//! its own, so a request never waits on a `write` system call and the writer thread wakes a
//! few dozen times a second, not once per line.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How often buffered lines are written out.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A buffer this large is written at once by the logging thread itself: memory stays bounded
/// when stderr is slow (the request then waits, rather than a line being dropped).
const BUFFER_MAX: usize = 1 << 20;

#[derive(Default)]
struct Shared {
    buffer: Mutex<Vec<u8>>,
    wake: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn write_out(&self) {
        let lines =
            std::mem::take(&mut *self.buffer.lock().unwrap_or_else(PoisonError::into_inner));
        if !lines.is_empty() {
            let mut err = std::io::stderr().lock();
            // Nowhere to report a failing stderr; the lines are lost either way.
            let _ = err.write_all(&lines);
            let _ = err.flush();
        }
    }
}

/// Installs a global `tracing` subscriber writing to stderr in batches, filtered by `RUST_LOG`
/// (else `default_filter`, such as `info`), with colours only on a terminal. Keep the guard
/// alive while serving: dropping it writes out what is buffered. Does nothing (but still
/// returns a guard) if a subscriber is already installed.
pub fn init_stderr(default_filter: &str) -> LogGuard {
    use std::io::IsTerminal as _;
    let shared = Arc::new(Shared::default());
    let installed = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(BatchedStderr(Arc::clone(&shared)))
        .try_init()
        .is_ok();
    let flusher = installed.then(|| {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("secrets-log".into())
            .spawn(move || {
                while !shared.stop.load(Ordering::Acquire) {
                    let guard = shared.buffer.lock().unwrap_or_else(PoisonError::into_inner);
                    drop(shared.wake.wait_timeout(guard, FLUSH_EVERY));
                    shared.write_out();
                }
            })
            .ok()
    });
    LogGuard {
        shared,
        flusher: flusher.flatten(),
    }
}

/// Writes out buffered log lines when dropped.
#[must_use = "dropping the guard stops the batched writing of log lines"]
pub struct LogGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        self.shared.write_out();
    }
}

/// The `MakeWriter` of the subscriber: appends each formatted line to the shared buffer.
struct BatchedStderr(Arc<Shared>);

/// One event's writer.
struct LineWriter<'a>(&'a Shared);

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

impl std::io::Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let full = {
            let mut buffer = self.0.buffer.lock().unwrap_or_else(PoisonError::into_inner);
            buffer.extend_from_slice(bytes);
            buffer.len() >= BUFFER_MAX
        };
        if full {
            self.0.write_out();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
