//! What compressing a file for the cache costs in memory, over a real socket.
//!
//! A text file is compressed (gzip, brotli) once, by the worker that admits it to
//! the cache. The encoders' working memory is on top of the cache's 32 MiB budget,
//! once per worker compressing at the same moment, and the allocator keeps what a
//! thread has used: it must be in proportion to the file, not to the largest file
//! brotli could handle. This binary counts every byte allocated (one test, so no
//! other test's allocations are counted) and compares the peak with what was live
//! just before the request.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use nioserve::{Server, StaticFiles};
use support::{scratch_dir, start, Client};

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is passed on to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn compressing_a_small_script_takes_memory_in_proportion_to_it() {
    let dir = scratch_dir("compress-memory");
    let root = dir.path();
    // 26 KB of JavaScript: above brotli's 4 KiB input buffer, within the default
    // 64 KiB held in memory.
    let script: String = (0..800)
        .map(|i| format!("export const v{i} = f({i}, 'x');\n"))
        .collect();
    assert!((16_000..64_000).contains(&script.len()), "{}", script.len());
    fs::write(root.join("app.js"), &script).expect("write app.js");
    fs::write(root.join("warm.txt"), "warm").expect("write warm.txt");

    let handle = start(Server::builder().workers(1), StaticFiles::new(root).expect("root"));
    let mut client = Client::connect(handle.local_addr());
    // Buffers and pools of the server and the client, made before counting.
    assert_eq!(client.get("/warm.txt").status, 200);

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    client.send(b"GET /app.js HTTP/1.1\r\nHost: test\r\nAccept-Encoding: br\r\n\r\n");
    let reply = client.reply();
    let peak = PEAK.load(Ordering::Relaxed) - before;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-encoding"), Some("br"));
    // The file, its two forms, the encoders' state for a file this size: 1.8 MB
    // when this was written. A brotli window sized for 4 MiB inputs made it 10 MB.
    assert!(
        peak < 3 << 20,
        "serving a {}-byte script took {peak} bytes at the peak",
        script.len()
    );
}
