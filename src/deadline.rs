//! Deadlines of one kind, kept in a FIFO.
//!
//! Every deadline of a kind is "now + the same timeout", so they arrive already
//! sorted: pushing at the back and expiring from the front is O(1), with no heap
//! and no timer wheel. A connection that changes state leaves its old entry behind;
//! each entry carries the connection's timer id, and an entry whose id no longer
//! matches is stale and skipped. Stale entries are swept out when they outnumber
//! live ones, so the queue stays proportional to the open connections.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mio::Token;

#[derive(Debug)]
pub(crate) struct Deadlines {
    timeout: Duration,
    queue: VecDeque<Entry>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    at: Instant,
    token: Token,
    timer: u64,
}

impl Deadlines {
    pub(crate) fn new(timeout: Duration) -> Deadlines {
        Deadlines {
            timeout,
            queue: VecDeque::new(),
        }
    }

    /// Starts the timeout for the connection at `token`, known by `timer`.
    pub(crate) fn push(&mut self, now: Instant, token: Token, timer: u64) {
        self.queue.push_back(Entry {
            at: now + self.timeout,
            token,
            timer,
        });
    }

    /// The earliest deadline, live or stale.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.front().map(|entry| entry.at)
    }

    /// The next entry that has expired by `now`, if any.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(Token, u64)> {
        match self.queue.front() {
            Some(entry) if entry.at <= now => self.queue.pop_front().map(|e| (e.token, e.timer)),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Drops every entry `live` rejects, keeping the order of the rest.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(Token, u64) -> bool) {
        self.queue.retain(|entry| live(entry.token, entry.timer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_order_and_only_when_due() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(Duration::from_secs(5));
        deadlines.push(start, Token(1), 10);
        deadlines.push(start + Duration::from_secs(1), Token(2), 11);
        assert_eq!(deadlines.next(), Some(start + Duration::from_secs(5)));
        assert_eq!(deadlines.pop_expired(start + Duration::from_secs(4)), None);
        assert_eq!(
            deadlines.pop_expired(start + Duration::from_secs(6)),
            Some((Token(1), 10))
        );
        assert_eq!(
            deadlines.pop_expired(start + Duration::from_secs(6)),
            Some((Token(2), 11))
        );
        assert_eq!(deadlines.pop_expired(start + Duration::from_secs(60)), None);
    }

    #[test]
    fn retain_sweeps_stale_entries() {
        let now = Instant::now();
        let mut deadlines = Deadlines::new(Duration::from_secs(1));
        for timer in 0..10 {
            deadlines.push(now, Token(timer as usize), timer);
        }
        deadlines.retain(|_, timer| timer % 2 == 0);
        assert_eq!(deadlines.len(), 5);
        assert_eq!(deadlines.pop_expired(now + Duration::from_secs(1)), Some((Token(0), 0)));
        assert_eq!(deadlines.pop_expired(now + Duration::from_secs(1)), Some((Token(2), 2)));
    }
}
