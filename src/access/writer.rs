//! The access log's writer thread: lines gathered in memory, written in batches.
//!
//! A worker (or the poller) that finishes a response formats its line and appends it to
//! [`Shared`]'s buffer: a lock held for a read of the clock and one copy of some 80
//! bytes, and nothing else. With 2 to 8 threads appending some 100,000 lines a second
//! the lock is held well under 1 % of the time, so a thread seldom finds it taken, and
//! then only for that copy (a futex spins before it sleeps). No thread but the writer
//! makes a system call for the log, except to wake it: when a batch fills (once per
//! 64 KiB) and when the first line comes after it went to sleep for lack of lines (at
//! most once a second).
//!
//! The writer swaps the buffer for an empty one under the lock and writes the full one
//! outside it, so appending never waits for the sink. A sink slower than the lines come
//! (a terminal being scrolled, a pipe nobody reads, a disk that is full) only lets the
//! buffer grow, to [`MAX_WAITING_BYTES`]; beyond that, lines are dropped and counted,
//! and the writer says so once it can.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::warn;

use crate::stats::Counters;

/// A batch is written once this much is waiting, whatever the time.
pub(crate) const FLUSH_BYTES: usize = 64 * 1024;

/// A line waits at most about this long to be written (nginx's `flush=`).
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Lines waiting beyond this are dropped: what a stuck sink may cost in memory.
pub(crate) const MAX_WAITING_BYTES: usize = 1024 * 1024;

/// After this many flush intervals without a line the writer sleeps until one comes,
/// so that an idle server's writer does not wake ten times a second.
const QUIET_TURNS_BEFORE_SLEEP: u32 = 10;

/// Drops and failed writes are reported at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Finishing waits at least this long for the last batch, whatever the grace period.
const LEAST_FINISH_WAIT: Duration = Duration::from_secs(1);

/// The target of the writer's own warnings: not under `nioserve::access`, so that
/// turning the access lines off in a logger's filter does not hide them.
const REPORT_TARGET: &str = "nioserve::log_writer";

/// The thread's name, short enough for Linux's 15 bytes.
pub(crate) const THREAD_NAME: &str = "nioserve-access";

/// What the appending threads and the writer share.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: a batch filled, a line came while it slept, or the log closes.
    wake: Condvar,
    counters: Counters,
}

#[derive(Debug, Default)]
struct State {
    /// Whole lines, each ending in `\n`, waiting for the writer.
    waiting: Vec<u8>,
    /// The time stamp of the current second.
    stamp: Stamp,
    /// How many lines `waiting` holds.
    lines: u64,
    /// Lines of the batch being written now.
    writing: u64,
    /// The writer sleeps without a deadline: the next line must wake it.
    asleep: bool,
    /// Lines dropped (no room) since the writer last reported.
    unreported: u64,
    /// No more lines are expected: the writer writes what is left, then ends.
    closing: bool,
    /// The writer has ended, or was given up on: nothing appended now would be written.
    gone: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change under the lock leaves it consistent; a panic cannot come between.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a whole line (ending in `\n`) to the writer, stamped `[TIME] ` with the
    /// time it came, or drops and counts it if the writer is that far behind. Never
    /// waits for the sink.
    pub(crate) fn append(&self, line: &[u8]) {
        let mut state = self.lock();
        if state.gone || state.waiting.len() + STAMP_LEN + line.len() > MAX_WAITING_BYTES {
            state.unreported += 1;
            drop(state);
            self.counters.access_log_dropped(1);
            return;
        }
        let before = state.waiting.len();
        // The clock is read under the lock, as the line joins the batch: read before
        // it, a thread that waited for the lock across a change of second would stamp
        // its line a second before the line ahead of it.
        let State { stamp, waiting, .. } = &mut *state;
        stamp.append(SystemTime::now(), waiting);
        waiting.extend_from_slice(line);
        state.lines += 1;
        let filled = before < FLUSH_BYTES && state.waiting.len() >= FLUSH_BYTES;
        let wake = mem::take(&mut state.asleep) || filled;
        drop(state);
        if wake {
            self.wake.notify_one();
        }
    }
}

/// The longest line stamp: `[2026-12-01T04:45:00Z] `.
const STAMP_LEN: usize = 23;

