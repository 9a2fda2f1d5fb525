//! The poller's table of connections: one slot per open connection, the state it is
//! in, and the deadline of every state that waits for the client.
//!
//! A connection is always in exactly one slot state, and the state is only changed
//! through the methods here, which keep the counts (idle, streaming, on a worker, readable
//! on a worker) and the deadlines in step with it:
//!
//! ```text
//!              reserve                 sent_to_worker
//!   (accept) ─────────▶ Taken ───────────────────────▶ OnWorker(Readiness)
//!                        ▲ │ park(wait)                     │ back_from_worker
//!          take / expire │ ▼                                ▼
//!     Waiting { Idle | Reading | Writing | Lingering | Streaming } ... Taken
//!                                                     free ▶ (slot gone)
//! ```
//!
//! Deadlines of one kind all share one timeout, so they arrive already sorted: a FIFO per
//! kind gives O(1) expiry, with no heap and no timer wheel. A connection that changes state
//! leaves its old entry behind; every entry carries the timer id that was current when it
//! was pushed, and an entry whose id no longer matches its slot is stale and skipped. Stale
//! entries are swept out when they clearly outnumber the connections, so the queues stay
//! proportional to what is open.
//!
//! The table is generic over what a slot holds, so it is tested here without sockets.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mio::Token;
use slab::Slab;

use crate::shutdown::ShutdownReport;

/// What a connection that is not on a worker waits for. Each has its own timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Between requests, nothing buffered: the keep-alive timeout.
    Idle = 0,
    /// Part of a request head is buffered, or a new connection has not sent its first
    /// byte: the request timeout, from the request's first byte.
    Reading = 1,
    /// The head has arrived and its body is arriving: the body timeout, between reads (a
    /// large upload over a slow link may take far longer than the request timeout).
    ReadingBody = 2,
    /// Response bytes wait for the client to take them: the send timeout.
    Writing = 3,
    /// The last response is out and our side is shut; what the client still sends is
    /// read and dropped until it closes: the linger timeout.
    Lingering = 4,
    /// A response body's producer has sent nothing more yet, and all it sent is
    /// written: no timeout (an event stream may be quiet for as long as it likes). Its
    /// producer wakes the poller when it sends; a stalled client makes it `Writing`.
    Streaming = 5,
}

impl Wait {
    /// The states with a timeout, each with its deadline queue.
    const TIMED: [Wait; 5] = [
        Wait::Idle,
        Wait::Reading,
        Wait::ReadingBody,
        Wait::Writing,
        Wait::Lingering,
    ];

    fn is_timed(self) -> bool {
        self != Wait::Streaming
    }

    /// Whether this state's timeout counts from when the state began, however often the
    /// poller takes the connection out and parks it again in the same state: a request's
    /// from its first byte, however many reads it takes; a lingering close's from our
    /// side's shutdown, however much the client still sends. The keep-alive and send
    /// timeouts start over instead (the send timeout each time the client takes bytes).
    fn runs_from_start(self) -> bool {
        matches!(self, Wait::Reading | Wait::Lingering)
    }
}

/// The timeout of each waiting state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) idle: Duration,
    pub(crate) reading: Duration,
    pub(crate) reading_body: Duration,
    pub(crate) writing: Duration,
    pub(crate) lingering: Duration,
}

/// Readiness that arrived for a connection while a worker held it, to act on when it
/// comes back: edge-triggered polling reports it once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// Bytes arrived.
    pub(crate) readable: bool,
    /// The client's FIN (or an error) arrived.
    pub(crate) hung_up: bool,
}

#[derive(Debug)]
enum Slot<C> {
    /// Not on a worker, waiting for `wait` under that state's timeout; `timer` names the
    /// deadline entry that is live for it.
    Waiting { wait: Wait, conn: C, timer: u64 },
    /// Taken out by the poller, which works on it now and puts a state back (or frees the
    /// slot) before it looks at anything else. `running` is the deadline still running
    /// when it was taken from a state whose timeout [runs from its start](Wait::runs_from_start):
    /// parked in that state again, it keeps it.
    Taken { running: Option<(Wait, u64)> },
    /// On a worker; the token stays reserved.
    OnWorker(Readiness),
}

