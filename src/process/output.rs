//! A command's output, bounded in memory: the beginning and the end are
//! kept, the middle counted and dropped.

use std::collections::VecDeque;

/// Output kept as a head and a tail of at most `cap` bytes together, with
/// every byte's absolute offset known (for readers that come back later).
#[derive(Debug)]
pub struct OutputLog {
    cap: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl OutputLog {
    /// A log keeping at most `cap` bytes (at least 64).
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(64),
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        }
    }

    /// Appends output.
    pub fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let half = self.cap / 2;
        let room = half.saturating_sub(self.head.len());
        let (h, t) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(h);
        let keep = self.cap - half;
        if t.len() >= keep {
            self.tail.clear();
            self.tail.extend(&t[t.len() - keep..]);
        } else {
            self.tail.extend(t);
            let excess = self.tail.len().saturating_sub(keep);
            self.tail.drain(..excess);
        }
    }

    /// Bytes written so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The absolute offset of the first byte of the tail.
    fn tail_start(&self) -> u64 {
        self.total - self.tail.len() as u64
    }

    /// Everything kept, with a note where the middle was cut; invalid UTF-8
    /// is shown lossily.
    pub fn render(&self) -> String {
        self.since(0).0
    }

    /// What was written from offset `from` on and is still kept, as text
    /// (a note stands where bytes were dropped), and the offset to read from
    /// next. An incomplete UTF-8 character at the end is left for the next
    /// read unless `all`.
    pub fn since(&self, from: u64) -> (String, u64) {
        let mut bytes = Vec::new();
        let mut notes: Vec<(usize, u64)> = Vec::new();
        let head_len = self.head.len() as u64;
        let tail_start = self.tail_start();
        let mut at = from.min(self.total);
        if at < head_len {
            bytes.extend_from_slice(&self.head[usize::try_from(at).unwrap_or(0)..]);
            at = head_len;
        }
        if at < tail_start {
            notes.push((bytes.len(), tail_start - at));
            at = tail_start;
        }
        let skip = usize::try_from(at - tail_start).unwrap_or(0);
        bytes.extend(self.tail.iter().skip(skip));
        let mut text = String::new();
        let mut pos = 0;
        for (cut, dropped) in notes {
            text.push_str(&String::from_utf8_lossy(&bytes[pos..cut]));
            text.push_str(&format!("\n[… {dropped} bytes of output elided …]\n"));
            pos = cut;
        }
        text.push_str(&String::from_utf8_lossy(&bytes[pos..]));
        (text, self.total)
    }
}

/// Splits `pending` into the text that can be shown now (lossy for invalid
/// bytes) and the incomplete character at its end, kept in `pending`.
pub fn take_text(pending: &mut Vec<u8>) -> String {
    let mut complete = pending.len();
    // An incomplete character is at most 3 bytes long at the very end.
    for back in 1..=3.min(pending.len()) {
        let start = pending.len() - back;
        if let Err(e) = std::str::from_utf8(&pending[start..])
            && e.error_len().is_none()
            && e.valid_up_to() == 0
        {
            complete = start;
            break;
        }
    }
    let text = String::from_utf8_lossy(&pending[..complete]).into_owned();
    pending.drain(..complete);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_head_and_tail() {
        let mut c = OutputLog::new(100);
        for i in 0..100 {
            c.push(format!("line {i:03}\n").as_bytes());
        }
        let out = c.render();
        assert!(out.starts_with("line 000\n"), "{out}");
        assert!(out.ends_with("line 099\n"), "{out}");
        assert!(out.contains("bytes of output elided"), "{out}");
        assert_eq!(c.total(), 900);
    }

    #[test]
    fn a_huge_write_keeps_its_end() {
        let mut c = OutputLog::new(64);
        let big: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        c.push(&big);
        assert_eq!(c.head.len(), 32);
        assert_eq!(c.tail.len(), 32);
        assert!(
            c.render()
                .ends_with(std::str::from_utf8(&big[big.len() - 32..]).expect("ascii"))
        );
    }

    #[test]
    fn readers_resume_from_their_offset() {
        let mut c = OutputLog::new(1000);
        c.push(b"one\n");
        let (t, next) = c.since(0);
        assert_eq!((t.as_str(), next), ("one\n", 4));
        c.push(b"two\n");
        assert_eq!(c.since(next).0, "two\n");
        assert_eq!(c.since(next + 100).0, "", "past the end");
    }

    #[test]
    fn a_reader_that_fell_behind_is_told_what_was_dropped() {
        let mut c = OutputLog::new(64);
        c.push(&[b'x'; 40]);
        let (_, next) = c.since(0);
        c.push(&[b'y'; 200]);
        let (t, _) = c.since(next);
        assert!(t.contains("bytes of output elided"), "{t}");
        assert!(t.ends_with(&"y".repeat(32)), "{t}");
    }

    #[test]
    fn invalid_utf8_is_lossy_and_split_characters_wait() {
        let mut p = vec![b'a', 0xff, b'b', 0xc3];
        assert_eq!(take_text(&mut p), "a\u{fffd}b");
        assert_eq!(p, [0xc3]);
        p.push(0xa9);
        assert_eq!(take_text(&mut p), "é");
        assert!(p.is_empty());
        let mut junk = vec![0xff; 10_000];
        assert_eq!(take_text(&mut junk).chars().count(), 10_000);
        assert!(junk.is_empty(), "invalid bytes never pile up");
    }
}
