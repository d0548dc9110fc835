//! The assembled disk as the QCOW2 converter reads it: the sparse raw file, except for the
//! partitions whose filesystems were lent ([`crate::fs::Filesystem::lend`]), which are read
//! from the lent image instead. Nothing is written twice to put a lent image into the disk.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// `len` bytes of the disk from byte `start` that are read from position 0 of `file`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Splice<'a> {
    pub start: u64,
    pub len: u64,
    pub file: &'a File,
}

/// The disk: `raw` with `splices` (sorted, not overlapping) laid over it.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    raw: &'a File,
    splices: Vec<Splice<'a>>,
}

impl<'a> Source<'a> {
    /// The raw file alone.
    pub(crate) fn raw(raw: &'a File) -> Self {
        Source {
            raw,
            splices: Vec::new(),
        }
    }

    /// `raw` read through `splices`, which must lie in disjoint byte ranges.
    pub(crate) fn spliced(raw: &'a File, mut splices: Vec<Splice<'a>>) -> Self {
        splices.sort_by_key(|s| s.start);
        debug_assert!(
            splices
                .windows(2)
                .all(|w| w[0].start + w[0].len <= w[1].start)
        );
        Source { raw, splices }
    }

    /// The pieces of `[from, to)`: `(disk offset, length, file, file offset)` in order.
    fn pieces(&self, from: u64, to: u64) -> Vec<(u64, u64, &'a File, u64)> {
        let mut out = Vec::new();
        let mut pos = from;
        for s in &self.splices {
            let end = s.start + s.len;
            if end <= pos || s.start >= to {
                continue;
            }
            if pos < s.start {
                out.push((pos, s.start - pos, self.raw, pos));
                pos = s.start;
            }
            let until = end.min(to);
            out.push((pos, until - pos, s.file, pos - s.start));
            pos = until;
        }
        if pos < to {
            out.push((pos, to - pos, self.raw, pos));
        }
        out
    }

    /// Fills `buf` with the disk's bytes from `offset`.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut done = 0usize;
        for (at, len, file, file_at) in self.pieces(offset, offset + buf.len() as u64) {
            let n = len as usize;
            debug_assert_eq!(at, offset + done as u64);
            file.read_exact_at(&mut buf[done..done + n], file_at)?;
            done += n;
        }
        Ok(())
    }

    /// Calls `f(first, end)` for each run of clusters of `cluster` bytes in the first `size`
    /// bytes that may hold data (touched by a data extent), in order; runs are disjoint.
    pub(crate) fn for_each_run(
        &self,
        size: u64,
        cluster: u64,
        mut f: impl FnMut(u64, u64) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut run: Option<(u64, u64)> = None;
        for (at, len, file, file_at) in self.pieces(0, size) {
            for (data, hole) in data_extents(file, file_at, len)? {
                let (data, hole) = (at + (data - file_at), at + (hole - file_at));
                let (c0, c1) = (data / cluster, hole.div_ceil(cluster));
                run = match run {
                    Some((a, b)) if c0 <= b => Some((a, b.max(c1))),
                    Some((a, b)) => {
                        f(a, b)?;
                        Some((c0, c1))
                    }
                    None => Some((c0, c1)),
                };
            }
        }
        if let Some((a, b)) = run {
            f(a, b)?;
        }
        Ok(())
    }
}

/// The data extents of `len` bytes of `file` from `from` (`SEEK_DATA`/`SEEK_HOLE`), as
/// `(start, end)` byte positions clipped to the range.
pub(crate) fn data_extents(file: &File, from: u64, len: u64) -> io::Result<Vec<(u64, u64)>> {
    use rustix::fs::{SeekFrom, seek};
    let end = from + len;
    let mut out = Vec::new();
    let mut pos = from;
    while pos < end {
        let data = match seek(file, SeekFrom::Data(pos)) {
            Ok(d) if d < end => d,
            Ok(_) | Err(rustix::io::Errno::NXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = seek(file, SeekFrom::Hole(data))
            .map_err(io::Error::from)?
            .min(end);
        out.push((data, hole));
        pos = hole;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(len: u64, writes: &[(u64, &[u8])]) -> File {
        let f = tempfile::tempfile().expect("tempfile");
        f.set_len(len).expect("len");
        for (at, bytes) in writes {
            f.write_all_at(bytes, *at).expect("write");
        }
        f
    }

    #[test]
    fn runs_follow_holes() {
        let f = file_with(
            64 << 20,
            &[(1 << 20, &[1u8; 100]), (40 << 20, &[2u8; 70000])],
        );
        let mut runs = Vec::new();
        Source::raw(&f)
            .for_each_run(64 << 20, 1 << 16, |a, b| {
                runs.push((a, b));
                Ok(())
            })
            .expect("runs");
        assert!(!runs.is_empty());
        assert!(runs.iter().any(|&(a, b)| a <= 16 && 16 < b));
        assert!(runs.iter().any(|&(a, b)| a <= 640 && 641 < b));
        assert!(runs.windows(2).all(|w| w[0].1 < w[1].0));
    }

    #[test]
    fn a_splice_replaces_its_range_of_the_raw_file() {
        // The raw file has bytes inside the spliced range that must not be seen.
        let raw = file_with(8 << 20, &[(100, b"head"), (3 << 20, b"hidden")]);
        let lent = file_with(2 << 20, &[(5, b"lent"), ((2 << 20) - 3, b"end")]);
        let disk = Source::spliced(
            &raw,
            vec![Splice {
                start: 2 << 20,
                len: 2 << 20,
                file: &lent,
            }],
        );
        let mut all = vec![0u8; 8 << 20];
        disk.read_exact_at(&mut all, 0).expect("read");
        assert_eq!(&all[100..104], b"head");
        assert_eq!(&all[(2 << 20) + 5..(2 << 20) + 9], b"lent");
        assert_eq!(&all[(4 << 20) - 3..4 << 20], b"end");
        assert!(all[3 << 20..(3 << 20) + 6].iter().all(|&b| b == 0));

        let mut runs = Vec::new();
        disk.for_each_run(8 << 20, 1 << 16, |a, b| {
            runs.push((a, b));
            Ok(())
        })
        .expect("runs");
        // Every byte that is not zero lies in a run.
        let covered = |byte: u64| runs.iter().any(|&(a, b)| a << 16 <= byte && byte < b << 16);
        for (i, b) in all.iter().enumerate() {
            if *b != 0 {
                assert!(covered(i as u64), "byte {i} outside every run: {runs:?}");
            }
        }
        assert!(runs.windows(2).all(|w| w[0].1 < w[1].0));
    }
}
