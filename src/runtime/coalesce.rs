//! Adaptive coalescing of streamed deltas (answer text and reasoning).
//!
//! A delta that arrives at least [`TOKEN_INTERVAL`] after the last
//! notification of the turn goes out at once: a model streaming at a pace a
//! person can follow gets one notification per delta and no added latency.
//! Deltas that arrive faster are appended to one pending batch, sent when
//! the interval has passed since the last notification, or at once when it
//! reaches [`TOKEN_BATCH_BYTES`]. So a session sends at most one timed
//! notification per interval, plus one per `TOKEN_BATCH_BYTES` of text, however fast
//! the model streams; a slow client still gets fewer, larger deltas through
//! its connection's overflow.
//!
//! Text and reasoning are kept apart: a delta of the other kind sends the
//! pending batch first, so the order of the stream is kept.

use std::time::Duration;

use tokio::time::Instant;

/// The least time between two timed notifications of a session's stream.
pub const TOKEN_INTERVAL: Duration = Duration::from_millis(4);
/// A pending batch this large goes out at once.
pub const TOKEN_BATCH_BYTES: usize = 16 * 1024;

/// What a batch carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeltaKind {
    /// The answer.
    Text,
    /// The model's reasoning.
    Reasoning,
}

/// The pending batch of one model request.
#[derive(Debug)]
pub(crate) struct Coalescer {
    pending: String,
    kind: DeltaKind,
    last_flush: Option<Instant>,
}

/// Batches ready to go out, in order (at most two: the other kind's
/// pending batch, then this one).
pub(crate) type Ready = Vec<(DeltaKind, String)>;

impl Coalescer {
    pub(crate) fn new() -> Self {
        Self {
            pending: String::new(),
            kind: DeltaKind::Text,
            last_flush: None,
        }
    }

    /// Adds a delta received at `now`; returns what must go out now.
    pub(crate) fn push(&mut self, kind: DeltaKind, delta: &str, now: Instant) -> Ready {
        let mut ready = Vec::new();
        if kind != self.kind && !self.pending.is_empty() {
            ready.push((self.kind, std::mem::take(&mut self.pending)));
        }
        self.kind = kind;
        self.pending.push_str(delta);
        let due = self
            .last_flush
            .is_none_or(|t| now.saturating_duration_since(t) >= TOKEN_INTERVAL);
        if due || self.pending.len() >= TOKEN_BATCH_BYTES || !ready.is_empty() {
            ready.push((self.kind, std::mem::take(&mut self.pending)));
            self.last_flush = Some(now);
        }
        ready
    }

    /// When the pending batch is due, if there is one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            return None;
        }
        Some(
            self.last_flush
                .map_or_else(Instant::now, |t| t + TOKEN_INTERVAL),
        )
    }

    /// Takes the pending batch (at its deadline, or at the end of the stream).
    pub(crate) fn take(&mut self, now: Instant) -> Option<(DeltaKind, String)> {
        if self.pending.is_empty() {
            return None;
        }
        self.last_flush = Some(now);
        Some((self.kind, std::mem::take(&mut self.pending)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_after_a_pause_goes_out_at_once() {
        let mut c = Coalescer::new();
        let t0 = Instant::now();
        assert_eq!(
            c.push(DeltaKind::Text, "a", t0),
            vec![(DeltaKind::Text, "a".to_owned())]
        );
        let t1 = t0 + TOKEN_INTERVAL;
        assert_eq!(
            c.push(DeltaKind::Text, "b", t1),
            vec![(DeltaKind::Text, "b".to_owned())]
        );
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn fast_deltas_wait_for_the_interval_or_the_byte_bound() {
        let mut c = Coalescer::new();
        let t0 = Instant::now();
        c.push(DeltaKind::Text, "a", t0);
        let t1 = t0 + Duration::from_millis(1);
        assert!(c.push(DeltaKind::Text, "b", t1).is_empty());
        assert!(c.push(DeltaKind::Text, "c", t1).is_empty());
        assert_eq!(c.deadline(), Some(t0 + TOKEN_INTERVAL));
        assert_eq!(
            c.take(t0 + TOKEN_INTERVAL),
            Some((DeltaKind::Text, "bc".to_owned()))
        );
        let big = "x".repeat(TOKEN_BATCH_BYTES);
        let t2 = t0 + TOKEN_INTERVAL + Duration::from_millis(1);
        assert_eq!(
            c.push(DeltaKind::Text, &big, t2),
            vec![(DeltaKind::Text, big)]
        );
    }

    #[test]
    fn a_change_of_kind_sends_the_pending_batch_first() {
        let mut c = Coalescer::new();
        let t0 = Instant::now();
        c.push(DeltaKind::Reasoning, "think", t0);
        let t1 = t0 + Duration::from_millis(1);
        assert!(c.push(DeltaKind::Reasoning, "ing", t1).is_empty());
        assert_eq!(
            c.push(DeltaKind::Text, "answer", t1),
            vec![
                (DeltaKind::Reasoning, "ing".to_owned()),
                (DeltaKind::Text, "answer".to_owned())
            ]
        );
    }
}
