//! A large request body taken as it arrives: decoded on the poller and appended to an
//! unlinked temporary file, so that memory per upload stays the read buffer's, however
//! large the body (nginx's `client_body_buffer_size` and `client_body_temp_path`).
//!
//! The codec decides where the body ends, by the same rules as for a body kept in memory
//! ([`Decoder`]); only where its bytes go differs. Each byte is copied once: from the
//! read buffer to the file.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::Path;

use crate::h1::error::{Limits, ParseError};
use crate::h1::framing::Decoder;
use crate::h1::request::Started;
use crate::read_buf::ReadBuf;
use crate::request_body::RequestBody;
use crate::Request;

/// A request whose body is being written to a temporary file.
#[derive(Debug)]
pub(crate) struct Spool {
    parts: ::http::request::Parts,
    decoder: Decoder,
    limits: Limits,
    file: File,
    /// Bytes of body data written to `file`.
    len: u64,
}

/// Why a spooled body cannot be taken.
#[derive(Debug)]
pub(crate) enum SpoolError {
    /// The body breaks the framing rules or its limit: the codec's refusal.
    Refused(ParseError),
    /// The temporary file could not be made or written (a full disk, a missing directory).
    Io(io::Error),
}

impl Spool {
    /// Starts spooling the body of `started`, whose head is at the front of `input`
    /// (taken off it now), into a new unlinked file in `dir`.
    pub(crate) fn start(started: Started, input: &mut ReadBuf, dir: &Path, limits: Limits) -> io::Result<Spool> {
        let file = tempfile::tempfile_in(dir)?;
        input.consume(started.head_len);
        Ok(Spool {
            parts: started.parts,
            decoder: started.decoder,
            limits,
            file,
            len: 0,
        })
    }

    /// Writes what `input` holds of the body to the file and takes it off the buffer;
    /// says whether the body has ended (what follows it stays in `input`).
    pub(crate) fn feed(&mut self, input: &mut ReadBuf) -> Result<bool, SpoolError> {
        let (file, len) = (&mut self.file, &mut self.len);
        let mut failed = None;
        let (used, ended) = self
            .decoder
            .feed(input.bytes(), &self.limits, |data| {
                if failed.is_none() {
                    match file.write_all(data) {
                        Ok(()) => *len += data.len() as u64,
                        Err(e) => failed = Some(e),
                    }
                }
            })
            .map_err(SpoolError::Refused)?;
        if let Some(e) = failed {
            return Err(SpoolError::Io(e));
        }
        input.consume(used);
        Ok(ended)
    }

    /// Bytes of body data written to the file so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The request, once [`feed`](Spool::feed) said the body has ended.
    /// The file's cursor is put back at its start, so reading the file itself (not only
    /// through `RequestBody::reader`) reads the body.
    pub(crate) fn into_request(mut self) -> Request {
        if let Err(e) = self.file.rewind() {
            log::debug!("rewinding a spooled body: {e}");
        }
        Request::from_parts(self.parts, RequestBody::spooled(self.file, self.len))
    }
}
