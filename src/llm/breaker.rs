//! A circuit breaker per provider: after `threshold` consecutive failures it
//! opens and fails fast; after `cooldown` it lets one probe through, which
//! closes it on success or opens it again on failure.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// The breaker's state, as reported to metrics and `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests fail fast.
    Open,
    /// One probe is allowed (or in flight).
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// A circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks to send a request. `Err` carries how long until a probe is allowed.
    pub fn acquire(&self) -> Result<(), Duration> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *state = State::HalfOpen { probing: true };
                    Ok(())
                } else {
                    Err(until - now)
                }
            }
            State::HalfOpen { probing: true } => Err(Duration::ZERO),
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                Ok(())
            }
        }
    }

    /// Reports a success: the breaker closes.
    pub fn success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// Reports a failure.
    pub fn failure(&self) {
        let mut state = self.lock();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            _ => State::Open {
                until: Instant::now() + self.cooldown,
            },
        };
    }

    /// Reports that an allowed request ended without a verdict (cancelled):
    /// a probe slot is given back.
    pub fn abandon(&self) {
        let mut state = self.lock();
        if let State::HalfOpen { probing: true } = *state {
            *state = State::HalfOpen { probing: false };
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_fails_fast_probes_and_closes() {
        let b = Breaker::new(3, Duration::from_secs(10));
        for _ in 0..2 {
            assert!(b.acquire().is_ok());
            b.failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.success();
        for _ in 0..3 {
            assert!(b.acquire().is_ok());
            b.failure();
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.acquire().is_err());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.acquire().is_ok(), "one probe");
        assert!(b.acquire().is_err(), "only one probe");
        b.failure();
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(b.acquire().is_ok());
        b.abandon();
        assert!(b.acquire().is_ok(), "an abandoned probe frees the slot");
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
