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
//! gives all of its own back. Bytes held in memory are a budget too
//! (`CACHE_BYTES`, compressed forms included): a file that does not fit makes room
//! by evicting the least recently used entries that hold bytes.
//!
//! An entry holds every representation of its file: the file as it is, its
//! precompressed siblings (`app.js.br`, `.zst`, `.gz`) found when it was admitted,
//! and the gzip and brotli forms of a small text file, compressed once here. The
//! siblings are part of what identifies the entry, so a name whose siblings differ
//! (a link `b.js` to `a.js`, beside `a.js.gz` only) has an entry of its own.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::compress;
use super::conditional::Validators;
use super::encoding::{choose, AcceptEncoding, Coding};
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

/// What an entry is the cache's copy of: a file, the siblings that were found
/// beside it (coding, device and inode each), and whether it was to be
/// compressed (which depends on the type of the name that admitted it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EntryKey {
    file: FileId,
    siblings: Box<[(Coding, FileId)]>,
    compress: bool,
}

/// Which version of an entry: the file's and every sibling's [`Identity`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    file: Identity,
    siblings: Box<[Identity]>,
}

/// A file just opened and found servable, with its precompressed siblings: what
/// [`FileCache::admit`] caches.
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) file: File,
    /// `fstat` of `file`.
    pub(super) metadata: Metadata,
    pub(super) siblings: Vec<Sibling>,
}

/// A precompressed sibling of a file, opened beneath the root, in `coding`.
#[derive(Debug)]
pub(super) struct Sibling {
    pub(super) coding: Coding,
    pub(super) file: File,
    pub(super) metadata: Metadata,
}

