//! Importing a tar stream into a [`StagingTree`]: owners, groups, modes, mtimes, link targets,
//! device numbers and xattrs come from the tar headers (ustar, GNU and PAX, including
//! `SCHILY.xattr.*` records and PAX `uid`/`gid`/`mtime` overrides), never from the host.
//!
//! This is how package installers that run in a user namespace (`mmdebstrap --mode=unshare`)
//! hand their result over: the archive records the ownership the image needs, while the host
//! files are written with the builder's own uid. The stream is read once, entry by entry, so
//! a root filesystem of any size passes through in constant memory.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::PathBuf;

use super::{Entry, EntryKind, Error, StagePath, StagingTree};

/// What [`StagingTree::import_tar`] brought in, for progress output and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TarImportStats {
    /// Entries added or replaced (the root directory included when the archive names it).
    pub entries: u64,
    /// Bytes of regular-file content written to the staging tree.
    pub bytes: u64,
}

impl StagingTree {
    /// Imports every entry of the tar stream `reader` (uncompressed) into the tree, replacing
    /// entries already present. A member named `./` or `/` sets the root directory's metadata.
    /// Parent directories missing from the archive are created `0:0 0755`.
    pub fn import_tar(&mut self, reader: impl Read) -> Result<TarImportStats, Error> {
        let mut archive = tar::Archive::new(reader);
        let mut stats = TarImportStats::default();
        let members = archive.entries().map_err(tar_err("<archive>"))?;
        for member in members {
            let mut member = member.map_err(tar_err("<archive>"))?;
            let raw_path = member.path().map_err(tar_err("<member name>"))?;
            let name = raw_path
                .to_str()
                .ok_or_else(|| Error::NonUtf8Name {
                    path: raw_path.to_path_buf(),
                })?
                .to_owned();
            let path = StagePath::new(&name)?;
            let pax = PaxOverrides::read(&mut member, &name)?;
            let header = member.header();
            let kind = match header.entry_type() {
                tar::EntryType::Directory => EntryKind::Directory,
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
                tar::EntryType::Symlink => EntryKind::Symlink {
                    target: link_name(&member, &name)?,
                },
                tar::EntryType::Link => EntryKind::Hardlink {
                    target: StagePath::new(&link_name(&member, &name)?)?,
                },
                tar::EntryType::Char => {
                    let (major, minor) = device(header, &name)?;
                    EntryKind::CharDevice { major, minor }
                }
                tar::EntryType::Block => {
                    let (major, minor) = device(header, &name)?;
                    EntryKind::BlockDevice { major, minor }
                }
                tar::EntryType::Fifo => EntryKind::Fifo,
                // A global PAX header carries no file.
                tar::EntryType::XGlobalHeader => continue,
                other => {
                    return Err(invalid(
                        &name,
                        format!("unsupported tar entry type {other:?}"),
                    ));
                }
            };
            let mode = header.mode().map_err(tar_err(&name))?;
            let uid = match pax.uid {
                Some(u) => u,
                None => narrow(header.uid().map_err(tar_err(&name))?, &name, "uid")?,
            };
            let gid = match pax.gid {
                Some(g) => g,
                None => narrow(header.gid().map_err(tar_err(&name))?, &name, "gid")?,
            };
            let mtime = match pax.mtime {
                Some(t) => t,
                None => header.mtime().map_err(tar_err(&name))? as i64,
            };
            let mut entry = Entry::new(kind, uid, gid, mode);
            entry.mtime = mtime;
            entry.xattrs = pax.xattrs;

            if path.is_root() {
                if matches!(entry.kind, EntryKind::Directory)
                    && let Some(root) = self.manifest.get_mut(&path)
                {
                    *root = entry;
                    stats.entries += 1;
                }
                continue;
            }
            self.ensure_parent(&path)?;
            match &entry.kind {
                EntryKind::Directory => {
                    self.ensure_dir(&path, entry.uid, entry.gid, entry.mode)?;
                    if let Some(e) = self.manifest.get_mut(&path) {
                        e.mtime = entry.mtime;
                        e.xattrs = entry.xattrs;
                    }
                }
                EntryKind::File => {
                    stats.bytes += self.write_file(&path, &mut member, entry)?;
                }
                EntryKind::Hardlink { target } => {
                    let target = target.clone();
                    self.add_hardlink(&path, &target)?;
                }
                _ => self.add_special(&path, entry)?,
            }
            stats.entries += 1;
        }
        // Read the stream to its end (tar's record padding after the end marker), so a
        // producer writing into a pipe is not cut off by SIGPIPE.
        io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(tar_err("<archive end>"))?;
        Ok(stats)
    }

