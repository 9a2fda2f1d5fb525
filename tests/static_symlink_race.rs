//! A directory swapped for a symlink to outside the root, over and over, while
//! requests run: no response may ever carry the outside file.
//!
//! `dir` inside the root and a symlink `swap -> <outside>` are exchanged atomically
//! (`renameat2(RENAME_EXCHANGE)`, Linux) in a tight loop, so `dir` alternates between
//! the real directory and a link out of the root. A server that checks a path and
//! then opens it again by name serves the outside file whenever a swap falls between
//! the two; one that opens beneath the root in one step never does.

mod support;

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nioserve::{Server, StaticFiles};
use rustix::fs::{renameat_with, RenameFlags, CWD};
use support::{scratch_dir, start, Client};

/// How long requests run against the swapping loop.
const RUN_FOR: Duration = Duration::from_secs(3);

#[test]
fn a_directory_swapped_for_a_symlink_never_leads_out_of_the_root() {
    let dir = scratch_dir("symlink-race");
    let base = dir.path();
    let root = base.join("root");
    let outside = base.join("outside");
    fs::create_dir_all(root.join("dir")).expect("create root/dir");
    fs::create_dir_all(&outside).expect("create outside");
    let marker = format!("NIOSERVE-OUTSIDE-{}", std::process::id());
    fs::write(root.join("dir/file.txt"), "inside\n").expect("write the inside file");
    fs::write(outside.join("file.txt"), &marker).expect("write the outside file");
    std::os::unix::fs::symlink(&outside, root.join("swap")).expect("symlink out");

    // Every request looks at the disk, so every one can fall into the race.
    let files = StaticFiles::new(&root)
        .expect("static files root")
        .cache_validity(Duration::ZERO);
    let handle = start(Server::builder().workers(2), files);

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = Arc::clone(&stop);
        let (dir, swap) = (root.join("dir"), root.join("swap"));
        thread::spawn(move || {
            let mut swaps = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                renameat_with(CWD, &dir, CWD, &swap, RenameFlags::EXCHANGE).expect("exchange dir and swap");
                swaps += 1;
            }
            swaps
        })
    };

    let mut clients: Vec<Client> = (0..4).map(|_| Client::connect(handle.local_addr())).collect();
    let (mut requests, mut inside, mut leaked) = (0, 0, Vec::new());
    let started = Instant::now();
    while started.elapsed() < RUN_FOR {
        for client in &mut clients {
            client.send(b"GET /dir/file.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        }
        for client in &mut clients {
            let reply = client.reply();
            if reply.closes() {
                // `max_keep_alive_requests` reached.
                *client = Client::connect(handle.local_addr());
            }
            requests += 1;
            match reply.status {
                200 if reply.body == b"inside\n" => inside += 1,
                // The name is a link out at this instant: as if absent.
                404 => {}
                status => leaked.push((status, String::from_utf8_lossy(&reply.body).into_owned())),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("swapper thread");

    assert!(
        leaked.is_empty(),
        "{} of {requests} responses were neither the inside file nor 404 ({swaps} swaps); first: {:?}",
        leaked.len(),
        leaked.first()
    );
    assert!(!leaked.iter().any(|(_, body)| body.contains(&marker)));
    // The race really ran: both sides of the swap were seen.
    assert!(swaps > 1000, "only {swaps} swaps");
    assert!(
        inside > 0 && inside < requests,
        "{inside} of {requests} served the inside file"
    );
}
