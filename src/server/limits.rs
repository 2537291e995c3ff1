//! Request rate limits for websocket clients: a token bucket per connection
//! and one per auth token, shared by all the token's connections. (A token
//! bucket is a few lines; no crate needed.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A token bucket refilling `per_minute` tokens a minute, holding at most that many.
#[derive(Debug)]
pub struct Bucket {
    capacity: f64,
    tokens: f64,
    per_sec: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            capacity,
            tokens: capacity,
            per_sec: capacity / 60.0,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.capacity);
        self.last = now;
    }

    /// How long until one token is available (zero: now).
    fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec)
        }
    }
}

/// The limits a websocket connection is held to.
#[derive(Debug, Clone)]
pub struct RateLimits {
    conn: Arc<Mutex<Bucket>>,
    token: Arc<Mutex<Bucket>>,
}

impl RateLimits {
    /// Limits with a fresh per-connection bucket and the shared per-token one.
    pub fn new(per_connection: u32, token: Arc<Mutex<Bucket>>) -> Self {
        Self {
            conn: Arc::new(Mutex::new(Bucket::new(per_connection))),
            token,
        }
    }

    /// Takes one request from both buckets; `Err` carries the delay before a retry.
    pub fn check(&self) -> Result<(), Duration> {
        let now = Instant::now();
        let mut c = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut t = self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let wait = c.wait(now).max(t.wait(now));
        if wait > Duration::ZERO {
            return Err(wait);
        }
        c.tokens -= 1.0;
        t.tokens -= 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_up_to_the_limit_then_refills() {
        let shared = Arc::new(Mutex::new(Bucket::new(1000)));
        let a = RateLimits::new(3, Arc::clone(&shared));
        for _ in 0..3 {
            assert!(a.check().is_ok());
        }
        let wait = a.check().expect_err("over the limit");
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // The token's bucket is shared by its connections.
        let tight = Arc::new(Mutex::new(Bucket::new(2)));
        let (b, c) = (
            RateLimits::new(100, Arc::clone(&tight)),
            RateLimits::new(100, tight),
        );
        assert!(b.check().is_ok() && c.check().is_ok());
        assert!(b.check().is_err() && c.check().is_err());
    }
}
