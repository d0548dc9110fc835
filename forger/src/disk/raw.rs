//! The raw disk: a sparse host file the size of the disk, and [`PartitionDevice`], the
//! [`BlockDevice`] window onto one partition's byte range that a filesystem writer gets.
//! Bytes nobody writes stay holes, so a 4 GiB disk with 300 MiB of data takes 300 MiB.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::fs::BlockDevice;

/// A [`BlockDevice`] bounded to `[start, start + len)` of a file: position 0 is the
/// partition's first byte, reads past the end return 0 bytes, writes past the end fail.
#[derive(Debug)]
pub struct PartitionDevice<'a> {
    file: &'a File,
    start: u64,
    len: u64,
    pos: u64,
    /// The file's path, when writers may open it themselves ([`BlockDevice::host_file`]).
    path: Option<&'a Path>,
    /// Highest byte offset a write tried to reach beyond the end (for the error report).
    pub(crate) overflow: Option<u64>,
}

impl<'a> PartitionDevice<'a> {
    /// A window of `len` bytes at `start` of `file`.
    pub fn new(file: &'a File, start: u64, len: u64) -> Self {
        PartitionDevice {
            file,
            start,
            len,
            pos: 0,
            path: None,
            overflow: None,
        }
    }

    /// The same window, telling writers that `file` is the host file at `path` and that the
    /// window reads as zeros, so they may write into it by path.
    pub fn with_path(mut self, path: &'a Path) -> Self {
        self.path = Some(path);
        self
    }
}

impl Read for PartitionDevice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len {
            return Ok(0);
        }
        let n = buf
            .len()
            .min(usize::try_from(self.len - self.pos).unwrap_or(usize::MAX));
        let got = self.file.read_at(&mut buf[..n], self.start + self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Write for PartitionDevice<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.len {
            self.overflow = Some(self.pos + buf.len() as u64);
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!(
                    "write at partition offset {} past its end ({} bytes)",
                    self.pos, self.len
                ),
            ));
        }
        let n = buf
            .len()
            .min(usize::try_from(self.len - self.pos).unwrap_or(usize::MAX));
        self.file.write_all_at(&buf[..n], self.start + self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for PartitionDevice<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the partition",
            )),
        }
    }
}

impl BlockDevice for PartitionDevice<'_> {
    fn size_bytes(&self) -> u64 {
        self.len
    }

    fn host_file(&self) -> Option<(&Path, u64)> {
        self.path.map(|p| (p, self.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_bounded() {
        let tmp = tempfile::tempfile().expect("tempfile");
        tmp.set_len(4096).expect("set_len");
        let mut dev = PartitionDevice::new(&tmp, 1024, 512);
        dev.write_all(&[7u8; 512]).expect("fits");
        assert!(dev.write_all(&[1]).is_err());
        dev.seek(SeekFrom::Start(0)).expect("seek");
        let mut back = Vec::new();
        dev.read_to_end(&mut back).expect("read");
        assert_eq!(back, vec![7u8; 512]);
        let mut all = vec![0u8; 4096];
        tmp.read_exact_at(&mut all, 0).expect("read");
        assert!(all[..1024].iter().all(|&b| b == 0));
        assert!(all[1536..].iter().all(|&b| b == 0));
    }
}
