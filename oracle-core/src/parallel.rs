//! Work split over every core with scoped threads, results kept in order.
//!
//! The epoch close's per-hotspot passes are independent of each other: each piece of the work
//! runs on whichever thread is free, and the results come back in the order of the pieces, so
//! that whatever the caller then adds up is added in the same order as on one thread.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads to use: one a core.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` over `0..n` cut into ranges of `piece` (the last shorter), on every core; the results
/// in the order of the ranges.
pub fn map_ranges<R: Send>(n: usize, piece: usize, f: impl Fn(Range<usize>) -> R + Sync) -> Vec<R> {
    let piece = piece.max(1);
    let pieces = n.div_ceil(piece);
    let threads = threads().min(pieces);
    if threads <= 1 {
        return (0..pieces)
            .map(|p| f(p * piece..((p + 1) * piece).min(n)))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let p = next.fetch_add(1, Ordering::Relaxed);
                        if p >= pieces {
                            return mine;
                        }
                        mine.push((p, f(p * piece..((p + 1) * piece).min(n))));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_unstable_by_key(|(p, _)| *p);
    done.into_iter().map(|(_, r)| r).collect()
}

/// `f` of every item of `items` on every core, in their order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let piece = items.len().div_ceil(threads() * 8).max(1);
    map_ranges(items.len(), piece, |range| {
        items[range].iter().map(&f).collect::<Vec<R>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        let squares = map(&(0..10_000u64).collect::<Vec<_>>(), |x| x * x);
        assert_eq!(squares, (0..10_000u64).map(|x| x * x).collect::<Vec<_>>());
        let ranges = map_ranges(10, 3, |r| r);
        assert_eq!(ranges, vec![0..3, 3..6, 6..9, 9..10]);
        assert!(map_ranges(0, 3, |r| r).is_empty());
    }
}