/// Every open connection's slot, and the deadlines of the waiting ones.
#[derive(Debug)]
pub(crate) struct Slots<C> {
    slab: Slab<Slot<C>>,
    /// One FIFO per timed [`Wait`] (`Wait::TIMED`), indexed by it; `Streaming` has none.
    deadlines: [Deadlines; 5],
    /// The last timer id handed out; ids are never reused.
    last_timer: u64,
    /// Slots in `Waiting { wait: Idle }`.
    idle: usize,
    /// Slots in `Waiting { wait: Streaming }`.
    streaming: usize,
    /// Slots in `OnWorker`.
    on_workers: usize,
    /// Slots in `OnWorker` whose readiness says readable.
    readable_on_workers: usize,
}

impl<C> Slots<C> {
    pub(crate) fn new(timeouts: Timeouts, capacity: usize) -> Slots<C> {
        Slots {
            slab: Slab::with_capacity(capacity),
            deadlines: [
                Deadlines::new(timeouts.idle),
                Deadlines::new(timeouts.reading),
                Deadlines::new(timeouts.reading_body),
                Deadlines::new(timeouts.writing),
                Deadlines::new(timeouts.lingering),
            ],
            last_timer: 0,
            idle: 0,
            streaming: 0,
            on_workers: 0,
            readable_on_workers: 0,
        }
    }

    /// Open connections, in any state.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Connections waiting for their next request.
    pub(crate) fn idle(&self) -> usize {
        self.idle
    }

    /// Connections waiting for their response body's producer.
    pub(crate) fn streaming(&self) -> usize {
        self.streaming
    }

    /// Connections on a worker.
    pub(crate) fn on_workers(&self) -> usize {
        self.on_workers
    }

    /// Connections on a worker that became readable meanwhile: they will want the
    /// poller as soon as they come back.
    pub(crate) fn readable_on_workers(&self) -> usize {
        self.readable_on_workers
    }

    /// The token the next [`reserve`](Slots::reserve) will return.
    pub(crate) fn next_token(&self) -> Token {
        Token(self.slab.vacant_key())
    }

    /// A new slot, `Taken` by the poller for a connection it just accepted.
    pub(crate) fn reserve(&mut self) -> Token {
        Token(self.slab.insert(Slot::Taken { running: None }))
    }

    /// Puts the connection the poller took back to wait for `wait`, and starts that
    /// state's timeout, unless it goes back to the state it was taken from and that
    /// state's timeout [runs from its start](Wait::runs_from_start).
    pub(crate) fn park(&mut self, token: Token, wait: Wait, conn: C, now: Instant) {
        let slot = &mut self.slab[token.0];
        let Slot::Taken { running } = *slot else {
            unreachable!("#{} parked without being taken: {}", token.0, kind(slot));
        };
        let timer = match running {
            Some((was, timer)) if was == wait => timer,
            _ if !wait.is_timed() => 0,
            _ => {
                self.last_timer += 1;
                self.deadlines[wait as usize].push(now, token, self.last_timer);
                self.last_timer
            }
        };
        *slot = Slot::Waiting { wait, conn, timer };
        match wait {
            Wait::Idle => self.idle += 1,
            Wait::Streaming => self.streaming += 1,
            _ => {}
        }
        if wait.is_timed() {
            self.sweep(wait);
        }
    }

    /// Takes a waiting connection out for the poller to work on: the slot is `Taken`
    /// until [`park`](Slots::park), [`sent_to_worker`](Slots::sent_to_worker) or
    /// [`free`](Slots::free). `None` if the slot is not waiting.
    pub(crate) fn take(&mut self, token: Token) -> Option<(Wait, C)> {
        let slot = self.slab.get_mut(token.0)?;
        let Slot::Waiting { wait, timer, .. } = *slot else {
            return None;
        };
        let running = wait.runs_from_start().then_some((wait, timer));
        let Slot::Waiting { conn, .. } = std::mem::replace(slot, Slot::Taken { running }) else {
            unreachable!("checked above");
        };
        match wait {
            Wait::Idle => self.idle -= 1,
            Wait::Streaming => self.streaming -= 1,
            _ => {}
        }
        Some((wait, conn))
    }

    /// Takes the connection at `token` out as [`take`](Slots::take) does, if it is waiting
    /// for `wait`; leaves it alone otherwise.
    pub(crate) fn take_if(&mut self, token: Token, wait: Wait) -> Option<C> {
        match self.slab.get(token.0) {
            Some(Slot::Waiting { wait: w, .. }) if *w == wait => self.take(token).map(|(_, conn)| conn),
            _ => None,
        }
    }

