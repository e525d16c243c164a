//! Timing: run an operation for a time budget on one thread or many, and take medians.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Operations run between two looks at the clock.
const CHUNK: u64 = 4;

/// Runs `op` on this thread for about `budget`, and at most about `max_ops` times; returns the
/// rate in operations per second.
pub(crate) fn single(budget: Duration, max_ops: u64, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut done = 0u64;
    loop {
        for _ in 0..CHUNK {
            op();
        }
        done += CHUNK;
        if done >= max_ops || start.elapsed() >= budget {
            break;
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// Runs `op(thread)` on `threads` threads at once for about `budget`; returns the aggregate rate
/// in operations per second (every operation started before the stop counts, and the time
/// runs until the last one has returned).
pub(crate) fn concurrent(threads: usize, budget: Duration, op: &(dyn Fn(usize) + Sync)) -> f64 {
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let start_line = Barrier::new(threads + 1);
    let start = std::thread::scope(|s| {
        for thread in 0..threads {
            let (stop, total, start_line) = (&stop, &total, &start_line);
            s.spawn(move || {
                start_line.wait();
                let mut done = 0;
                while !stop.load(Ordering::Relaxed) {
                    op(thread);
                    done += 1;
                }
                total.fetch_add(done, Ordering::Relaxed);
            });
        }
        start_line.wait();
        let start = Instant::now();
        std::thread::sleep(budget);
        stop.store(true, Ordering::Relaxed);
        start
    });
    total.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// The median of `values` (the mean of the middle two for an even count); NaN if empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn single_counts_its_operations() {
        let mut n = 0u64;
        let rate = single(Duration::from_secs(10), 100, || n += 1);
        assert_eq!(n, 100);
        assert!(rate > 0.0);
    }

    #[test]
    fn concurrent_runs_every_thread() {
        let seen = AtomicU64::new(0);
        let rate = concurrent(3, Duration::from_millis(20), &|thread| {
            seen.fetch_or(1 << thread, Ordering::Relaxed);
        });
        assert_eq!(seen.load(Ordering::Relaxed), 0b111);
        assert!(rate > 0.0);
    }
}
