//! What stopping a server leaves behind: the threads to join and the report of what
//! the end of the grace period cut off. Both connection models produce them; the
//! [`ServerHandle`](crate::ServerHandle) collects them.

use std::fmt;
use std::io;
use std::thread::JoinHandle;

/// A thread of a running server; it ends with the error that stopped it, if any.
pub(crate) type ServerThread = JoinHandle<io::Result<()>>;

/// What a [`ServerHandle::shutdown`](crate::ServerHandle::shutdown) had to cut off: the connections still open when
/// the grace period ended, by the state they were in. They were closed.
///
/// In the blocking model every request in flight is waited for, so nothing is cut off.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::time::Duration;
/// use nioserve::{Response, Server};
///
/// let handle = Server::builder()
///     .shutdown_grace(Duration::from_millis(100))
///     .bind("127.0.0.1:0")?
///     .spawn(|_req| Response::new("hi".into()))?;
/// let report = handle.shutdown();
/// if report.cut_off() > 0 {
///     eprintln!("{report}");
/// }
/// assert_eq!(report.to_string(), "no connection was open at the end of the grace period");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Connections whose request had not arrived whole.
    pub reading: usize,
    /// Connections whose response the client had not taken whole.
    pub writing: usize,
    /// Connections on a worker: the handler was still running, or its response was
    /// being written. The worker finishes it; the connection is closed after.
    pub on_worker: usize,
    /// Connections in their lingering close: the last response had been written and
    /// the server was only reading what the client still sent. Nothing was lost.
    pub lingering: usize,
    /// Connections whose response body was still being produced (a stream from
    /// [`Body::channel`](crate::Body::channel)) and had all it had sent written; their
    /// senders now see [`SendError::Closed`](crate::SendError::Closed).
    pub streaming: usize,
}

impl ShutdownReport {
    /// How many requests or responses the end of the grace period cut short: every
    /// connection counted here but the lingering ones.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(nioserve::ShutdownReport::default().cut_off(), 0);
    /// ```
    pub fn cut_off(&self) -> usize {
        self.reading + self.writing + self.on_worker + self.streaming
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = self.cut_off() + self.lingering;
        if open == 0 {
            return f.write_str("no connection was open at the end of the grace period");
        }
        write!(
            f,
            "{open} connections were still open at the end of the grace period and were closed:"
        )?;
        let parts = [
            (self.on_worker, "on a worker"),
            (self.writing, "writing a response"),
            (self.streaming, "streaming a response"),
            (self.reading, "reading a request"),
            (self.lingering, "lingering after their last response"),
        ];
        let mut first = true;
        for (n, what) in parts.into_iter().filter(|(n, _)| *n > 0) {
            write!(f, "{} {n} {what}", if first { "" } else { "," })?;
            first = false;
        }
        Ok(())
    }
}