    /// A taken connection goes to a worker.
    pub(crate) fn sent_to_worker(&mut self, token: Token) {
        let slot = &mut self.slab[token.0];
        assert!(
            matches!(slot, Slot::Taken { .. }),
            "#{} sent to a worker untaken",
            token.0
        );
        *slot = Slot::OnWorker(Readiness::default());
        self.on_workers += 1;
    }

    /// A connection came back from a worker: its slot is `Taken` again, and what
    /// arrived for it meanwhile is returned.
    pub(crate) fn back_from_worker(&mut self, token: Token) -> Readiness {
        let slot = &mut self.slab[token.0];
        let Slot::OnWorker(readiness) = *slot else {
            unreachable!("#{} came back from a worker but its slot is {}", token.0, kind(slot));
        };
        *slot = Slot::Taken { running: None };
        self.on_workers -= 1;
        if readiness.readable {
            self.readable_on_workers -= 1;
        }
        readiness
    }

    /// Frees a taken slot: the connection is gone.
    pub(crate) fn free(&mut self, token: Token) {
        let slot = self.slab.remove(token.0);
        debug_assert!(
            matches!(slot, Slot::Taken { .. }),
            "#{} freed while {}",
            token.0,
            kind(&slot)
        );
    }

    /// Readiness for `token`. A connection on a worker keeps it for its return; a
    /// waiting one is lent to the caller with its state, to note it and decide.
    pub(crate) fn event(&mut self, token: Token, readiness: Readiness) -> Option<(Wait, &mut C)> {
        match self.slab.get_mut(token.0)? {
            Slot::OnWorker(kept) => {
                if readiness.readable && !kept.readable {
                    self.readable_on_workers += 1;
                }
                kept.readable |= readiness.readable;
                kept.hung_up |= readiness.hung_up;
                None
            }
            Slot::Waiting { wait, conn, .. } => Some((*wait, conn)),
            // A late event for a connection being worked on: it is looked at anyway.
            Slot::Taken { .. } => None,
        }
    }

    /// The next connection whose deadline has passed by `now`, taken out as by
    /// [`take`](Slots::take). Stale entries are skipped.
    pub(crate) fn expired(&mut self, now: Instant) -> Option<(Token, Wait, C)> {
        for wait in Wait::TIMED {
            while let Some((token, timer)) = self.deadlines[wait as usize].pop_expired(now) {
                if self.is_live(token, wait, timer) {
                    let (wait, conn) = self.take(token).expect("a live deadline's slot is waiting");
                    // Its request timeout is over: nothing to keep.
                    self.slab[token.0] = Slot::Taken { running: None };
                    return Some((token, wait, conn));
                }
            }
        }
        None
    }

    /// When the earliest deadline (live or stale) passes.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().filter_map(Deadlines::next).min()
    }

    /// The waiting connections `pick` chooses, by token.
    pub(crate) fn waiting(&self, mut pick: impl FnMut(Wait, &C) -> bool) -> Vec<Token> {
        self.slab
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Waiting { wait, conn, .. } if pick(*wait, conn)))
            .map(|(key, _)| Token(key))
            .collect()
    }

    /// Drops every connection (closing them), and says in which state they were.
    /// Idle ones lose nothing and are not counted.
    pub(crate) fn drain(&mut self) -> ShutdownReport {
        let mut left = ShutdownReport::default();
        for slot in self.slab.drain() {
            match slot {
                Slot::Waiting {
                    wait: Wait::Reading | Wait::ReadingBody,
                    ..
                } => left.reading += 1,
                Slot::Waiting {
                    wait: Wait::Writing, ..
                } => left.writing += 1,
                Slot::Waiting {
                    wait: Wait::Lingering, ..
                } => left.lingering += 1,
                Slot::Waiting {
                    wait: Wait::Streaming, ..
                } => left.streaming += 1,
                Slot::OnWorker(_) => left.on_worker += 1,
                Slot::Waiting { wait: Wait::Idle, .. } | Slot::Taken { .. } => {}
            }
        }
        self.idle = 0;
        self.streaming = 0;
        self.on_workers = 0;
        self.readable_on_workers = 0;
        left
    }

    fn is_live(&self, token: Token, wait: Wait, timer: u64) -> bool {
        matches!(self.slab.get(token.0), Some(Slot::Waiting { wait: w, timer: t, .. }) if *w == wait && *t == timer)
    }

    /// Sweeps stale deadlines of `wait` out once they clearly outnumber the connections.
    fn sweep(&mut self, wait: Wait) {
        if self.deadlines[wait as usize].len() <= 2 * self.slab.len() + 1024 {
            return;
        }
        let mut queue = std::mem::replace(&mut self.deadlines[wait as usize], Deadlines::new(Duration::ZERO));
        queue.retain(|token, timer| self.is_live(token, wait, timer));
        self.deadlines[wait as usize] = queue;
    }
}

