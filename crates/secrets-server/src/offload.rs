//! [`DropOutsideRuntime`]: a value whose drop must not run inside a tokio runtime.

use std::ops::Deref;

/// Holds a value whose drop must not run inside a tokio runtime's context: a PostgreSQL
/// store's blocking clients run a runtime of their own when dropped, which panics there (and a
/// second such panic while the first unwinds aborts the process). Dropped inside a runtime —
/// on an async worker, as when a server's future is dropped before it stops, or on its
/// blocking pool — the value is moved to a thread of its own, outside any runtime, and the
/// drop waits for that thread; dropped elsewhere, it is dropped in place.
pub(crate) struct DropOutsideRuntime<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> DropOutsideRuntime<T> {
    pub(crate) fn new(value: T) -> Self {
        DropOutsideRuntime(Some(value))
    }
}

impl<T: Send + 'static> Deref for DropOutsideRuntime<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("the value is there until the wrapper is dropped")
    }
}

impl<T: Send + 'static> Drop for DropOutsideRuntime<T> {
    fn drop(&mut self) {
        let Some(value) = self.0.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return drop(value);
        }
        let thread = std::thread::Builder::new()
            .name("secrets-server-drop".into())
            .spawn(move || drop(value));
        match thread {
            Ok(thread) => {
                if thread.join().is_err() {
                    tracing::error!("dropping the store panicked");
                }
            }
            // No thread to be had (the value went with the failed spawn, dropped here).
            Err(e) => {
                tracing::error!(error = %e, "no thread to drop the store outside the runtime")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records whether it was dropped inside a runtime's context.
    struct Probe(std::sync::mpsc::Sender<bool>);

    impl Drop for Probe {
        fn drop(&mut self) {
            let _ = self.0.send(tokio::runtime::Handle::try_current().is_ok());
        }
    }

    #[test]
    fn inside_a_runtime_the_value_is_dropped_outside_it_and_elsewhere_in_place() {
        let (tx, rx) = std::sync::mpsc::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let held = DropOutsideRuntime::new(Probe(tx.clone()));
        runtime.block_on(async move {
            tokio::spawn(async move { drop(held) }).await.unwrap();
        });
        assert!(!rx.recv().unwrap(), "dropped outside the runtime");
        drop(DropOutsideRuntime::new(Probe(tx)));
        assert!(!rx.recv().unwrap(), "dropped in place, outside any runtime");
    }
}
