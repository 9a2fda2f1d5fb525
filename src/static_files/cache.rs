//! The open-file cache, like nginx's `open_file_cache`: what was learned about a
//! file (its validators, its bytes if small, an open descriptor if not), shared by
//! every worker.
//!
//! Entries are keyed by the file a name resolved to — its device and inode — so
//! however many names or spellings lead to one file, it is held once, with at most
//! one descriptor. A second, cheap map takes a request's normalised path to its
//! file without asking the disk; it holds no descriptor, only a weak reference.
//!
//! Descriptors are a budget the cache shares with every socket the server
//! accepts, so it holds at most a share of `RLIMIT_NOFILE` of them and evicts the
//! least recently used beyond it; an entry whose file is found gone or replaced is
//! dropped at once (its descriptor closes when the last response using it is sent);
//! and when the process runs out of descriptors, [`FileCache::release_descriptors`]
//! gives all of its own back.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::conditional::Validators;
use super::media_type::MediaType;
use crate::{Body, FileRegion};

/// At most this many files are cached, and this many request paths remembered.
pub(super) const CACHE_ENTRIES: usize = 4096;

/// At most this many file bytes are held in memory across the cache.
pub(super) const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// The share of the process's soft `RLIMIT_NOFILE` the cache may hold open: the
/// rest is for connections, files being sent and the server's own.
const DESCRIPTOR_SHARE: u64 = 4;

/// Which file: a device and an inode.
type FileId = (u64, u64);

/// Which version of a file: its device, inode, size and modification time.
type Identity = (u64, u64, u64, SystemTime);

/// The cache shared by a [`StaticFiles`](super::StaticFiles) and its clones.
#[derive(Debug)]
pub(super) struct FileCache {
    entries: RwLock<Entries>,
    /// File bytes held in memory, against `CACHE_BYTES`; reserved before a file is read.
    bytes: AtomicU64,
    /// Descriptors the cache may hold open at once.
    max_open: usize,
    /// What `CachedFile`'s times are counted from.
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    /// The cached files, by what they are.
    files: HashMap<FileId, Arc<CachedFile>>,
    /// Request paths (normalised, see `RequestPath::key`) to the file they led to.
    names: HashMap<Box<str>, Name>,
    /// How many of `files` hold a descriptor; at most `max_open`.
    open: usize,
}

/// What a request path led to.
#[derive(Debug)]
struct Name {
    file: Weak<CachedFile>,
    /// From the name asked for, not the file's: `/a.txt` and a link `/a.css` to it
    /// share the file, not the type.
    media_type: MediaType,
}

/// A cached file as one request path finds it.
#[derive(Debug)]
pub(super) struct Hit {
    pub(super) file: Arc<CachedFile>,
    pub(super) media_type: MediaType,
}

impl FileCache {
    /// An empty cache holding at most a quarter of the process's soft
    /// `RLIMIT_NOFILE` in descriptors, as the limit is now (at most `CACHE_ENTRIES`).
    pub(super) fn new() -> FileCache {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let share = limit.map_or(CACHE_ENTRIES as u64, |limit| limit / DESCRIPTOR_SHARE);
        FileCache::with_max_open(usize::try_from(share).unwrap_or(CACHE_ENTRIES).clamp(1, CACHE_ENTRIES))
    }

    fn with_max_open(max_open: usize) -> FileCache {
        FileCache {
            entries: RwLock::default(),
            bytes: AtomicU64::new(0),
            max_open,
            epoch: Instant::now(),
        }
    }

