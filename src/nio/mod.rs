//! The NIO model: one poller thread holds every connection that waits, a small fixed
//! pool of workers runs requests.
//!
//! - [`poller`]: the loop: accepts, reads and parses, writes what the socket would not
//!   take, times out, closes. It never runs handler code.
//! - [`slots`]: the table of connections, their states and deadlines.
//! - [`handoff`]: what the poller and the workers exchange, and the wake-up between them.
//! - [`worker`]: the pool, and what a worker does with one connection.
//!
//! A connection whose request is complete moves, by value, to a worker, which runs the
//! handler, writes the response and hands it back as soon as it would have to wait.

mod bodies;
mod handoff;
mod poller;
pub(crate) mod slots;
mod worker;

use std::io;
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;

use mio::{Interest, Poll, Waker};

pub(crate) use self::handoff::Handoff;
use self::poller::{Poller, LISTENER, WAKER};
use crate::access::Sink;
use crate::config::Config;
use crate::handler::Handler;
use crate::service::Responder;
use crate::shutdown::ServerThread;
use crate::stats::Counters;

/// Starts the poller and the worker pool; returns what wakes the poller, and the threads
/// (the poller first: its exit is what ends the workers).
pub(crate) fn spawn<H: Handler>(
    listener: TcpListener,
    responder: Responder<H>,
    config: &Config,
    counters: &Counters,
    shutting_down: &Arc<AtomicBool>,
    access: &Sink,
) -> io::Result<(Arc<Handoff>, Vec<ServerThread>)> {
    listener.set_nonblocking(true)?;
    let mut listener = mio::net::TcpListener::from_std(listener);
    let poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let (handoff, poller_ends, worker_ends) = handoff::handoff(
        waker,
        poll.registry().try_clone()?,
        Arc::clone(shutting_down),
        counters.clone(),
    );

    // If anything below fails, dropping the channel ends stops the threads already started.
    let mut threads = worker::spawn_pool(config.workers, config.queue_timeout, &responder, &handoff, worker_ends)?;
    let poller = Poller::new(
        poll,
        listener,
        config,
        Arc::clone(&handoff),
        poller_ends,
        access.clone(),
    );
    threads.insert(
        0,
        thread::Builder::new()
            .name("nioserve-poller".into())
            .spawn(move || poller.run())?,
    );
    Ok((handoff, threads))
}
