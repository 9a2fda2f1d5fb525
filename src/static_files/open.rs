//! Opening a name beneath the root, with no gap between checking where a path
//! leads and opening what is there.
//!
//! A check by name followed by an open by name (`canonicalize`, then `open`) can
//! be raced: a directory swapped for a symlink in between leads the open out of the
//! root. Here every step starts from a descriptor held open: the root's, taken once
//! by [`Root::new`], then those of the directories walked through. On Linux 5.6 and
//! later, `openat2` with `RESOLVE_BENEATH` has the kernel do the whole walk and
//! refuse any step out of the root; elsewhere, or when that refuses an absolute
//! symlink, [`walk`] does it one component at a time with `O_NOFOLLOW`, reading each
//! symlink itself and following it only while its target stays inside.
//!
//! The symlink policy both enforce: a link is followed if its target, resolved
//! component by component from where the link is, never leaves the root; an
//! absolute target counts as inside if it starts with the root's canonical path.
//! Anything else — a link out, or out and back in (`../root/x`) — is not found.
//!
//! The final open is non-blocking (`O_NONBLOCK`), so a FIFO opens at once instead
//! of waiting for a writer, and never makes a terminal the controlling one
//! (`O_NOCTTY`); the caller then serves only regular files and directories.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use http::StatusCode;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{openat, readlinkat, Mode, OFlags, CWD};
use rustix::io::Errno;

/// Symlinks followed in one resolution at most, as Linux's own limit (`ELOOP` beyond).
const MAX_SYMLINKS: usize = 40;

/// How the file or directory a request names is opened.
const OPEN_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);

/// How a directory walked through is opened: only as a place to resolve names
/// from, which on Linux needs no read permission (`O_PATH`), as a path walk does not.
#[cfg(any(target_os = "linux", target_os = "android"))]
const DIR_FLAGS: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

/// The served directory, held open: every name is resolved from this descriptor,
/// so the root cannot be swapped under the server either.
#[derive(Clone, Debug)]
pub(super) struct Root {
    fd: Arc<OwnedFd>,
    /// The root with every symlink resolved, for absolute symlink targets.
    canonical: PathBuf,
}

impl Root {
    /// Opens the directory at `canonical`, a path with no symlinks.
    pub(super) fn new(canonical: PathBuf) -> io::Result<Root> {
        let fd = openat(CWD, &canonical, DIR_FLAGS, Mode::empty())?;
        Ok(Root {
            fd: Arc::new(fd),
            canonical,
        })
    }

    /// Opens what `relative` (plain names only, possibly none) names beneath the root.
    ///
    /// # Errors
    ///
    /// `ENOENT`, `ENOTDIR`, `ELOOP` and the like when nothing is there; `EXDEV`
    /// when the name leads out of the root; `EMFILE`/`ENFILE` when the process or
    /// the system is out of descriptors; `EACCES` when permission is denied.
    pub(super) fn open(&self, relative: &Path) -> io::Result<File> {
        // An empty path names the root itself, which `openat` spells `.`.
        let relative = if relative.as_os_str().is_empty() {
            Path::new(".")
        } else {
            relative
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(opened) = beneath::open(self.fd.as_fd(), relative) {
            return opened.map(File::from).map_err(io::Error::from);
        }
        walk(self.fd.as_fd(), &self.canonical, relative)
            .map(File::from)
            .map_err(io::Error::from)
    }
}

/// `openat2(RESOLVE_BENEATH)`, where the kernel has it.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod beneath {
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fd::{BorrowedFd, OwnedFd};
    use rustix::fs::{openat2, Mode, ResolveFlags};
    use rustix::io::Errno;

    use super::OPEN_FLAGS;

    /// Set once `openat2` is found missing (Linux before 5.6, or filtered out by
    /// a seccomp policy), so it is not tried again.
    static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

    /// How many times a resolution the kernel abandoned because of a concurrent
    /// rename (`EAGAIN`) is tried again before the walk takes over.
    const RETRIES: usize = 3;

    /// The kernel's answer, or `None` when [`walk`](super::walk) must decide:
    /// `openat2` is missing, kept failing with `EAGAIN`, or refused the path
    /// with `EXDEV`, which it also does for any absolute symlink, including one
    /// that leads inside the root.
    pub(super) fn open(root: BorrowedFd<'_>, relative: &Path) -> Option<Result<OwnedFd, Errno>> {
        if UNAVAILABLE.load(Ordering::Relaxed) {
            return None;
        }
        // RESOLVE_NO_MAGICLINKS: a `/proc/<pid>/fd/<n>` link is not a path and
        // could lead anywhere.
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        for _ in 0..RETRIES {
            match openat2(root, relative, OPEN_FLAGS, Mode::empty(), resolve) {
                Err(Errno::AGAIN) => continue,
                Err(Errno::XDEV) => return None,
                // EPERM: a seccomp filter refusing the call (Docker's default did).
                Err(Errno::NOSYS | Errno::PERM) => {
                    UNAVAILABLE.store(true, Ordering::Relaxed);
                    return None;
                }
                result => return Some(result),
            }
        }
        None
    }
}