    /// Milliseconds since the cache was made: the clock of `checked` and `used`.
    pub(super) fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The file `key` led to last time, if it is still cached.
    pub(super) fn lookup(&self, key: &str) -> Option<Hit> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let name = entries.names.get(key)?;
        let file = name
            .file
            .upgrade()
            .filter(|file| !file.retired.load(Ordering::Relaxed))?;
        Some(Hit {
            file,
            media_type: name.media_type.clone(),
        })
    }

    /// Caches what `key` now leads to: the open `file`, described by `metadata`.
    /// If the same version of that file is cached already (under another name, or
    /// by another worker just now), that entry is shared and `file` closed.
    /// `stale` is what `key` led to before, dropped if it is not this.
    pub(super) fn admit(
        &self,
        key: &str,
        media_type: MediaType,
        file: File,
        metadata: &Metadata,
        in_memory_up_to: u64,
        stale: Option<&Arc<CachedFile>>,
    ) -> io::Result<Arc<CachedFile>> {
        let identity = identity(metadata)?;
        let id = (identity.0, identity.1);
        let now = self.now();
        {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = entries.files.get(&id).filter(|existing| existing.identity == identity) {
                let existing = Arc::clone(existing);
                existing.checked.store(now, Ordering::Relaxed);
                entries.link(key, &existing, media_type);
                return Ok(existing);
            }
        }

        // Read outside the lock: other workers go on serving meanwhile.
        let size = metadata.len();
        let in_memory = in_memory_up_to > 0 && size <= in_memory_up_to && self.reserve_bytes(size);
        let loaded = CachedFile::load(file, identity, metadata, in_memory, now);
        if in_memory {
            // Give back what was reserved and not kept (a read error, or a file
            // that changed length while it was read).
            let kept = loaded.as_ref().map_or(0, CachedFile::bytes_in_memory);
            self.bytes.fetch_sub(size - kept, Ordering::Relaxed);
        }
        let loaded = Arc::new(loaded?);

        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(stale) = stale {
            entries.remove_if_same(stale, &self.bytes);
        }
        if let Some(old) = entries.files.get(&id).cloned() {
            entries.remove_if_same(&old, &self.bytes);
        }
        entries.files.insert(id, Arc::clone(&loaded));
        if loaded.holds_descriptor() {
            entries.open += 1;
        }
        entries.link(key, &loaded, media_type);
        entries.evict_beyond(CACHE_ENTRIES, self.max_open, &self.bytes);
        Ok(loaded)
    }

    /// Forgets `key` and, if it is still the cached version, `file`: revalidation
    /// found the file gone, replaced or no longer servable under this name.
    pub(super) fn forget(&self, key: &str, file: &Arc<CachedFile>) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.names.remove(key);
        entries.remove_if_same(file, &self.bytes);
    }

    /// Closes every descriptor the cache holds (those of responses still being
    /// sent close when they finish); the process ran out. Returns how many
    /// entries were dropped.
    pub(super) fn release_descriptors(&self) -> usize {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let open: Vec<Arc<CachedFile>> = entries
            .files
            .values()
            .filter(|file| file.holds_descriptor())
            .cloned()
            .collect();
        for file in &open {
            entries.remove_if_same(file, &self.bytes);
        }
        open.len()
    }

    /// Takes `n` bytes of the in-memory budget, if there are that many left.
    fn reserve_bytes(&self, n: u64) -> bool {
        self.bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(n).filter(|&total| total <= CACHE_BYTES)
            })
            .is_ok()
    }

    /// How many descriptors the cache may hold.
    #[cfg(test)]
    pub(super) fn max_open(&self) -> usize {
        self.max_open
    }

    /// How many files are cached, and how many of them hold a descriptor.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize) {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        (entries.files.len(), entries.open)
    }
}

impl Entries {
    fn link(&mut self, key: &str, file: &Arc<CachedFile>, media_type: MediaType) {
        if self.names.len() >= CACHE_ENTRIES && !self.names.contains_key(key) {
            // Names cost no descriptor and are quickly relearned: keep those whose
            // file is alive, and start over if that is still too many.
            self.names.retain(|_, name| name.file.strong_count() > 0);
            if self.names.len() >= CACHE_ENTRIES {
                self.names.clear();
            }
        }
        self.names.insert(
            key.into(),
            Name {
                file: Arc::downgrade(file),
                media_type,
            },
        );
    }

    /// Removes `file` if it is the cached entry for its inode, and retires it so
    /// that no name finds it again.
    fn remove_if_same(&mut self, file: &Arc<CachedFile>, bytes: &AtomicU64) {
        let id = (file.identity.0, file.identity.1);
        if self.files.get(&id).is_some_and(|cached| Arc::ptr_eq(cached, file)) {
            self.files.remove(&id);
            file.retired.store(true, Ordering::Relaxed);
            bytes.fetch_sub(file.bytes_in_memory(), Ordering::Relaxed);
            if file.holds_descriptor() {
                self.open -= 1;
            }
        }
    }

