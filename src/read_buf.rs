//! A connection's read buffer: initialised once and reused, so reading never zeroes
//! memory; requests are consumed from its front while reads append at its back.
//! Both connection models read into one.

use std::io::{self, Read};

use crate::h1::request::Progress;

/// A read buffer that is initialised once and reused, so reading never zeroes memory.
///
/// Bytes live in `data[start..end]`; requests are consumed from the front, reads
/// append at the back. The default value holds no allocation: that is what an
/// idle connection carries.
#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// How far the codec got with the request at the front. Kept here, beside the bytes
    /// it describes, and reset by `consume`, the only way bytes leave the front.
    progress: Progress,
}

impl ReadBuf {
    /// A buffer with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> ReadBuf {
        ReadBuf {
            data: vec![0; capacity],
            start: 0,
            end: 0,
            progress: Progress::default(),
        }
    }

    /// The buffered bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// The buffered bytes and how far the codec got with the request at their front, for
    /// `request::next` to go on from there.
    pub(crate) fn bytes_and_progress(&mut self) -> (&[u8], &mut Progress) {
        (&self.data[self.start..self.end], &mut self.progress)
    }

    /// How far the codec got with the request at the front.
    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// How many bytes the buffer can hold before it grows.
    pub(crate) fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Whether the buffer holds an allocation (idle connections must not).
    pub(crate) fn is_allocated(&self) -> bool {
        self.data.capacity() > 0
    }

    /// Forgets the first `n` buffered bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len(), "consumed more than was buffered");
        // What the codec learnt was about the bytes that were at the front.
        self.progress = Progress::default();
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from `reader` into the buffer, taking it to `limit` bytes at most.
    /// Says how many bytes came, and whether they left room in what was offered.
    pub(crate) fn read_from(&mut self, reader: &mut impl Read, limit: usize) -> io::Result<(usize, Room)> {
        let want = limit.saturating_sub(self.len()).max(1);
        let spare = self.spare(want);
        let offered = spare.len();
        let n = reader.read(spare)?;
        self.filled_by(n);
        Ok((n, if n < offered { Room::Left } else { Room::Filled }))
    }

    /// Room to read into: up to `want` bytes, at least one, after moving buffered
    /// bytes to the front or growing the buffer if needed.
    fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.end == self.data.len() && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.data.len() {
            let grown = (self.data.len() * 2).max(READ_CHUNK).min(self.end + want.max(1));
            self.data.resize(grown.max(self.end + 1), 0);
        }
        let stop = self.data.len().min(self.end + want.max(1));
        &mut self.data[self.end..stop]
    }

    fn filled_by(&mut self, n: usize) {
        self.end += n;
    }
}

/// Whether a read filled all the room it was offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// Fewer bytes came than there was room for.
    Left,
    /// Every byte of room was used: more may be waiting.
    Filled,
}

/// The least a buffer grows by.
const READ_CHUNK: usize = 4096;

#[cfg(test)]
mod tests {
    use super::ReadBuf;

    #[test]
    fn read_buf_appends_consumes_and_compacts() {
        let mut buf = ReadBuf::with_capacity(8);
        let spare = buf.spare(100);
        assert_eq!(spare.len(), 8);
        spare[..6].copy_from_slice(b"abcdef");
        buf.filled_by(6);
        buf.consume(4);
        assert_eq!(buf.bytes(), b"ef");
        // Two bytes of room at the back are still free; fill them.
        let spare = buf.spare(100);
        assert_eq!(spare.len(), 2);
        spare.copy_from_slice(b"gh");
        buf.filled_by(2);
        // Full at the back with consumed bytes at the front: compacts instead of growing.
        let spare = buf.spare(100);
        assert_eq!(spare.len(), 4);
        assert_eq!(buf.bytes(), b"efgh");
        buf.consume(4);
        assert!(buf.is_empty());
    }

    #[test]
    fn read_buf_grows_up_to_what_is_wanted() {
        let mut buf = ReadBuf::default();
        assert!(!buf.is_allocated());
        assert_eq!(buf.spare(10).len(), 10);
        let mut buf = ReadBuf::default();
        assert_eq!(buf.spare(1 << 20).len(), 4096);
    }
}
