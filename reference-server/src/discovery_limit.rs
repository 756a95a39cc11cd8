//! PROFILE.keypackage-discovery-limit: one requester session may consume at most `limit` one-time
//! KeyPackages of one actor per window, so that one actor cannot drain another's KeyPackages and
//! force it onto its last-resort package (KeyPackage exhaustion, RFC 9750 §8.4.2). Beyond it,
//! discovery answers 429 with `Retry-After` (the rest of the window). Discovering one's own
//! packages is not limited.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most (requester, actor) pairs tracked; beyond it, pairs whose window has ended are forgotten.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryLimit {
    /// One-time KeyPackages of one actor per requester session and window.
    pub per_window: usize,
    pub window: Duration,
}

/// Consumption per (requester session, actor) in the current window.
pub struct DiscoveryLimiter {
    limit: DiscoveryLimit,
    /// (requester session key, actor fid) -> (window start, consumed).
    consumed: Mutex<HashMap<(String, String), (Instant, usize)>>,
}

impl DiscoveryLimiter {
    pub fn new(limit: DiscoveryLimit) -> Self {
        Self {
            limit,
            consumed: Mutex::default(),
        }
    }

    /// Ok when `requester` may consume more of `actor`'s packages; Err: the rest of the window.
    pub fn admit(&self, requester: &str, actor: &str, now: Instant) -> Result<(), Duration> {
        let consumed = self.consumed.lock().unwrap_or_else(|p| p.into_inner());
        match consumed.get(&(requester.to_owned(), actor.to_owned())) {
            Some((start, count))
                if now.duration_since(*start) < self.limit.window
                    && *count >= self.limit.per_window =>
            {
                Err(self.limit.window - now.duration_since(*start))
            }
            _ => Ok(()),
        }
    }

    /// Counts `count` one-time packages of `actor` handed to `requester`.
    pub fn record(&self, requester: &str, actor: &str, count: usize, now: Instant) {
        if count == 0 {
            return;
        }
        let window = self.limit.window;
        let mut consumed = self.consumed.lock().unwrap_or_else(|p| p.into_inner());
        if consumed.len() >= MAX_TRACKED {
            consumed.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = consumed
            .entry((requester.to_owned(), actor.to_owned()))
            .or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requester_is_stopped_at_the_limit_until_the_window_ends() {
        let limiter = DiscoveryLimiter::new(DiscoveryLimit {
            per_window: 3,
            window: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        assert!(limiter.admit("s1", "bob@x", t0).is_ok());
        limiter.record("s1", "bob@x", 3, t0);
        let wait = limiter
            .admit("s1", "bob@x", t0 + Duration::from_secs(10))
            .expect_err("the limit is reached");
        assert_eq!(wait, Duration::from_secs(50));
        // Other requesters and other actors are not affected.
        assert!(limiter.admit("s2", "bob@x", t0).is_ok());
        assert!(limiter.admit("s1", "carol@x", t0).is_ok());
        // A new window starts afresh.
        let later = t0 + Duration::from_secs(61);
        assert!(limiter.admit("s1", "bob@x", later).is_ok());
        limiter.record("s1", "bob@x", 1, later);
        assert!(limiter.admit("s1", "bob@x", later).is_ok());
    }
}