    /// Evicts the least recently used entries while there are more than
    /// `max_files`, or more than `max_open` holding a descriptor. A little more
    /// than the excess goes at once, so that a cache at its limit does not scan
    /// its entries on every new file.
    fn evict_beyond(&mut self, max_files: usize, max_open: usize, bytes: &AtomicU64) {
        if self.files.len() > max_files {
            let excess = self.files.len() - max_files + max_files / 16;
            self.evict_oldest(excess, |_| true, bytes);
        }
        if self.open > max_open {
            let excess = self.open - max_open + max_open / 16;
            self.evict_oldest(excess, CachedFile::holds_descriptor, bytes);
        }
    }

    fn evict_oldest(&mut self, count: usize, eligible: impl Fn(&CachedFile) -> bool, bytes: &AtomicU64) {
        let mut candidates: Vec<(u64, Arc<CachedFile>)> = self
            .files
            .values()
            .filter(|file| eligible(file))
            .map(|file| (file.used.load(Ordering::Relaxed), Arc::clone(file)))
            .collect();
        if count < candidates.len() {
            candidates.select_nth_unstable_by_key(count, |(used, _)| *used);
            candidates.truncate(count);
        }
        for (_, file) in candidates {
            self.remove_if_same(&file, bytes);
        }
    }
}

/// What a response about one file needs, learned from the file once.
#[derive(Debug)]
pub(super) struct CachedFile {
    /// What identifies this version of the file.
    identity: Identity,
    pub(super) size: u64,
    pub(super) validators: Validators,
    content: Content,
    /// When the disk was last asked about it (ms on the cache's clock).
    checked: AtomicU64,
    /// When a request last used it (ms on the cache's clock), for eviction.
    used: AtomicU64,
    /// Dropped from the cache: found stale, or evicted. A name that still finds it
    /// (through a response in flight keeping it alive) must ask the disk.
    retired: AtomicBool,
}

#[derive(Debug)]
enum Content {
    InMemory(Bytes),
    OnDisk(Arc<File>),
}

impl CachedFile {
    /// Learns what is needed about an opened file; reads it if it is to be held in memory.
    fn load(file: File, identity: Identity, metadata: &Metadata, in_memory: bool, now: u64) -> io::Result<CachedFile> {
        let size = metadata.len();
        let content = if in_memory {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            io::Read::read_to_end(&mut &file, &mut bytes)?;
            if bytes.len() as u64 != size {
                // Changed while it was read: serve it from disk this time.
                Content::OnDisk(Arc::new(file))
            } else {
                Content::InMemory(Bytes::from(bytes))
            }
        } else {
            Content::OnDisk(Arc::new(file))
        };
        Ok(CachedFile {
            identity,
            size,
            validators: Validators::new(identity.3, size),
            content,
            checked: AtomicU64::new(now),
            used: AtomicU64::new(now),
            retired: AtomicBool::new(false),
        })
    }

    /// The body for bytes `offset .. offset + len`.
    pub(super) fn body(&self, offset: u64, len: u64) -> Body {
        match &self.content {
            Content::InMemory(bytes) => {
                // Offsets were checked against `size`, which is the length of `bytes`.
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
                let end = usize::try_from(offset + len).unwrap_or(usize::MAX).min(bytes.len());
                Body::Bytes(bytes.slice(start..end))
            }
            Content::OnDisk(file) => Body::File(FileRegion::new(Arc::clone(file), offset, len)),
        }
    }

    fn bytes_in_memory(&self) -> u64 {
        match &self.content {
            Content::InMemory(bytes) => bytes.len() as u64,
            Content::OnDisk(_) => 0,
        }
    }

    fn holds_descriptor(&self) -> bool {
        matches!(self.content, Content::OnDisk(_))
    }

    /// Whether it may be served without asking the disk at `now`: it is still
    /// cached, and the disk was asked less than `validity` ago. Marks it used.
    pub(super) fn is_fresh(&self, now: u64, validity: Duration) -> bool {
        // Load first: most hits fall in the millisecond of the last one, and a store
        // would bounce the cache line between workers on every request.
        if self.used.load(Ordering::Relaxed) != now {
            self.used.store(now, Ordering::Relaxed);
        }
        let age = now.saturating_sub(self.checked.load(Ordering::Relaxed));
        !self.retired.load(Ordering::Relaxed) && u128::from(age) < validity.as_millis()
    }

