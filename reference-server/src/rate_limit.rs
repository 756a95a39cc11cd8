//! Per-session request rate limit (PROFILE.rate-limit): a token bucket per bearer token, so one
//! session cannot monopolise the server. Over the limit, the answer is 429 with `Retry-After`
//! (whole seconds, at least 1) and the profile's error body. Requests without a token are not
//! limited here (they are refused with 401 by the routes that need one). The layer that applies
//! it is `middleware::rate_limit`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Most sessions tracked at once; beyond it, buckets that have refilled are forgotten (a full
/// bucket and a new one behave alike), so invented tokens cannot grow memory without bound.
const MAX_TRACKED: usize = 10_000;

/// Limit: `per_second` requests on average, bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of every session.
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `session`; Err: how long until one is there.
    pub fn take(&self, session: &str, now: Instant) -> Result<(), Duration> {
        let key: [u8; 32] = Sha256::digest(session.as_bytes()).into();
        let RateLimit { per_second, burst } = self.limit;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.last).as_secs_f64() * per_second < burst
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_average_rate() {
        let limiter = Limiter::new(RateLimit {
            per_second: 10.0,
            burst: 3.0,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("a", t0).is_ok());
        }
        let wait = limiter.take("a", t0).expect_err("the burst is spent");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        // Another session has its own bucket.
        assert!(limiter.take("b", t0).is_ok());
        // A tenth of a second refills one token.
        assert!(limiter.take("a", t0 + Duration::from_millis(100)).is_ok());
        assert!(limiter.take("a", t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn invented_tokens_do_not_grow_memory_without_bound() {
        let limiter = Limiter::new(RateLimit {
            per_second: 1000.0,
            burst: 2.0,
        });
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED + 50) {
            let _ = limiter.take(&format!("token-{i}"), t0 + Duration::from_secs(1));
        }
        let later = t0 + Duration::from_secs(5);
        let _ = limiter.take("late", later);
        let tracked = limiter.buckets.lock().expect("lock").len();
        assert!(tracked <= MAX_TRACKED, "{tracked}");
    }
}
