//! Parallel, reproducible compression of a byte stream.
//!
//! The stream is cut into blocks where its content says (see `blocks`: about 1 MiB of input
//! each); every block is compressed on a worker thread as an independent gzip member or zstd
//! frame, or taken from a [`BlockMemo`] that holds it from an earlier archive, and the results
//! are written in input order. Concatenated gzip members are one valid gzip file (RFC 1952 §2.2;
//! GNU gzip, Go's `compress/gzip` used by umoci and skopeo, and flate2's `MultiGzDecoder` all
//! read them), and concatenated zstd frames are one valid zstd stream. Because block
//! boundaries depend only on the input and each block's encoding only on its bytes, the
//! output is identical whatever the number of threads or their timing — the same scheme as
//! `pigz --independent` — at a cost of a few bytes per MiB (one member header plus the
//! dictionary reset). Memory is bounded by `2 × threads` blocks in flight, each at most
//! 4 MiB.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::blocks::{BlockMemo, Cutter, MIN_BLOCK};
use super::digest::{Digest, Hasher, HashingWriter};

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

    /// The codec and level, as the memo keys blocks by them.
    fn memo_name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip-6",
            Compression::Zstd => "zstd-3",
        }
    }

    /// The block from `memo` if it has it, else compressed now and given to `memo`.
    fn block_via(self, block: &[u8], memo: Option<&dyn BlockMemo>) -> io::Result<Vec<u8>> {
        let Some(memo) = memo else {
            return self.compress_block(block);
        };
        let key = Digest::of(block);
        if let Some(kept) = memo.get(self.memo_name(), &key) {
            return Ok(kept);
        }
        let bytes = self.compress_block(block)?;
        memo.put(self.memo_name(), &key, &bytes);
        Ok(bytes)
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
    cutter: Cutter,
    block: Vec<u8>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    max_in_flight: usize,
}

impl<W: Write> ParallelCompressor<W> {
    /// Starts `threads` workers (none for [`Compression::None`]), which take blocks from
    /// `memo` where they can.
    pub(crate) fn new(
        out: W,
        codec: Compression,
        threads: usize,
        memo: Option<Arc<dyn BlockMemo>>,
    ) -> io::Result<Self> {
        let threads = threads.max(1);
        let mut workers = Vec::new();
        let mut jobs = None;
        if codec != Compression::None {
            let (tx, rx) = sync_channel::<Job>(threads);
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..threads {
                let rx = Arc::clone(&rx);
                let memo = memo.clone();
                let handle = std::thread::Builder::new()
                    .name(format!("forger-compress-{i}"))
                    .spawn(move || worker(rx, codec, memo))?;
                workers.push(handle);
            }
            jobs = Some(tx);
        }
        Ok(ParallelCompressor {
            out: HashingWriter::new(out),
            codec,
            input: Hasher::new(),
            cutter: Cutter::default(),
            block: Vec::new(),
            pending: VecDeque::new(),
            jobs,
            workers,
            max_in_flight: 2 * threads,
        })
    }

    fn submit(&mut self) -> io::Result<()> {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(2 * MIN_BLOCK));
        self.cutter.cut();
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

fn worker(rx: Arc<Mutex<Receiver<Job>>>, codec: Compression, memo: Option<Arc<dyn BlockMemo>>) {
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok((block, reply)) = job else { return };
        // The receiver may be gone if the writer failed; nothing to do then.
        let _ = reply.send(codec.block_via(&block, memo.as_deref()));
    }
}

impl<W: Write> Write for ParallelCompressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.codec == Compression::None {
            let n = self.out.write(buf)?;
            self.input.update(&buf[..n]);
            return Ok(n);
        }
        let (n, ends) = self.cutter.take(buf);
        self.block.extend_from_slice(&buf[..n]);
        self.input.update(&buf[..n]);
        if ends {
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
    use std::collections::HashMap;
    use std::io::Read;

    use super::super::blocks::MAX_BLOCK;
    use super::*;

    /// Keeps blocks in memory and counts how often it was asked and had them.
    #[derive(Debug, Default)]
    struct Counting {
        blocks: Mutex<HashMap<(String, Digest), Vec<u8>>>,
        asked: Mutex<(usize, usize)>,
    }

    impl BlockMemo for Counting {
        fn get(&self, codec: &str, input: &Digest) -> Option<Vec<u8>> {
            let kept = self
                .blocks
                .lock()
                .unwrap()
                .get(&(codec.to_owned(), *input))
                .cloned();
            let mut asked = self.asked.lock().unwrap();
            asked.0 += 1;
            asked.1 += usize::from(kept.is_some());
            kept
        }

        fn put(&self, codec: &str, input: &Digest, compressed: &[u8]) {
            self.blocks
                .lock()
                .unwrap()
                .insert((codec.to_owned(), *input), compressed.to_vec());
        }
    }

    fn compress(data: &[u8], codec: Compression, memo: Option<Arc<dyn BlockMemo>>) -> Vec<u8> {
        let mut c = ParallelCompressor::new(Vec::new(), codec, 2, memo).unwrap();
        c.write_all(data).unwrap();
        c.finish().unwrap().0
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i * 7919) % 251) as u8 ^ (i >> 13) as u8)
            .collect()
    }

    #[test]
    fn multi_member_gzip_decodes_and_is_thread_independent() {
        let data = sample(3 * MAX_BLOCK + 12345);
        let mut outs = Vec::new();
        for threads in [1, 2, 4] {
            let mut c =
                ParallelCompressor::new(Vec::new(), Compression::Gzip, threads, None).unwrap();
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
        let data = sample(2 * MAX_BLOCK + 1);
        let mut c = ParallelCompressor::new(Vec::new(), Compression::Zstd, 2, None).unwrap();
        c.write_all(&data).unwrap();
        let (bytes, ..) = c.finish().unwrap();
        let back = zstd::stream::decode_all(&bytes[..]).unwrap();
        assert!(back == data);
    }

    #[test]
    fn a_memo_gives_back_the_same_bytes_and_only_changed_blocks_are_compressed() {
        let data = sample(5 * MAX_BLOCK);
        let plain = compress(&data, Compression::Gzip, None);
        let memo = Arc::new(Counting::default());
        let as_memo = || Some(Arc::clone(&memo) as Arc<dyn BlockMemo>);
        assert!(compress(&data, Compression::Gzip, as_memo()) == plain);
        let (asked, had) = *memo.asked.lock().unwrap();
        assert!(asked > 1 && had == 0, "{asked} {had}");
        assert!(compress(&data, Compression::Gzip, as_memo()) == plain);
        assert_eq!(*memo.asked.lock().unwrap(), (2 * asked, asked));

        // zstd blocks are kept apart from gzip blocks of the same input.
        let zstd = compress(&data, Compression::Zstd, as_memo());
        assert!(zstd == compress(&data, Compression::Zstd, None));
    }
}
