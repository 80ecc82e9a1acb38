//! The beacon schedule: one beacon per interval, at a random moment inside it.

use rand::Rng;

/// When the beacon of the interval holding `now_ms` goes out, or of the next interval when
/// this one's moment has passed. `margin_ms` keeps the moment away from the interval's end so
/// that the report lands in the same interval bucket.
pub fn next_beacon_ms<R: Rng>(now_ms: u64, interval_ms: u64, margin_ms: u64, rng: &mut R) -> u64 {
    let interval_ms = interval_ms.max(1);
    let bucket = interval_bucket(now_ms, interval_ms);
    let moment = moment_in_bucket(bucket, interval_ms, margin_ms, rng);
    if moment >= now_ms {
        moment
    } else {
        moment_in_bucket(bucket + 1, interval_ms, margin_ms, rng)
    }
}

/// A random moment inside interval bucket `bucket`, at least `margin_ms` before its end.
pub fn moment_in_bucket<R: Rng>(bucket: u64, interval_ms: u64, margin_ms: u64, rng: &mut R) -> u64 {
    let interval_ms = interval_ms.max(1);
    let span = interval_ms.saturating_sub(margin_ms).max(1);
    bucket * interval_ms + rng.gen_range(0..span)
}

/// The interval bucket a moment falls in.
pub fn interval_bucket(timestamp_ms: u64, interval_ms: u64) -> u64 {
    timestamp_ms / interval_ms.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn beacons_land_one_per_bucket_and_never_in_the_past() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let interval = 6 * 3_600_000;
        let mut now = 1_700_000_000_000u64;
        let mut last_bucket = None;
        for _ in 0..200 {
            let at = next_beacon_ms(now, interval, 60_000, &mut rng);
            assert!(at >= now);
            let bucket = interval_bucket(at, interval);
            assert!(at % interval < interval - 60_000);
            if let Some(last) = last_bucket {
                assert!(bucket > last);
            }
            last_bucket = Some(bucket);
            now = (bucket + 1) * interval;
        }
    }
}
