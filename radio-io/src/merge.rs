//! One frame heard by several gateways at once becomes one [`Reception`]: receptions wait a
//! short window in [`HeldReceptions`], and a reception of the same payload arriving within it
//! is merged into the one waiting, keeping the better signal (higher SNR, then higher RSSI).

use crate::Reception;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Receptions waiting out their merge window, in arrival order.
#[derive(Debug)]
pub struct HeldReceptions {
    window: Duration,
    capacity: usize,
    held: VecDeque<Held>,
    merged: u64,
    dropped: u64,
}

#[derive(Debug)]
struct Held {
    reception: Reception,
    release_at: Instant,
}

/// Whether `candidate` was heard better than `current`: higher SNR, then higher RSSI.
fn heard_better(candidate: &Reception, current: &Reception) -> bool {
    let key = |r: &Reception| (r.frame.snr_db, r.frame.rssi_dbm);
    key(candidate) > key(current)
}

impl HeldReceptions {
    /// Holds each reception for `window` (zero: hands it on at once, merging nothing), keeping
    /// at most `capacity`; the oldest is dropped beyond it.
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            capacity: capacity.max(1),
            held: VecDeque::new(),
            merged: 0,
            dropped: 0,
        }
    }

    /// Takes a reception: merged into a held one with the same payload and CRC status that is
    /// still within its window, or else held for a window of its own.
    pub fn push(&mut self, reception: Reception) {
        let now = Instant::now();
        let duplicate = self
            .held
            .iter_mut()
            .rev()
            .take_while(|held| held.release_at > now)
            .find(|held| {
                held.reception.frame.payload == reception.frame.payload
                    && held.reception.frame.crc_ok == reception.frame.crc_ok
            });
        if let Some(held) = duplicate {
            self.merged += 1;
            if heard_better(&reception, &held.reception) {
                held.reception = reception;
            }
            return;
        }
        if self.held.len() >= self.capacity {
            self.held.pop_front();
            self.dropped += 1;
        }
        self.held.push_back(Held {
            reception,
            release_at: now + self.window,
        });
    }

    /// The oldest reception whose window is over, if any.
    pub fn pop_ready(&mut self) -> Option<Reception> {
        if self.held.front()?.release_at > Instant::now() {
            return None;
        }
        self.held.pop_front().map(|held| held.reception)
    }

    /// When the oldest held reception's window ends; `None` when nothing is held.
    pub fn next_release(&self) -> Option<Instant> {
        self.held.front().map(|held| held.release_at)
    }

    /// Receptions merged into another (the same frame from another gateway).
    pub fn merged(&self) -> u64 {
        self.merged
    }

    /// Receptions dropped because too many were held.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Waits until `at`, or forever when it is `None`.
pub async fn sleep_until_release(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use radio::demod::RxFrame;

    fn reception(payload: &[u8], snr_db: f32, rssi_dbm: f32) -> Reception {
        Reception {
            frame: RxFrame {
                payload: payload.to_vec(),
                snr_db,
                rssi_dbm,
                crc_ok: Some(true),
                spreading_factor: 9,
                bandwidth_hz: 125_000,
                coding_rate: 1,
                cfo_hz: 0.0,
                sample_offset: 0,
            },
            frequency_hz: 904_300_000,
            timestamp_ns: 0,
        }
    }

    #[tokio::test]
    async fn the_same_payload_within_the_window_is_one_reception_with_the_best_signal() {
        let mut held = HeldReceptions::new(Duration::from_millis(50), 16);
        held.push(reception(b"beacon", -5.0, -110.0));
        held.push(reception(b"uplink", 3.0, -90.0));
        held.push(reception(b"beacon", 2.0, -100.0));
        held.push(reception(b"beacon", 2.0, -120.0));
        assert_eq!(held.pop_ready(), None, "still within the window");
        tokio::time::sleep(Duration::from_millis(60)).await;
        let first = held.pop_ready().unwrap();
        assert_eq!(
            (
                first.frame.payload.as_slice(),
                first.frame.snr_db,
                first.frame.rssi_dbm
            ),
            (&b"beacon"[..], 2.0, -100.0)
        );
        assert_eq!(held.pop_ready().unwrap().frame.payload, b"uplink");
        assert_eq!(held.pop_ready(), None);
        assert_eq!(held.merged(), 2);
        // After its window, the same payload again is a new reception.
        held.push(reception(b"beacon", 1.0, -100.0));
        assert!(held.next_release().is_some());
    }

    #[tokio::test]
    async fn a_zero_window_hands_each_on_and_capacity_drops_the_oldest() {
        let mut held = HeldReceptions::new(Duration::ZERO, 2);
        for payload in [b"a", b"b", b"c"] {
            held.push(reception(payload, 0.0, -100.0));
        }
        assert_eq!(held.dropped(), 1);
        assert_eq!(held.pop_ready().unwrap().frame.payload, b"b");
        assert_eq!(held.pop_ready().unwrap().frame.payload, b"c");
        assert_eq!(held.merged(), 0);
    }
}
