//! Tar headers from manifest entries: the one place that decides how an image path, its
//! owner, mode, link target, device numbers and xattrs appear in the archive.
//!
//! Format: POSIX.1-2001 (pax) — ustar headers, plus a pax extended header (`x`) in front of
//! an entry when it needs one: a name or link target longer than the 100-byte ustar fields
//! (`path`, `linkpath`), xattrs (`SCHILY.xattr.<name>`, what GNU tar, bsdtar and Go's
//! `archive/tar` read), or a size/uid/gid beyond the octal fields (`size`, `uid`, `gid`).
//! Names are `./`-relative like `tar -C root -c .` writes them (`./`, `./etc/`,
//! `./etc/hosts`), so the root directory's owner and mode are recorded too; they can never be
//! absolute or contain `..` because a [`StagePath`] cannot. User and group names are left
//! empty: owners are numeric, as the manifest holds them.

use std::io;

use tar::{EntryType, Header};

use crate::stage::{Entry, EntryKind, StagePath};

const USTAR_NAME_LEN: usize = 100;
const OCTAL7_MAX: u64 = 0o7_777_777;
const OCTAL11_MAX: u64 = 0o77_777_777_777;

/// The archive member name of `path` (`./etc/hosts`, `./etc/` for a directory, `./` for
/// the root).
pub(crate) fn member_name(path: &StagePath, is_dir: bool) -> String {
    let mut name = String::with_capacity(path.as_str().len() + 3);
    name.push_str("./");
    name.push_str(path.as_str());
    if is_dir && !path.is_root() {
        name.push('/');
    }
    name
}

/// The header of one entry plus its pax records (empty when ustar suffices). `None` for
/// kinds tar cannot hold (sockets; GNU tar skips them too).
pub(crate) fn header_for(
    path: &StagePath,
    entry: &Entry,
    size: u64,
    epoch: i64,
) -> io::Result<Option<(Header, Vec<u8>)>> {
    let mut pax = Vec::new();
    let mut h = Header::new_ustar();
    let (ty, link): (EntryType, Option<String>) = match &entry.kind {
        EntryKind::Directory => (EntryType::Directory, None),
        EntryKind::File => (EntryType::Regular, None),
        EntryKind::Symlink { target } => (EntryType::Symlink, Some(target.clone())),
        EntryKind::Hardlink { target } => (EntryType::Link, Some(member_name(target, false))),
        EntryKind::CharDevice { .. } => (EntryType::Char, None),
        EntryKind::BlockDevice { .. } => (EntryType::Block, None),
        EntryKind::Fifo => (EntryType::Fifo, None),
        EntryKind::Socket => return Ok(None),
    };
    h.set_entry_type(ty);

    let name = member_name(path, entry.is_dir());
    set_field(&mut h.as_ustar_mut().expect("ustar header").name, &name);
    if name.len() > USTAR_NAME_LEN {
        pax_record(&mut pax, "path", name.as_bytes());
    }
    if let Some(link) = link {
        set_field(&mut h.as_ustar_mut().expect("ustar header").linkname, &link);
        if link.len() > USTAR_NAME_LEN {
            pax_record(&mut pax, "linkpath", link.as_bytes());
        }
    }

    h.set_mode(entry.mode & 0o7777);
    set_id(&mut h, &mut pax, "uid", entry.uid.into());
    set_id(&mut h, &mut pax, "gid", entry.gid.into());
    h.set_mtime(entry.mtime.min(epoch).max(0) as u64);
    let size = if ty == EntryType::Regular { size } else { 0 };
    h.set_size(size);
    if size > OCTAL11_MAX {
        pax_record(&mut pax, "size", size.to_string().as_bytes());
    }
    if let EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } =
        &entry.kind
    {
        h.set_device_major(*major)?;
        h.set_device_minor(*minor)?;
    }
    for (key, value) in &entry.xattrs {
        pax_record(&mut pax, &format!("SCHILY.xattr.{key}"), value);
    }
    h.set_cksum();
    Ok(Some((h, pax)))
}

/// The `x` header that precedes an entry carrying `records`.
pub(crate) fn pax_header(entry_name: &str, records_len: usize) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::XHeader);
    // GNU tar names these `<dir>/PaxHeaders.<pid>/<base>`; a fixed form keeps output stable.
    let base = entry_name
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let mut name = format!("./PaxHeaders/{base}");
    truncate_utf8(&mut name, USTAR_NAME_LEN);
    set_field(&mut h.as_ustar_mut().expect("ustar header").name, &name);
    h.set_mode(0o644);
    h.set_size(records_len as u64);
    h.set_mtime(0);
    h.set_cksum();
    h
}

fn set_id(h: &mut Header, pax: &mut Vec<u8>, key: &str, id: u64) {
    if key == "uid" {
        h.set_uid(id.min(OCTAL7_MAX));
    } else {
        h.set_gid(id.min(OCTAL7_MAX));
    }
    if id > OCTAL7_MAX {
        pax_record(pax, key, id.to_string().as_bytes());
    }
}

/// Copies `text` into a NUL-padded header field, truncated at a UTF-8 boundary when it does
/// not fit (the full text then travels in a pax record).
fn set_field(field: &mut [u8], text: &str) {
    let mut t = text.to_owned();
    truncate_utf8(&mut t, field.len());
    field.fill(0);
    field[..t.len()].copy_from_slice(t.as_bytes());
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Appends one pax record `"<len> <key>=<value>\n"`, where `<len>` counts the whole record
/// including its own digits.
pub(crate) fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let mut v = Vec::new();
        pax_record(&mut v, "path", b"a");
        assert_eq!(v, b"9 path=a\n");
        let mut v = Vec::new();
        let long = vec![b'x'; 95];
        pax_record(&mut v, "path", &long);
        assert_eq!(v.len(), 105);
        assert!(v.starts_with(b"105 path="));
    }

    #[test]
    fn names_are_dot_relative() {
        let p = StagePath::new("/etc/hosts").unwrap();
        assert_eq!(member_name(&p, false), "./etc/hosts");
        assert_eq!(member_name(&StagePath::root(), true), "./");
        assert_eq!(
            member_name(&StagePath::new("/etc").unwrap(), true),
            "./etc/"
        );
    }
}