/// A slot's state without its contents, for messages.
fn kind<C>(slot: &Slot<C>) -> String {
    match slot {
        Slot::Waiting { wait, .. } => format!("{wait:?}"),
        Slot::Taken { .. } => "taken".into(),
        Slot::OnWorker(_) => "on a worker".into(),
    }
}

/// Deadlines of one kind, in a FIFO: every one is "now + the same timeout".
#[derive(Debug)]
struct Deadlines {
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
    fn new(timeout: Duration) -> Deadlines {
        Deadlines {
            timeout,
            queue: VecDeque::new(),
        }
    }

    /// Starts the timeout for the connection at `token`, known by `timer`.
    fn push(&mut self, now: Instant, token: Token, timer: u64) {
        self.queue.push_back(Entry {
            at: now + self.timeout,
            token,
            timer,
        });
    }

    /// The earliest deadline, live or stale.
    fn next(&self) -> Option<Instant> {
        self.queue.front().map(|entry| entry.at)
    }

    /// The next entry that has expired by `now`, if any.
    fn pop_expired(&mut self, now: Instant) -> Option<(Token, u64)> {
        match self.queue.front() {
            Some(entry) if entry.at <= now => self.queue.pop_front().map(|e| (e.token, e.timer)),
            _ => None,
        }
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    /// Drops every entry `live` rejects, keeping the order of the rest.
    fn retain(&mut self, mut live: impl FnMut(Token, u64) -> bool) {
        self.queue.retain(|entry| live(entry.token, entry.timer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// Idle 5 s, reading 10 s, writing 30 s, lingering 2 s: the server's defaults.
    fn slots() -> Slots<&'static str> {
        Slots::new(
            Timeouts {
                idle: 5 * SECOND,
                reading: 10 * SECOND,
                reading_body: 60 * SECOND,
                writing: 30 * SECOND,
                lingering: 2 * SECOND,
            },
            16,
        )
    }

    #[test]
    fn a_parked_connection_expires_after_its_state_s_timeout_and_not_before() {
        let start = Instant::now();
        let mut slots = slots();
        let a = slots.reserve();
        slots.park(a, Wait::Idle, "a", start);
        let b = slots.reserve();
        slots.park(b, Wait::Writing, "b", start);
        assert_eq!(slots.idle(), 1);
        assert_eq!(slots.next_deadline(), Some(start + 5 * SECOND));
        assert!(slots.expired(start + 4 * SECOND).is_none());
        assert_eq!(slots.expired(start + 5 * SECOND), Some((a, Wait::Idle, "a")));
        // Taken out by the expiry: no longer idle, and the poller decides what follows.
        assert_eq!(slots.idle(), 0);
        slots.free(a);
        assert!(slots.expired(start + 29 * SECOND).is_none());
        assert_eq!(slots.expired(start + 30 * SECOND), Some((b, Wait::Writing, "b")));
    }

    #[test]
    fn a_connection_that_changed_state_leaves_a_stale_deadline_behind() {
        let start = Instant::now();
        let mut slots = slots();
        let a = slots.reserve();
        slots.park(a, Wait::Idle, "a", start);
        // A request arrives at once and goes to a worker, which hands it back idle later.
        assert_eq!(slots.take(a), Some((Wait::Idle, "a")));
        slots.sent_to_worker(a);
        assert_eq!(slots.back_from_worker(a), Readiness::default());
        slots.park(a, Wait::Idle, "a", start + 3 * SECOND);
        // The first idle deadline (5 s) is stale; the second (8 s) is live.
        assert!(slots.expired(start + 6 * SECOND).is_none());
        assert_eq!(slots.expired(start + 8 * SECOND), Some((a, Wait::Idle, "a")));
    }

    #[test]
    fn a_request_s_timeout_runs_from_its_first_byte_across_reads() {
        let start = Instant::now();
        let mut slots = slots();
        let a = slots.reserve();
        slots.park(a, Wait::Reading, "a", start);
        // More bytes, still not a whole request: back to Reading, same deadline.
        assert_eq!(slots.take(a), Some((Wait::Reading, "a")));
        slots.park(a, Wait::Reading, "a", start + 9 * SECOND);
        assert_eq!(slots.expired(start + 10 * SECOND), Some((a, Wait::Reading, "a")));
        // A reading connection that goes elsewhere and back starts a new one.
        slots.park(a, Wait::Writing, "a", start + 10 * SECOND);
        assert_eq!(slots.take(a), Some((Wait::Writing, "a")));
        slots.park(a, Wait::Reading, "a", start + 11 * SECOND);
        assert!(slots.expired(start + 20 * SECOND).is_none());
        assert_eq!(slots.expired(start + 21 * SECOND), Some((a, Wait::Reading, "a")));
    }

    #[test]
    fn a_lingering_close_ends_on_time_however_much_the_client_sends() {
        let start = Instant::now();
        let mut slots = slots();
        let a = slots.reserve();
        slots.park(a, Wait::Lingering, "a", start);
        for second in 1..=2 {
            assert_eq!(slots.take(a), Some((Wait::Lingering, "a")));
            slots.park(a, Wait::Lingering, "a", start + second * SECOND / 2);
        }
        assert_eq!(slots.expired(start + 2 * SECOND), Some((a, Wait::Lingering, "a")));
    }

    #[test]
    fn the_send_timeout_starts_over_each_time_the_client_takes_bytes() {
        let start = Instant::now();
        let mut slots = slots();
        let a = slots.reserve();
        slots.park(a, Wait::Writing, "a", start);
        assert_eq!(slots.take(a), Some((Wait::Writing, "a")));
        slots.park(a, Wait::Writing, "a", start + 20 * SECOND);
        assert!(slots.expired(start + 49 * SECOND).is_none());
        assert_eq!(slots.expired(start + 50 * SECOND), Some((a, Wait::Writing, "a")));
    }

    #[test]
    fn readiness_on_a_worker_is_kept_for_its_return() {
        let mut slots = slots();
        let a = slots.reserve();
        slots.sent_to_worker(a);
        assert_eq!(slots.on_workers(), 1);
        let readable = Readiness {
            readable: true,
            hung_up: false,
        };
        assert!(slots.event(a, readable).is_none());
        assert!(slots.event(a, readable).is_none());
        assert_eq!(slots.readable_on_workers(), 1);
        let hung_up = Readiness {
            readable: false,
            hung_up: true,
        };
        assert!(slots.event(a, hung_up).is_none());
        assert_eq!(
            slots.back_from_worker(a),
            Readiness {
                readable: true,
                hung_up: true
            }
        );
        assert_eq!((slots.on_workers(), slots.readable_on_workers()), (0, 0));
        // A waiting connection's readiness is the caller's to act on.
        slots.park(a, Wait::Idle, "a", Instant::now());
        assert_eq!(slots.event(a, readable), Some((Wait::Idle, &mut "a")));
        // A slot that is gone hears nothing.
        assert!(slots.event(Token(7), readable).is_none());
    }

    #[test]
    fn stale_deadlines_are_swept_and_stay_proportional_to_the_connections() {
        let now = Instant::now();
        let mut slots = slots();
        let a = slots.reserve();
        for _ in 0..5000 {
            slots.park(a, Wait::Writing, "a", now);
            slots.take(a);
        }
        slots.park(a, Wait::Writing, "a", now);
        assert!(slots.deadlines[Wait::Writing as usize].len() <= 2 * slots.len() + 1024 + 1);
        assert_eq!(slots.expired(now + 30 * SECOND), Some((a, Wait::Writing, "a")));
        assert!(slots.expired(now + 30 * SECOND).is_none());
    }

    #[test]
    fn drain_reports_what_was_cut_off() {
        let now = Instant::now();
        let mut slots = slots();
        for wait in [Wait::Idle, Wait::Reading, Wait::Writing, Wait::Writing, Wait::Lingering] {
            let token = slots.reserve();
            slots.park(token, wait, "c", now);
        }
        let busy = slots.reserve();
        slots.sent_to_worker(busy);
        let quiet = slots.waiting(|wait, _| wait == Wait::Idle);
        assert_eq!(quiet.len(), 1);
        let left = slots.drain();
        assert_eq!(
            (left.reading, left.writing, left.lingering, left.on_worker),
            (1, 2, 1, 1)
        );
        assert!(slots.is_empty());
        assert_eq!((slots.idle(), slots.on_workers()), (0, 0));
    }
}