    /// Whether `metadata`, just read from the disk, describes this same version;
    /// if so, it counts as checked at `now`.
    pub(super) fn revalidate(&self, metadata: &Metadata, now: u64) -> bool {
        let same = identity(metadata).is_ok_and(|identity| identity == self.identity);
        if same {
            self.checked.store(now, Ordering::Relaxed);
        }
        same && !self.retired.load(Ordering::Relaxed)
    }
}

fn identity(metadata: &Metadata) -> io::Result<Identity> {
    Ok((metadata.dev(), metadata.ino(), metadata.len(), metadata.modified()?))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::media_type::media_type;
    use super::*;

    /// A cache of at most `max_open` descriptors, and `n` files of `size` bytes
    /// under a fresh directory, removed on drop.
    struct Files {
        dir: std::path::PathBuf,
    }

    impl Files {
        fn new(name: &str, n: usize, size: usize) -> Files {
            let dir = std::env::temp_dir().join(format!("nioserve-cache-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..n {
                std::fs::write(dir.join(i.to_string()), vec![b'x'; size]).unwrap();
            }
            Files { dir }
        }

        fn admit(&self, cache: &FileCache, i: usize, in_memory_up_to: u64) -> Arc<CachedFile> {
            let file = File::open(self.dir.join(i.to_string())).unwrap();
            let metadata = file.metadata().unwrap();
            let media_type = media_type(Path::new("a.txt"));
            cache
                .admit(&i.to_string(), media_type, file, &metadata, in_memory_up_to, None)
                .unwrap()
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn descriptors_held_stay_within_the_budget_least_recently_used_go_first() {
        let files = Files::new("budget", 40, 10);
        let cache = FileCache::with_max_open(16);
        for i in 0..40 {
            // Each file used later than the one before, and file 0 last of all:
            // it must survive every eviction.
            files.admit(&cache, i, 0).used.store(i as u64 + 1, Ordering::Relaxed);
            let zero = cache.lookup("0").expect("file 0 is cached");
            zero.file.used.store(1_000, Ordering::Relaxed);
            let (cached, open) = cache.counts();
            assert!(open <= 16, "{open} descriptors after {i} files");
            assert_eq!(cached, open);
        }
        assert!(cache.lookup("0").is_some(), "the file used all along was evicted");
        assert!(cache.lookup("1").is_none(), "an old file was kept");
        assert!(cache.lookup("39").is_some(), "the newest file was evicted");
    }

    #[test]
    fn the_descriptor_budget_is_a_quarter_of_the_soft_limit() {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let expected = limit.map_or(CACHE_ENTRIES as u64, |limit| (limit / 4).clamp(1, CACHE_ENTRIES as u64));
        assert_eq!(FileCache::new().max_open() as u64, expected);
    }

    #[test]
    fn one_entry_and_one_descriptor_per_file_whatever_the_names() {
        let files = Files::new("names", 1, 10);
        let cache = FileCache::with_max_open(16);
        let path = files.dir.join("0");
        let mut first = None;
        for name in ["a", "b", "c", "d"] {
            let file = File::open(&path).unwrap();
            let metadata = file.metadata().unwrap();
            let media_type = media_type(Path::new("a.txt"));
            let cached = cache.admit(name, media_type, file, &metadata, 0, None).unwrap();
            let first = first.get_or_insert_with(|| Arc::clone(&cached));
            assert!(Arc::ptr_eq(first, &cached), "{name} got an entry of its own");
        }
        assert_eq!(cache.counts(), (1, 1));
    }

    #[test]
    fn released_descriptors_and_memory_budget_are_accounted() {
        let files = Files::new("release", 6, 100);
        let cache = FileCache::with_max_open(16);
        for i in 0..3 {
            let _ = files.admit(&cache, i, 0);
        }
        for i in 3..6 {
            let _ = files.admit(&cache, i, 1000);
        }
        assert_eq!(cache.counts(), (6, 3));
        assert_eq!(cache.bytes.load(Ordering::Relaxed), 300);
        assert_eq!(cache.release_descriptors(), 3);
        assert_eq!(cache.counts(), (3, 0));
        assert!(cache.lookup("0").is_none());
        let kept = cache.lookup("4").unwrap();
        cache.forget("4", &kept.file);
        assert_eq!(cache.bytes.load(Ordering::Relaxed), 200);
        assert!(cache.lookup("4").is_none());
    }
}