/// A line's stamp, `[TIME] ` in RFC 3339 to the second, UTC (the format of
/// `env_logger`'s own lines), formatted once a second.
#[derive(Debug, Default)]
struct Stamp {
    /// The second since the epoch that `text` names; 0 before the first line.
    second: u64,
    text: String,
}

impl Stamp {
    fn append(&mut self, now: SystemTime, out: &mut Vec<u8>) {
        let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
            // A clock set before 1970, which humantime cannot write (it panics): no stamp.
            return;
        };
        let second = since_epoch.as_secs();
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text.clear();
            if write!(self.text, "[{}] ", humantime::format_rfc3339_seconds(now)).is_err() {
                // Past the year 9999, which RFC 3339 cannot write: no stamp.
                self.text.clear();
            }
        }
        out.extend_from_slice(self.text.as_bytes());
    }
}

/// The writer thread of a running server, owned by its handle.
#[derive(Debug)]
pub(crate) struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Disconnected when the thread ends, however it ends: what finishing waits on, with
    /// a deadline (a `JoinHandle` has none).
    ended: Receiver<()>,
    /// How long finishing waits for a sink that does not take the last batch.
    finish_wait: Duration,
}

impl Writer {
    pub(crate) fn spawn(
        sink: Arc<Mutex<dyn Write + Send>>,
        counters: Counters,
        finish_wait: Duration,
    ) -> io::Result<Writer> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                waiting: Vec::with_capacity(FLUSH_BYTES),
                ..State::default()
            }),
            wake: Condvar::new(),
            counters,
        });
        let (ended_tx, ended) = mpsc::channel::<()>();
        let batches = Batches {
            shared: Arc::clone(&shared),
            sink,
            quiet_turns: 0,
            last_report: None,
            failed: None,
        };
        let thread = thread::Builder::new().name(THREAD_NAME.into()).spawn(move || {
            let _ended = ended_tx;
            batches.run();
        })?;
        Ok(Writer {
            shared,
            thread: Some(thread),
            ended,
            finish_wait: finish_wait.max(LEAST_FINISH_WAIT),
        })
    }

    /// What the appending threads hold.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// No more lines will come (every thread that made them has ended): writes what is
    /// waiting and ends the thread. A sink that takes longer than `finish_wait` is
    /// given up on: the lines it did not take are counted as dropped, and the thread is
    /// left to end when its write returns.
    pub(crate) fn finish(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        match self.ended.recv_timeout(self.finish_wait) {
            Err(RecvTimeoutError::Disconnected) => {
                // The thread has ended (a panic in it was a user sink's, and was caught).
                let _ = thread.join();
            }
            Ok(()) | Err(RecvTimeoutError::Timeout) => {
                let mut state = self.shared.lock();
                let lost = state.lines + state.writing;
                state.gone = true;
                state.lines = 0;
                state.writing = 0;
                state.waiting = Vec::new();
                drop(state);
                self.shared.counters.access_log_dropped(lost);
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The writer thread's side.
struct Batches {
    shared: Arc<Shared>,
    sink: Arc<Mutex<dyn Write + Send>>,
    /// Flush intervals in a row that brought no line.
    quiet_turns: u32,
    last_report: Option<Instant>,
    /// Writes that failed since the last report: how many, their lines, the last error.
    failed: Option<(u64, u64, io::Error)>,
}

impl Batches {
    fn run(mut self) {
        let mut batch = Vec::with_capacity(FLUSH_BYTES);
        while let Some((lines, closing)) = self.next_batch(&mut batch) {
            if !batch.is_empty() {
                self.write(&batch, lines);
            }
            batch.clear();
            let mut state = self.shared.lock();
            state.writing = 0;
            let done = closing && state.waiting.is_empty();
            if done {
                state.gone = true;
            }
            drop(state);
            self.report(done);
            if done {
                return;
            }
        }
    }

    /// Waits until a batch is due (full, a flush interval old, or the log closing),
    /// and swaps it into `batch`. Returns its line count and whether the log closes;
    /// `None` once the writer was given up on.
    fn next_batch(&mut self, batch: &mut Vec<u8>) -> Option<(u64, bool)> {
        let mut state = self.shared.lock();
        loop {
            if state.gone {
                return None;
            }
            if state.closing || state.waiting.len() >= FLUSH_BYTES {
                break;
            }
            if state.waiting.is_empty() && self.quiet_turns >= QUIET_TURNS_BEFORE_SLEEP {
                state.asleep = true;
                state = self.shared.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
                state.asleep = false;
                self.quiet_turns = 0;
                continue;
            }
            let (guard, waited) = self
                .shared
                .wake
                .wait_timeout(state, FLUSH_EVERY)
                .unwrap_or_else(PoisonError::into_inner);
            state = guard;
            if waited.timed_out() {
                if !state.waiting.is_empty() {
                    break;
                }
                self.quiet_turns += 1;
                // A report held back by the rate limit is made even when lines stop.
                drop(state);
                self.report(false);
                state = self.shared.lock();
            }
        }
        self.quiet_turns = 0;
        mem::swap(&mut state.waiting, batch);
        let lines = mem::take(&mut state.lines);
        state.writing = lines;
        Some((lines, state.closing))
    }

    /// Writes one batch of whole lines and flushes the sink. A failure (or a panic in a
    /// user's sink) loses the batch, not the writer.
    fn write(&mut self, batch: &[u8], lines: u64) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let written = panic::catch_unwind(AssertUnwindSafe(|| {
            sink.write_all(batch)?;
            sink.flush()
        }))
        .unwrap_or_else(|_| Err(io::Error::other("the access log's sink panicked")));
        drop(sink);
        if let Err(e) = written {
            // A batch the finishing server gave up on was counted as dropped then; one
            // counted here is not counted again by a finish that gives up later.
            let counted = {
                let mut state = self.shared.lock();
                state.writing = 0;
                state.gone
            };
            if !counted {
                self.shared.counters.access_log_dropped(lines);
            }
            let (writes, lost) = self.failed.take().map_or((0, 0), |(w, l, _)| (w, l));
            self.failed = Some((writes + 1, lost + lines, e));
        }
    }

    /// Says how many lines were dropped and which writes failed since the last report:
    /// at most once a second, unless `now_or_never` (the writer is ending).
    fn report(&mut self, now_or_never: bool) {
        let now = Instant::now();
        if !now_or_never && self.last_report.is_some_and(|at| now < at + REPORT_EVERY) {
            return;
        }
        let dropped = mem::take(&mut self.shared.lock().unreported);
        let failed = self.failed.take();
        if dropped == 0 && failed.is_none() {
            return;
        }
        self.last_report = Some(now);
        if dropped > 0 {
            warn!(
                target: REPORT_TARGET,
                "access log: {dropped} lines dropped, the log's writer did not keep up"
            );
        }
        if let Some((writes, lost, e)) = failed {
            warn!(
                target: REPORT_TARGET,
                "access log: {writes} writes failed, {lost} lines lost; the last error: {e}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_before_1970_leaves_lines_without_a_stamp() {
        let mut stamp = Stamp::default();
        let mut out = Vec::new();
        stamp.append(UNIX_EPOCH - Duration::from_secs(1), &mut out);
        assert!(out.is_empty(), "{out:?}");
        stamp.append(UNIX_EPOCH + Duration::from_secs(1), &mut out);
        assert_eq!(out, b"[1970-01-01T00:00:01Z] ");
    }

    /// A sink that keeps every batch.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>);

    impl Write for Kept {
        fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("kept").extend_from_slice(batch);
            Ok(batch.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn stamps_never_go_back_when_threads_race_across_a_second() {
        let kept = Kept::default();
        let mut writer = Writer::spawn(
            Arc::new(Mutex::new(kept.clone())),
            Counters::new(1),
            Duration::from_secs(5),
        )
        .expect("writer");
        let shared = writer.shared();
        // Eight threads append as fast as they can from just before a change of the
        // second to just after it, twice.
        let margin = Duration::from_millis(20);
        for _ in 0..2 {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
            let next = UNIX_EPOCH + Duration::from_secs(now.as_secs() + 1);
            thread::scope(|scope| {
                for _ in 0..8 {
                    scope.spawn(|| {
                        if let Ok(early) = (next - margin).duration_since(SystemTime::now()) {
                            thread::sleep(early);
                        }
                        while SystemTime::now() < next + margin {
                            shared.append(b"x\n");
                        }
                    });
                }
            });
        }
        writer.finish();
        let text = String::from_utf8(kept.0.lock().expect("kept").clone()).expect("UTF-8");
        let mut last = "";
        for line in text.lines() {
            let stamp = line.split_once("] ").expect("a stamp").0;
            assert!(stamp >= last, "{stamp} after {last}");
            last = stamp;
        }
    }
}
