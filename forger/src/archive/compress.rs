//! Parallel, reproducible compression of a byte stream.
//!
//! The stream is cut into fixed-size blocks (1 MiB of input each); every block is compressed
//! on a worker thread as an independent gzip member or zstd frame, and the results are
//! written in input order. Concatenated gzip members are one valid gzip file (RFC 1952 §2.2;
//! GNU gzip, Go's `compress/gzip` used by umoci and skopeo, and flate2's `MultiGzDecoder` all
//! read them), and concatenated zstd frames are one valid zstd stream. Because block
//! boundaries depend only on the input and each block's encoding only on its bytes, the
//! output is identical whatever the number of threads or their timing — the same scheme as
//! `pigz --independent` — at a cost of a few bytes per MiB (one member header plus the
//! dictionary reset). Memory is bounded by `2 × threads` blocks in flight.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::digest::{Digest, Hasher, HashingWriter};

/// Input bytes per independently compressed block.
pub(crate) const BLOCK_SIZE: usize = 1 << 20;

/// How an archive's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (level 6, as `gzip` defaults to), as concatenated members.
    #[default]
    Gzip,
    /// zstd (level 3, zstd's default), as concatenated frames.
    Zstd,
}

impl Compression {
    /// The OCI layer media type for a tar with this compression.
    pub fn oci_layer_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }

    /// The usual file-name suffix (`.tar.gz`, …).
    pub fn tar_extension(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "tar.gz",
            Compression::Zstd => "tar.zst",
        }
    }

    fn compress_block(self, block: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Compression::None => Ok(block.to_vec()),
            Compression::Gzip => {
                let mut enc = flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(
                        Vec::with_capacity(block.len() / 2 + 64),
                        flate2::Compression::new(6),
                    );
                enc.write_all(block)?;
                enc.finish()
            }
            Compression::Zstd => zstd::bulk::compress(block, 3),
        }
    }
}

type Job = (Vec<u8>, SyncSender<io::Result<Vec<u8>>>);

/// A `Write` that compresses in parallel and hashes both the uncompressed input and the
/// compressed output while streaming.
pub(crate) struct ParallelCompressor<W: Write> {
    out: HashingWriter<W>,
    codec: Compression,
    input: Hasher,
    block: Vec<u8>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    max_in_flight: usize,
}

impl<W: Write> ParallelCompressor<W> {
    /// Starts `threads` workers (none for [`Compression::None`]).
    pub(crate) fn new(out: W, codec: Compression, threads: usize) -> io::Result<Self> {
        let threads = threads.max(1);
        let mut workers = Vec::new();
        let mut jobs = None;
        if codec != Compression::None {
            let (tx, rx) = sync_channel::<Job>(threads);
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..threads {
                let rx = Arc::clone(&rx);
                let handle = std::thread::Builder::new()
                    .name(format!("forger-compress-{i}"))
                    .spawn(move || worker(rx, codec))?;
                workers.push(handle);
            }
            jobs = Some(tx);
        }
        Ok(ParallelCompressor {
            out: HashingWriter::new(out),
            codec,
            input: Hasher::new(),
            block: Vec::with_capacity(if codec == Compression::None {
                0
            } else {
                BLOCK_SIZE
            }),
            pending: VecDeque::new(),
            jobs,
            workers,
            max_in_flight: 2 * threads,
        })
    }

    fn submit(&mut self) -> io::Result<()> {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK_SIZE));
        let (tx, rx) = sync_channel(1);
        let jobs = self
            .jobs
            .as_ref()
            .expect("submit is only called with workers");
        jobs.send((block, tx))
            .map_err(|_| io::Error::other("compression workers stopped"))?;
        self.pending.push_back(rx);
        while self.pending.len() >= self.max_in_flight {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let bytes = rx
                .recv()
                .map_err(|_| io::Error::other("a compression worker died"))??;
            self.out.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Compresses what is left, waits for the workers and returns the inner writer with
    /// (compressed digest, compressed size, uncompressed digest, uncompressed size).
    pub(crate) fn finish(mut self) -> io::Result<(W, Digest, u64, Digest, u64)> {
        if self.codec != Compression::None && (!self.block.is_empty() || self.input.is_empty()) {
            self.submit()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.jobs = None;
        for w in self.workers.drain(..) {
            w.join()
                .map_err(|_| io::Error::other("a compression worker panicked"))?;
        }
        let (inner, cd, cn) = self.out.finish();
        let (ud, un) = self.input.finish();
        Ok((inner, cd, cn, ud, un))
    }
}

fn worker(rx: Arc<Mutex<Receiver<Job>>>, codec: Compression) {
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok((block, reply)) = job else { return };
        // The receiver may be gone if the writer failed; nothing to do then.
        let _ = reply.send(codec.compress_block(&block));
    }
}

impl<W: Write> Write for ParallelCompressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.codec == Compression::None {
            let n = self.out.write(buf)?;
            self.input.update(&buf[..n]);
            return Ok(n);
        }
        let room = BLOCK_SIZE - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        self.input.update(&buf[..n]);
        if self.block.len() == BLOCK_SIZE {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i * 7919) % 251) as u8 ^ (i >> 13) as u8)
            .collect()
    }

    #[test]
    fn multi_member_gzip_decodes_and_is_thread_independent() {
        let data = sample(3 * BLOCK_SIZE + 12345);
        let mut outs = Vec::new();
        for threads in [1, 2, 4] {
            let mut c = ParallelCompressor::new(Vec::new(), Compression::Gzip, threads).unwrap();
            for chunk in data.chunks(70_001) {
                c.write_all(chunk).unwrap();
            }
            let (bytes, cd, cn, ud, un) = c.finish().unwrap();
            assert_eq!(cd, Digest::of(&bytes));
            assert_eq!(cn, bytes.len() as u64);
            assert_eq!((ud, un), (Digest::of(&data), data.len() as u64));
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == data);
            outs.push(bytes);
        }
        assert!(outs.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn zstd_frames_decode_as_one_stream() {
        let data = sample(2 * BLOCK_SIZE + 1);
        let mut c = ParallelCompressor::new(Vec::new(), Compression::Zstd, 2).unwrap();
        c.write_all(&data).unwrap();
        let (bytes, ..) = c.finish().unwrap();
        let back = zstd::stream::decode_all(&bytes[..]).unwrap();
        assert!(back == data);
    }
}