/// How a file is to be held: the settings of the [`StaticFiles`](super::StaticFiles)
/// admitting it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Policy {
    /// Files (and siblings) up to this size are read into memory.
    pub(super) in_memory_up_to: u64,
    /// Whether a file held in memory is compressed (gzip, brotli) when admitted:
    /// compression is on and the name's type is text.
    pub(super) compress: bool,
}

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
    files: HashMap<EntryKey, Arc<CachedFile>>,
    /// Request paths (normalised, see `RequestPath::key`) to the file they led to.
    names: HashMap<Box<str>, Name>,
    /// How many descriptors `files` hold; at most `max_open`.
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

    /// An empty cache with the same descriptor budget as this one.
    pub(super) fn empty_like(&self) -> FileCache {
        FileCache::with_max_open(self.max_open)
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

    /// Caches what `key` now leads to: the file `opened`, with the precompressed
    /// siblings found beside it. If the same version of that file is cached
    /// already (under another name, or by another worker just now), that entry is
    /// shared and the files closed. `stale` is what `key` led to before, dropped
    /// if it is not this.
    pub(super) fn admit(
        &self,
        key: &str,
        media_type: MediaType,
        opened: Opened,
        policy: Policy,
        stale: Option<&Arc<CachedFile>>,
    ) -> io::Result<Arc<CachedFile>> {
        let version = version(&opened.metadata, &opened.siblings)?;
        // Whether compressing could apply at all: only then do two names of one
        // file (`a.txt`, a link `a.bin`) need entries of their own.
        let size = opened.metadata.len();
        let policy = Policy {
            compress: policy.compress && (compress::MIN_SIZE..=policy.in_memory_up_to).contains(&size),
            ..policy
        };
        let entry_key = EntryKey {
            file: (version.file.0, version.file.1),
            siblings: opened
                .siblings
                .iter()
                .zip(&version.siblings)
                .map(|(sibling, identity)| (sibling.coding, (identity.0, identity.1)))
                .collect(),
            compress: policy.compress,
        };
        let now = self.now();
        {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = entries
                .files
                .get(&entry_key)
                .filter(|existing| existing.version == version)
            {
                let existing = Arc::clone(existing);
                existing.checked.store(now, Ordering::Relaxed);
                entries.link(key, &existing, media_type);
                return Ok(existing);
            }
        }

        // Read (and compress) outside the lock: other workers go on serving meanwhile.
        let loaded = Arc::new(self.load(entry_key, version, opened, policy, now)?);

        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(stale) = stale {
            entries.remove_if_same(stale, &self.bytes);
        }
        if let Some(old) = entries.files.get(&loaded.key).cloned() {
            entries.remove_if_same(&old, &self.bytes);
        }
        entries.files.insert(loaded.key.clone(), Arc::clone(&loaded));
        entries.open += loaded.descriptors();
        entries.link(key, &loaded, media_type);
        entries.evict_beyond(CACHE_ENTRIES, self.max_open, &self.bytes);
        Ok(loaded)
    }

    /// Learns what is needed about an opened file and its siblings; reads those
    /// to be held in memory, and compresses the file if `policy` says so.
    fn load(
        &self,
        key: EntryKey,
        version: Version,
        opened: Opened,
        policy: Policy,
        now: u64,
    ) -> io::Result<CachedFile> {
        let Opened {
            file,
            metadata,
            siblings,
        } = opened;
        let metadata = &metadata;
        let modified = version.file.3;
        let plain = self.representation(
            Coding::Identity,
            file,
            metadata,
            Validators::new(modified, metadata.len()),
            policy,
        )?;
        let mut representations = vec![];
        for (sibling, identity) in siblings.into_iter().zip(&version.siblings) {
            let validators = Validators::of_coding(identity.3, identity.2, Some(sibling.coding.token()));
            match self.representation(sibling.coding, sibling.file, &sibling.metadata, validators, policy) {
                Ok(representation) => representations.push(representation),
                // The file itself can still be served; the next revalidation tries again.
                Err(error) => log::debug!("precompressed sibling ({}): {error}", sibling.coding.token()),
            }
        }
        if let (true, Content::InMemory(bytes)) = (policy.compress, &plain.content) {
            for coding in [Coding::Brotli, Coding::Gzip] {
                if representations
                    .iter()
                    .any(|representation| representation.coding == coding)
                {
                    // The operator's own file wins over ours.
                    continue;
                }
                let Some(compressed) = compress::compress(coding, bytes) else {
                    continue;
                };
                if self.reserve_bytes(compressed.len() as u64) {
                    representations.push(Representation {
                        coding,
                        size: compressed.len() as u64,
                        validators: Validators::of_coding(modified, plain.size, Some(coding.token())),
                        content: Content::InMemory(Bytes::from(compressed)),
                    });
                }
            }
        }
        representations.insert(0, plain);
        Ok(CachedFile {
            key,
            version,
            representations: representations.into_boxed_slice(),
            checked: AtomicU64::new(now),
            used: AtomicU64::new(now),
            retired: AtomicBool::new(false),
        })
    }

    /// One representation of a file: read into memory if it is small enough and
    /// the budget has room, kept open to be sent from disk if not.
    fn representation(
        &self,
        coding: Coding,
        file: File,
        metadata: &Metadata,
        validators: Validators,
        policy: Policy,
    ) -> io::Result<Representation> {
        let size = metadata.len();
        let in_memory = policy.in_memory_up_to > 0 && size <= policy.in_memory_up_to && self.reserve_bytes(size);
        let content = if in_memory {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            let read = io::Read::read_to_end(&mut &file, &mut bytes);
            // Give back what was reserved and not kept (a read error, or a file
            // that changed length while it was read).
            let kept = match &read {
                Ok(_) if bytes.len() as u64 == size => size,
                _ => 0,
            };
            self.bytes.fetch_sub(size - kept, Ordering::Relaxed);
            read?;
            if kept == size {
                Content::InMemory(Bytes::from(bytes))
            } else {
                // Changed while it was read: serve it from disk this time.
                Content::OnDisk(Arc::new(file))
            }
        } else {
            Content::OnDisk(Arc::new(file))
        };
        Ok(Representation {
            coding,
            size,
            validators,
            content,
        })
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
            .filter(|file| file.descriptors() > 0)
            .cloned()
            .collect();
        for file in &open {
            entries.remove_if_same(file, &self.bytes);
        }
        open.len()
    }

    /// Takes `n` bytes of the in-memory budget, evicting the least recently used
    /// entries that hold bytes if there are not that many left; false only if `n`
    /// is more than the whole budget.
    ///
    /// A full budget must not keep a file out of memory for good: a file admitted
    /// then would stay on disk, and uncompressed, for as long as its entry lives,
    /// however often it is asked for.
    fn reserve_bytes(&self, n: u64) -> bool {
        let reserve = || {
            self.bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                    held.checked_add(n).filter(|&total| total <= CACHE_BYTES)
                })
                .is_ok()
        };
        if n > CACHE_BYTES {
            return false;
        }
        if reserve() {
            return true;
        }
        // Room for this file and a little more, so that a cache at its limit does
        // not sort its entries for every file it admits.
        let room = n.saturating_add(CACHE_BYTES / 16).min(CACHE_BYTES);
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .evict_bytes_beyond(CACHE_BYTES - room, &self.bytes);
        reserve()
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

    /// Removes `file` if it is the cached entry for its key, and retires it so
    /// that no name finds it again.
    fn remove_if_same(&mut self, file: &Arc<CachedFile>, bytes: &AtomicU64) {
        if self
            .files
            .get(&file.key)
            .is_some_and(|cached| Arc::ptr_eq(cached, file))
        {
            self.files.remove(&file.key);
            file.retired.store(true, Ordering::Relaxed);
            bytes.fetch_sub(file.bytes_in_memory(), Ordering::Relaxed);
            self.open -= file.descriptors();
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
            self.evict_oldest(excess, |file| file.descriptors() > 0, bytes);
        }
    }

    /// Evicts the least recently used entries holding file bytes until at most
    /// `max_bytes` are held. Bytes still being sent stay alive until the response
    /// is done; they no longer count against the budget.
    fn evict_bytes_beyond(&mut self, max_bytes: u64, bytes: &AtomicU64) {
        let mut candidates: Vec<(u64, Arc<CachedFile>)> = self
            .files
            .values()
            .filter(|file| file.bytes_in_memory() > 0)
            .map(|file| (file.used.load(Ordering::Relaxed), Arc::clone(file)))
            .collect();
        candidates.sort_unstable_by_key(|(used, _)| *used);
        for (_, file) in candidates {
            if bytes.load(Ordering::Relaxed) <= max_bytes {
                break;
            }
            self.remove_if_same(&file, bytes);
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
    /// What this entry is the copy of.
    key: EntryKey,
    /// Which version of the file and its siblings.
    version: Version,
    /// The file as it is first, then its other codings (at most one each).
    representations: Box<[Representation]>,
    /// When the disk was last asked about it (ms on the cache's clock).
    checked: AtomicU64,
    /// When a request last used it (ms on the cache's clock), for eviction.
    used: AtomicU64,
    /// Dropped from the cache: found stale, or evicted. A name that still finds it
    /// (through a response in flight keeping it alive) must ask the disk.
    retired: AtomicBool,
}

/// One representation of a file (RFC 9110 §3.2): the bytes sent for a coding.
#[derive(Debug)]
pub(super) struct Representation {
    /// How the bytes are encoded; `Identity` for the file as it is.
    pub(super) coding: Coding,
    pub(super) size: u64,
    pub(super) validators: Validators,
    content: Content,
}

#[derive(Debug)]
enum Content {
    InMemory(Bytes),
    OnDisk(Arc<File>),
}

impl Representation {
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
}

impl CachedFile {
    /// The file as it is, with no content coding.
    pub(super) fn plain(&self) -> &Representation {
        &self.representations[0]
    }

    /// The representation `accept` prefers (RFC 9110 §12.5.3), or `None` if it
    /// accepts none of them.
    pub(super) fn negotiate(&self, accept: &AcceptEncoding) -> Option<&Representation> {
        let available = self
            .representations
            .iter()
            .map(|representation| (representation.coding, representation.size));
        choose(accept, available).map(|i| &self.representations[i])
    }

    /// The codings this entry holds besides the file as it is.
    #[cfg(test)]
    pub(super) fn codings(&self) -> Vec<Coding> {
        self.representations[1..]
            .iter()
            .map(|representation| representation.coding)
            .collect()
    }

    fn bytes_in_memory(&self) -> u64 {
        self.representations.iter().map(Representation::bytes_in_memory).sum()
    }

    /// How many descriptors it holds open: one per representation sent from disk.
    fn descriptors(&self) -> usize {
        self.representations
            .iter()
            .filter(|representation| matches!(representation.content, Content::OnDisk(_)))
            .count()
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

    /// Whether `metadata` and `siblings`, just read from the disk, describe this
    /// same version of the file and its siblings; if so, it counts as checked at `now`.
    pub(super) fn revalidate(&self, metadata: &Metadata, siblings: &[Sibling], now: u64) -> bool {
        let same = version(metadata, siblings).is_ok_and(|version| version == self.version)
            && siblings
                .iter()
                .map(|sibling| sibling.coding)
                .eq(self.key.siblings.iter().map(|(coding, _)| *coding));
        if same {
            self.checked.store(now, Ordering::Relaxed);
        }
        same && !self.retired.load(Ordering::Relaxed)
    }
}

fn identity(metadata: &Metadata) -> io::Result<Identity> {
    Ok((metadata.dev(), metadata.ino(), metadata.len(), metadata.modified()?))
}

fn version(metadata: &Metadata, siblings: &[Sibling]) -> io::Result<Version> {
    Ok(Version {
        file: identity(metadata)?,
        siblings: siblings
            .iter()
            .map(|sibling| identity(&sibling.metadata))
            .collect::<io::Result<_>>()?,
    })
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
            let policy = Policy {
                in_memory_up_to,
                compress: false,
            };
            admit(cache, &self.dir.join(i.to_string()), &i.to_string(), "a.txt", policy)
        }
    }

    /// Admits the file at `path` under `name`, with no siblings, typed as `typed_as`.
    fn admit(cache: &FileCache, path: &Path, name: &str, typed_as: &str, policy: Policy) -> Arc<CachedFile> {
        let file = File::open(path).unwrap();
        let metadata = file.metadata().unwrap();
        let opened = Opened {
            file,
            metadata,
            siblings: Vec::new(),
        };
        cache
            .admit(name, media_type(Path::new(typed_as)), opened, policy, None)
            .unwrap()
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
            let policy = Policy {
                in_memory_up_to: 0,
                compress: false,
            };
            let cached = admit(&cache, &path, name, "a.txt", policy);
            let first = first.get_or_insert_with(|| Arc::clone(&cached));
            assert!(Arc::ptr_eq(first, &cached), "{name} got an entry of its own");
        }
        assert_eq!(cache.counts(), (1, 1));
    }

    #[test]
    fn compressed_forms_count_against_the_memory_budget() {
        let files = Files::new("compressed", 0, 0);
        std::fs::write(files.dir.join("0"), "p { margin: 0; }\n".repeat(200)).unwrap();
        let cache = FileCache::with_max_open(16);
        let plain_len = std::fs::metadata(files.dir.join("0")).unwrap().len();
        let policy = Policy {
            in_memory_up_to: 64 * 1024,
            compress: true,
        };
        let cached = admit(&cache, &files.dir.join("0"), "0", "a.css", policy);
        assert_eq!(cached.codings(), [Coding::Brotli, Coding::Gzip]);
        let held: u64 = cached
            .representations
            .iter()
            .map(|representation| representation.size)
            .sum();
        assert!(held > plain_len, "the compressed forms are held too");
        assert_eq!(cache.bytes.load(Ordering::Relaxed), held);
        cache.forget("0", &cached);
        assert_eq!(cache.bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_full_memory_budget_evicts_the_least_recently_used_bytes() {
        // 40 files of 1 MiB (sparse: nothing written) against a 32 MiB budget.
        let files = Files::new("bytes-budget", 0, 0);
        for i in 0..40 {
            let file = File::create(files.dir.join(i.to_string())).unwrap();
            file.set_len(1 << 20).unwrap();
        }
        let cache = FileCache::with_max_open(16);
        for i in 0..40 {
            let file = files.admit(&cache, i, 2 << 20);
            file.used.store(i as u64 + 1, Ordering::Relaxed);
            assert!(
                cache.bytes.load(Ordering::Relaxed) <= CACHE_BYTES,
                "over budget at file {i}"
            );
            // Held in memory, not sent from disk because older files filled the budget.
            assert_eq!(file.bytes_in_memory(), 1 << 20, "file {i}");
            assert_eq!(cache.counts().1, 0, "file {i} holds a descriptor");
        }
        assert!(cache.lookup("0").is_none(), "the oldest file was kept");
        assert!(cache.lookup("39").is_some(), "the newest file was evicted");
        let held: u64 = (0..40)
            .filter_map(|i| cache.lookup(&i.to_string()))
            .map(|hit| hit.file.bytes_in_memory())
            .sum();
        assert_eq!(held, cache.bytes.load(Ordering::Relaxed));
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
