//! [`Framed`]: the transport with its read and write buffers, frames in and messages out.

use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ConnError;
use crate::protocol::frame::{self, Frame};
use crate::protocol::tls::Transport;

/// How much room to make in the read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;

/// The transport with its read and write buffers. Frames are parsed out of the read
/// buffer, so a read abandoned at an `.await` (a cancelled future) loses nothing; the
/// write buffer keeps whatever was not written yet, so an abandoned flush resumes on the
/// next one.
#[derive(Debug)]
pub(crate) struct Framed {
    pub(super) stream: Transport,
    rbuf: BytesMut,
    pub(super) wbuf: BytesMut,
}

impl Framed {
    pub(super) fn new(stream: Transport) -> Self {
        Framed {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(1024),
        }
    }

    /// Appends one frontend message; on failure nothing is appended.
    pub(crate) fn encode(
        &mut self,
        f: impl FnOnce(&mut BytesMut) -> io::Result<()>,
    ) -> io::Result<()> {
        let len = self.wbuf.len();
        let r = f(&mut self.wbuf);
        if r.is_err() {
            self.wbuf.truncate(len);
        }
        r
    }

    /// The next frame. Cancellation-safe.
    pub(crate) async fn read_frame(&mut self) -> Result<Frame, ConnError> {
        loop {
            if let Some(f) = frame::parse_frame(&mut self.rbuf)? {
                return Ok(f);
            }
            if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
                self.rbuf.reserve(READ_CHUNK);
            }
            let n = self
                .stream
                .read_buf(&mut self.rbuf)
                .await
                .map_err(ConnError::io("reading from the server"))?;
            if n == 0 {
                return Err(ConnError::Io {
                    context: "reading from the server",
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ),
                });
            }
        }
    }

    /// Writes out the write buffer. Cancellation-safe: an interrupted flush leaves the
    /// unwritten bytes in the buffer for the next one.
    pub(crate) async fn flush(&mut self) -> Result<(), ConnError> {
        while !self.wbuf.is_empty() {
            let n = self
                .stream
                .write_buf(&mut self.wbuf)
                .await
                .map_err(ConnError::io("writing to the server"))?;
            if n == 0 {
                return Err(ConnError::Io {
                    context: "writing to the server",
                    source: io::ErrorKind::WriteZero.into(),
                });
            }
        }
        self.stream
            .flush()
            .await
            .map_err(ConnError::io("writing to the server"))
    }
}