/// Opens `relative` beneath `root` one component at a time, following only the
/// symlinks whose targets stay inside (the policy in the module docs).
///
/// Each directory is opened with `O_NOFOLLOW` relative to the one before, and the
/// descriptors are kept on a stack: `..` in a symlink target pops one, and popping
/// the root itself means the target leads out. No name is ever resolved by the
/// kernel across more than one component, so a concurrent rename can change what a
/// name finds, never where the walk is.
pub(super) fn walk(root: BorrowedFd<'_>, canonical_root: &Path, relative: &Path) -> Result<OwnedFd, Errno> {
    // Directories below the root, the innermost last.
    let mut dirs: Vec<OwnedFd> = Vec::new();
    // Components still to resolve, the next one last.
    let mut pending: Vec<PathBuf> = Vec::new();
    push_components(&mut pending, relative);
    let mut links = 0;

    while let Some(name) = pending.pop() {
        let name = name.as_os_str();
        if name == ".." {
            if dirs.pop().is_none() {
                return Err(Errno::XDEV);
            }
            continue;
        }
        let dir = dirs.last().map_or(root, AsFd::as_fd);
        let last = pending.is_empty();
        let flags = if last { OPEN_FLAGS } else { DIR_FLAGS };
        match openat(dir, name, flags | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(fd) if last => return Ok(fd),
            Ok(fd) => dirs.push(fd),
            // A symlink refuses O_NOFOLLOW with ELOOP (Linux, macOS), EMLINK
            // (FreeBSD) or, where a directory was asked for, ENOTDIR.
            Err(error @ (Errno::LOOP | Errno::MLINK | Errno::NOTDIR)) => {
                let Ok(target) = readlinkat(dir, name, Vec::new()) else {
                    return Err(error);
                };
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::LOOP);
                }
                let target = PathBuf::from(std::ffi::OsString::from_vec(target.into_bytes()));
                if target.is_absolute() {
                    let inside = target.strip_prefix(canonical_root).map_err(|_| Errno::XDEV)?;
                    dirs.clear();
                    push_components(&mut pending, inside);
                } else {
                    push_components(&mut pending, &target);
                }
            }
            Err(error) => return Err(error),
        }
    }
    // Nothing was left to open as the last component: the path named the root
    // or ended in `..`, a directory already walked to.
    openat(dirs.last().map_or(root, AsFd::as_fd), ".", OPEN_FLAGS, Mode::empty())
}

/// Pushes the components of `path` onto `pending` so that the first is popped first.
fn push_components(pending: &mut Vec<PathBuf>, path: &Path) {
    let start = pending.len();
    for component in path.components() {
        match component {
            Component::Normal(name) => pending.push(PathBuf::from(name)),
            Component::ParentDir => pending.push(PathBuf::from("..")),
            // `.` names the directory it is in; a root or prefix was stripped or
            // cannot occur in a relative Unix path.
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    pending[start..].reverse();
}

/// Whether an error from [`Root::open`] means the process or the system has no
/// file descriptor left to give.
pub(super) fn is_out_of_descriptors(error: &io::Error) -> bool {
    error
        .raw_os_error()
        .is_some_and(|code| code == Errno::MFILE.raw_os_error() || code == Errno::NFILE.raw_os_error())
}

/// The status for an error from opening or reading what a request names; `path`
/// is only for the log line.
pub(super) fn status_for_io_error(path: &Path, error: &io::Error) -> StatusCode {
    if is_out_of_descriptors(error) {
        // Not the file's fault, and passing (the caller has already given back the
        // descriptors it could): 503, not 500.
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let leads_nowhere = error.raw_os_error().is_some_and(|code| {
        [
            // A file used as a directory, a name too long, too many links or a
            // link that leads out of the root: all "no such file" to a client.
            Errno::NOTDIR,
            Errno::NAMETOOLONG,
            Errno::LOOP,
            Errno::XDEV,
            // A socket (or a device with no driver) cannot be opened as a file.
            Errno::NXIO,
            Errno::NODEV,
        ]
        .iter()
        .any(|errno| errno.raw_os_error() == code)
    });
    match error.kind() {
        _ if leads_nowhere => StatusCode::NOT_FOUND,
        io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => {
            log::warn!("static files: {}: {error}", path.display());
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// The name of a directory entry as UTF-8, if it is.
pub(super) fn utf8_name(name: &[u8]) -> Option<&str> {
    OsStr::from_bytes(name).to_str()
}
