//! Where operations run. The facade is synchronous and may wait on storage, so every
//! operation leaves the async workers through `spawn_blocking` — on one of two pools:
//!
//! - reads, on a small pool of its own: under load its few threads take task after task from
//!   the queue without sleeping, where a large pool would park and wake a thread per request
//!   (measured on 2 cores: 40 µs of server CPU per GetSecretValue with 4 threads, 71 µs with
//!   tokio's default pool of up to 512);
//! - writes, on the runtime's own blocking pool, where many may wait on a durable write at
//!   once (a backend that commits writes in groups needs them to).

use std::io;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// The actions that only read, and so run on the read pool.
const READS: &[&str] = &[
    "GetSecretValue",
    "DescribeSecret",
    "ListSecrets",
    "ListSecretVersionIds",
    "ListTagResources",
    "GetRandomPassword",
];

/// Whether `action` only reads.
pub(crate) fn is_read(action: &str) -> bool {
    READS.contains(&action)
}

/// The read pool (a runtime used only for its blocking pool) and the way to the write pool.
pub(crate) struct Pools {
    reads: Option<Runtime>,
}

impl Pools {
    /// A read pool of at most `read_threads` threads.
    pub(crate) fn new(read_threads: usize) -> io::Result<Self> {
        let reads = Builder::new_current_thread()
            .max_blocking_threads(read_threads.max(1))
            .thread_name("secrets-read")
            .build()?;
        Ok(Pools { reads: Some(reads) })
    }

    /// Runs `op` on the read pool or the write pool.
    pub(crate) fn run<R, F>(&self, read: bool, op: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match &self.reads {
            Some(reads) if read => reads.spawn_blocking(op),
            _ => tokio::task::spawn_blocking(op),
        }
    }
}

impl Drop for Pools {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is not allowed on an async worker, where the last
        // request's task may drop the server's state. Nothing is left running by then: the
        // server drops its state only after every connection task has ended (those still open
        // at the end of the grace period are cancelled first).
        if let Some(reads) = self.reads.take() {
            reads.shutdown_background();
        }
    }
}