    /// Creates the missing ancestors of `path` as `0:0 0755` directories.
    fn ensure_parent(&mut self, path: &StagePath) -> Result<(), Error> {
        match path.parent() {
            Some(parent) if self.manifest.get(&parent).is_none_or(|e| !e.is_dir()) => {
                self.ensure_dir(&parent, 0, 0, 0o755)
            }
            _ => Ok(()),
        }
    }
}

/// Values a PAX extended header sets for the member that follows it.
#[derive(Default)]
struct PaxOverrides {
    uid: Option<u32>,
    gid: Option<u32>,
    mtime: Option<i64>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

impl PaxOverrides {
    fn read<R: Read>(member: &mut tar::Entry<'_, R>, name: &str) -> Result<Self, Error> {
        let mut out = PaxOverrides::default();
        let Some(exts) = member.pax_extensions().map_err(tar_err(name))? else {
            return Ok(out);
        };
        for ext in exts {
            let ext = ext.map_err(tar_err(name))?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value_bytes();
            if let Some(attr) = key.strip_prefix("SCHILY.xattr.") {
                out.xattrs.insert(attr.to_owned(), value.to_vec());
                continue;
            }
            let text = || {
                std::str::from_utf8(value)
                    .map_err(|_| invalid(name, format!("PAX record `{key}` is not UTF-8")))
            };
            match key {
                "uid" => out.uid = Some(parse_num(text()?, name, key)?),
                "gid" => out.gid = Some(parse_num(text()?, name, key)?),
                // PAX times may carry a fraction (`1700000000.5`); whole seconds are kept.
                "mtime" => {
                    let whole = text()?.split('.').next().unwrap_or_default();
                    out.mtime = Some(parse_num(whole, name, key)?);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

fn parse_num<T: std::str::FromStr>(text: &str, name: &str, key: &str) -> Result<T, Error> {
    text.trim()
        .parse()
        .map_err(|_| invalid(name, format!("PAX record `{key}={text}` is not a number")))
}

fn link_name<R: Read>(member: &tar::Entry<'_, R>, name: &str) -> Result<String, Error> {
    let target = member
        .link_name()
        .map_err(tar_err(name))?
        .ok_or_else(|| invalid(name, "link without a target".into()))?;
    target
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::NonUtf8Name {
            path: target.into_owned(),
        })
}

fn device(header: &tar::Header, name: &str) -> Result<(u32, u32), Error> {
    let major = header.device_major().map_err(tar_err(name))?;
    let minor = header.device_minor().map_err(tar_err(name))?;
    Ok((major.unwrap_or(0), minor.unwrap_or(0)))
}

fn narrow(v: u64, name: &str, what: &str) -> Result<u32, Error> {
    u32::try_from(v).map_err(|_| invalid(name, format!("{what} {v} does not fit in 32 bits")))
}

fn invalid(name: &str, msg: String) -> Error {
    Error::Io {
        path: PathBuf::from(name),
        source: io::Error::new(io::ErrorKind::InvalidData, msg),
    }
}

fn tar_err(name: &str) -> impl FnOnce(io::Error) -> Error {
    let path = PathBuf::from(name);
    move |source| Error::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> StagePath {
        StagePath::new(s).expect("valid path")
    }

    fn append(
        b: &mut tar::Builder<Vec<u8>>,
        name: &str,
        ty: tar::EntryType,
        mode: u32,
        owner: (u64, u64),
        data: &[u8],
    ) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_uid(owner.0);
        h.set_gid(owner.1);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h.clone(), name, data).expect("append");
        h
    }

    fn header(ty: tar::EntryType, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        h
    }

    #[test]
    fn headers_become_the_manifest() {
        let mut b = tar::Builder::new(Vec::new());
        append(&mut b, "./", tar::EntryType::Directory, 0o755, (0, 0), b"");
        append(
            &mut b,
            "./etc/",
            tar::EntryType::Directory,
            0o750,
            (0, 4),
            b"",
        );
        append(
            &mut b,
            "./etc/shadow",
            tar::EntryType::Regular,
            0o640,
            (0, 42),
            b"x",
        );
        let mut h = header(tar::EntryType::Symlink, 0o777);
        h.set_mtime(5);
        b.append_link(&mut h, "./etc/link", "shadow")
            .expect("symlink");
        let mut h = header(tar::EntryType::Link, 0o640);
        b.append_link(&mut h, "./etc/hard", "./etc/shadow")
            .expect("hardlink");
        let mut h = header(tar::EntryType::Char, 0o666);
        h.set_device_major(1).expect("major");
        h.set_device_minor(3).expect("minor");
        h.set_size(0);
        b.append_data(&mut h, "./dev/null", &[][..]).expect("dev");
        let mut pax = tar::Builder::new(Vec::new());
        pax.append_pax_extensions([
            ("SCHILY.xattr.security.capability", &b"\x01\x02"[..]),
            ("uid", &b"4000000000"[..]),
        ])
        .expect("pax");
        let pax = pax.into_inner().expect("pax bytes");
        let mut all = b.into_inner().expect("tar bytes");
        all.truncate(all.len() - 1024); // drop the end-of-archive blocks
        all.extend_from_slice(&pax[..pax.len() - 1024]);
        let mut b = tar::Builder::new(all);
        append(
            &mut b,
            "./bin-ping",
            tar::EntryType::Regular,
            0o4755,
            (0, 0),
            b"p",
        );
        let bytes = b.into_inner().expect("tar bytes");

        let dir = tempfile::tempdir().expect("tempdir");
        let mut tree = StagingTree::create(dir.path().join("t")).expect("tree");
        let stats = tree.import_tar(&bytes[..]).expect("import");
        assert_eq!(stats.bytes, 2);
        let m = &tree.manifest;
        assert_eq!(m.get(&p("/etc")).map(|e| (e.gid, e.mode)), Some((4, 0o750)));
        let shadow = m.get(&p("/etc/shadow")).expect("shadow");
        assert_eq!(
            (shadow.gid, shadow.mode, shadow.mtime),
            (42, 0o640, 1_700_000_000)
        );
        assert_eq!(
            m.get(&p("/etc/link")).map(|e| e.kind.clone()),
            Some(EntryKind::Symlink {
                target: "shadow".into()
            })
        );
        assert_eq!(m.link_count(&p("/etc/shadow")), 2);
        assert_eq!(
            std::fs::read(tree.host_path(&p("/etc/hard"))).expect("hard link bytes"),
            b"x"
        );
        let null = m.get(&p("/dev/null")).expect("/dev/null");
        assert_eq!(null.kind, EntryKind::CharDevice { major: 1, minor: 3 });
        assert_eq!(m.get(&p("/dev")).map(|e| e.mode), Some(0o755));
        let ping = m.get(&p("/bin-ping")).expect("ping");
        assert_eq!((ping.uid, ping.mode), (4_000_000_000, 0o4755));
        assert_eq!(
            ping.xattrs.get("security.capability").map(Vec::as_slice),
            Some(&b"\x01\x02"[..])
        );
    }
}
