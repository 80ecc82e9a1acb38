//! Per-client limits of the explorer's HTTP server: a token bucket of requests and a count of
//! open connections for each client, a client being an IPv4 address or an IPv6 /64 (one
//! subscriber's share of addresses). Both maps are bounded.

use oracle_core::config::HttpConfig;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The client an address belongs to: an IPv4 address (also when mapped into IPv6) or the /64
/// of an IPv6 address.
pub fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A client's bucket: tokens left as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets of requests, one per client, for at most `max_clients` clients.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// The limiter `config` asks for; `None` when its rate is 0 (no limit).
    pub fn new(config: &HttpConfig) -> Option<Self> {
        (config.requests_per_second > 0).then(|| Self {
            rate: f64::from(config.requests_per_second),
            burst: f64::from(config.burst.max(1)),
            max_clients: (config.max_tracked_clients as usize).max(1),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.rate).min(self.burst)
    }

    /// Takes a token from `client`'s bucket at `now`; when it is empty, the error is how long
    /// until it holds one again.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = lock(&self.buckets);
        if !buckets.contains_key(&client) && buckets.len() >= self.max_clients {
            self.make_room(&mut buckets, now);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }

    /// Forgets the buckets that have refilled (a fresh one is the same); if none has, the
    /// fullest one.
    fn make_room(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        buckets.retain(|_, b| self.refilled(*b, now) < self.burst);
        if buckets.len() < self.max_clients {
            return;
        }
        let fullest = buckets
            .iter()
            .max_by(|a, b| {
                self.refilled(*a.1, now)
                    .total_cmp(&self.refilled(*b.1, now))
            })
            .map(|(client, _)| *client);
        if let Some(client) = fullest {
            buckets.remove(&client);
        }
    }

    /// How many clients have a bucket.
    pub fn tracked(&self) -> usize {
        lock(&self.buckets).len()
    }
}

/// Open connections per client, each at most `max`.
#[derive(Debug)]
pub struct ConnectionCounts {
    max: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One open connection of a client, counted until dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    counts: Arc<ConnectionCounts>,
    client: IpAddr,
}

impl ConnectionCounts {
    /// Counts allowing `max` connections per client; `None` when `max` is 0 (no cap).
    pub fn new(max: u32) -> Option<Arc<Self>> {
        (max > 0).then(|| {
            Arc::new(Self {
                max,
                open: Mutex::new(HashMap::new()),
            })
        })
    }

    /// A slot for one more connection of `client`, or `None` when it has `max` open.
    pub fn open(self: &Arc<Self>, client: IpAddr) -> Option<ConnectionSlot> {
        let mut open = lock(&self.open);
        let count = open.entry(client).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            counts: Arc::clone(self),
            client,
        })
    }

    /// How many connections `client` has open.
    pub fn open_of(&self, client: IpAddr) -> u32 {
        lock(&self.open).get(&client).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.counts.open);
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32, max_clients: u32) -> RateLimiter {
        RateLimiter::new(&HttpConfig {
            requests_per_second: rate,
            burst,
            max_tracked_clients: max_clients,
            ..HttpConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = limiter(2, 3, 10);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(a, t0), Ok(()));
        }
        let wait = limiter.check(a, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(
            limiter.check(b, t0),
            Ok(()),
            "another client has its own bucket"
        );
        assert!(limiter.check(a, t0 + Duration::from_millis(400)).is_err());
        assert_eq!(limiter.check(a, t0 + Duration::from_millis(500)), Ok(()));
        assert!(limiter.check(a, t0 + Duration::from_millis(500)).is_err());
        assert!(RateLimiter::new(&HttpConfig {
            requests_per_second: 0,
            ..HttpConfig::default()
        })
        .is_none());
    }

    #[test]
    fn the_map_of_buckets_stays_bounded() {
        let limiter = limiter(1, 2, 4);
        let t0 = Instant::now();
        let busy: IpAddr = "198.51.100.1".parse().unwrap();
        limiter.check(busy, t0).unwrap();
        limiter.check(busy, t0).unwrap();
        for i in 0..1000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = limiter.check(ip, t0);
            assert!(limiter.tracked() <= 4);
        }
        // The emptiest bucket is the last forgotten: the busy client is still limited.
        assert!(limiter.check(busy, t0).is_err());
    }

    #[test]
    fn clients_are_ipv4_addresses_or_ipv6_slash_64s() {
        let v6a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let v6c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_of(v6a), client_of(v6b));
        assert_ne!(client_of(v6a), client_of(v6c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_of(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn connection_slots_are_capped_and_given_back() {
        let counts = ConnectionCounts::new(2).unwrap();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = counts.open(a).unwrap();
        let _second = counts.open(a).unwrap();
        assert!(counts.open(a).is_none());
        assert!(counts.open("192.0.2.2".parse().unwrap()).is_some());
        drop(first);
        assert_eq!(counts.open_of(a), 1);
        assert!(counts.open(a).is_some());
        assert!(ConnectionCounts::new(0).is_none());
    }
}
