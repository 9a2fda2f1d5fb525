//! [`ShutdownTrigger`]: what starts a server's graceful shutdown, from any thread.
//!
//! Shutdown is one flag that every thread of the server looks at, and, in the NIO model,
//! a wake-up for the poller, which may be asleep in `poll()`. The trigger holds just
//! those two; the poller's arrives when the server starts, so that a trigger made
//! before [`Server::serve`](crate::Server::serve) still reaches it.

use std::fmt;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use log::error;

use crate::nio::Handoff;

/// Starts the graceful shutdown of a server, from any thread, without waiting for it.
///
/// Get one from [`Server::trigger`](crate::Server::trigger) before the server runs
/// (the way to stop [`Server::serve`](crate::Server::serve)), or from
/// [`ServerHandle::trigger`](crate::ServerHandle::trigger) once it runs. Clones start
/// the same server's shutdown. [`trigger`](ShutdownTrigger::trigger) only sets a flag
/// and wakes the poller (a write to an `eventfd` on Linux): no lock, no allocation,
/// nothing that blocks. That makes it safe on a thread that waits for signals (such
/// as `signal_hook::iterator::Signals`); it is not meant for the signal handler itself.
///
/// The shutdown is the one [`ServerHandle::shutdown`](crate::ServerHandle::shutdown)
/// describes: accepting stops, idle connections close, requests in flight get
/// [`Builder::shutdown_grace`](crate::Builder::shutdown_grace) to finish. Whoever waits
/// for the server ([`serve`](crate::Server::serve),
/// [`ServerHandle::wait`](crate::ServerHandle::wait)) gets the report.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::thread;
/// use nioserve::{Response, Server};
///
/// let server = Server::builder().bind("127.0.0.1:0")?;
/// let trigger = server.trigger();
/// let stopper = thread::spawn(move || trigger.trigger()); // a signal thread, say
/// let report = server.serve(|_req| Response::new("hi".into()))?;
/// assert_eq!(report.cut_off(), 0);
/// # stopper.join().unwrap();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ShutdownTrigger {
    /// Set once shutdown begins; every thread of the server looks at it.
    shutting_down: Arc<AtomicBool>,
    /// The NIO poller's wake-up, set once when the server starts; never set in the
    /// blocking model, whose threads look at the flag by themselves.
    poller: Arc<OnceLock<Arc<Handoff>>>,
}

impl ShutdownTrigger {
    pub(crate) fn new() -> ShutdownTrigger {
        ShutdownTrigger {
            shutting_down: Arc::new(AtomicBool::new(false)),
            poller: Arc::new(OnceLock::new()),
        }
    }

    /// The flag the server's threads look at.
    pub(crate) fn flag(&self) -> &Arc<AtomicBool> {
        &self.shutting_down
    }

    /// The server started with this poller: a trigger fired from now on wakes it, and
    /// one fired already does too.
    pub(crate) fn attach(&self, handoff: Arc<Handoff>) {
        let handoff = Arc::clone(self.poller.get_or_init(|| handoff));
        // Pairs with the fence in `trigger`: either it sees the poller and wakes it,
        // or this sees the flag set and wakes it.
        fence(Ordering::SeqCst);
        if self.shutting_down.load(Ordering::SeqCst) {
            wake(&handoff);
        }
    }

    /// Starts the graceful shutdown and returns at once. Firing it again, or after the
    /// server stopped, does nothing more.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{Response, Server};
    ///
    /// let handle = Server::builder().bind("127.0.0.1:0")?.spawn(|_req| Response::new("hi".into()))?;
    /// let trigger = handle.trigger();
    /// trigger.trigger();
    /// trigger.clone().trigger();
    /// let report = handle.wait()?;
    /// assert_eq!(report.cut_off(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn trigger(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        // Pairs with the fence in `attach`.
        fence(Ordering::SeqCst);
        if let Some(handoff) = self.poller.get() {
            wake(handoff);
        }
    }

    /// Whether shutdown has begun: this trigger, a clone of it, or the server's
    /// [`shutdown`](crate::ServerHandle::shutdown) started it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let server = nioserve::Server::builder().bind("127.0.0.1:0")?;
    /// let trigger = server.trigger();
    /// assert!(!trigger.is_triggered());
    /// trigger.trigger();
    /// assert!(trigger.is_triggered());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

fn wake(handoff: &Handoff) {
    if let Err(e) = handoff.begin_shutdown() {
        error!("waking the poller for shutdown failed: {e}");
    }
}

impl fmt::Debug for ShutdownTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownTrigger")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}
