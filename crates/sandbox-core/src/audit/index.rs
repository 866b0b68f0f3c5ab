//! The gitlink entries (mode 160000: "a repository lives at this path") of a
//! git index file, versions 2, 3 and 4 (gitformat-index(5)). A gitlink makes
//! host `git status` enter the repository at that path and run its config
//! (core.fsmonitor), so a new one is a route into the host.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexError(pub &'static str);

impl std::fmt::Display for IndexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad index: {}", self.0)
    }
}

const STAT_LEN: usize = 40;
const EXTENDED: u16 = 0x4000;
const GITLINK: u32 = 0o160000;

fn be32(b: &[u8], at: usize) -> Result<u32, IndexError> {
    b.get(at..at + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok_or(IndexError("truncated entry"))
}

/// git's decode_varint (v4 path prefix lengths).
fn varint(b: &[u8], pos: &mut usize) -> Result<usize, IndexError> {
    let mut c = *b.get(*pos).ok_or(IndexError("truncated path"))?;
    *pos += 1;
    let mut val = (c & 127) as u64;
    while c & 128 != 0 {
        val += 1;
        if val > (u64::MAX >> 8) {
            return Err(IndexError("path prefix overflows"));
        }
        c = *b.get(*pos).ok_or(IndexError("truncated path"))?;
        *pos += 1;
        val = (val << 7) + (c & 127) as u64;
    }
    usize::try_from(val).map_err(|_| IndexError("path prefix overflows"))
}

/// Paths of the gitlink entries. `hash_len` is 20 (sha1) or 32 (sha256).
pub fn gitlinks(b: &[u8], hash_len: usize) -> Result<Vec<String>, IndexError> {
    if b.get(0..4) != Some(b"DIRC") {
        return Err(IndexError("no DIRC signature"));
    }
    let version = be32(b, 4)?;
    if !(2..=4).contains(&version) {
        return Err(IndexError("unknown version"));
    }
    let count = be32(b, 8)? as usize;
    let mut pos = 12;
    let mut prev: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for _ in 0..count {
        let start = pos;
        let mode = be32(b, start + 24)?;
        let flags_at = start + STAT_LEN + hash_len;
        let flags = b.get(flags_at..flags_at + 2).map(|s| u16::from_be_bytes([s[0], s[1]])).ok_or(IndexError("truncated entry"))?;
        let mut name_at = flags_at + 2;
        if flags & EXTENDED != 0 {
            if version < 3 {
                return Err(IndexError("extended flags in a version 2 index"));
            }
            name_at += 2;
        }
        let name: Vec<u8>;
        if version == 4 {
            let mut p = name_at;
            let strip = varint(b, &mut p)?;
            if strip > prev.len() {
                return Err(IndexError("path prefix longer than the previous path"));
            }
            let rest = b.get(p..).ok_or(IndexError("truncated path"))?;
            let nul = rest.iter().position(|&c| c == 0).ok_or(IndexError("unterminated path"))?;
            let mut n = prev[..prev.len() - strip].to_vec();
            n.extend_from_slice(&rest[..nul]);
            name = n;
            pos = p + nul + 1;
        } else {
            let rest = b.get(name_at..).ok_or(IndexError("truncated path"))?;
            let nul = rest.iter().position(|&c| c == 0).ok_or(IndexError("unterminated path"))?;
            name = rest[..nul].to_vec();
            // Entries are NUL-padded to a multiple of 8 bytes (1 to 8 NULs).
            pos = start + ((name_at - start + nul + 8) & !7);
            if pos > b.len() {
                return Err(IndexError("truncated entry"));
            }
        }
        if mode & 0o170000 == GITLINK {
            out.push(String::from_utf8_lossy(&name).into_owned());
        }
        prev = name;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An index of `(mode, path)` entries as git writes it.
    pub fn build(version: u32, hash_len: usize, entries: &[(u32, &str)], extended: bool) -> Vec<u8> {
        let mut b = b"DIRC".to_vec();
        b.extend(version.to_be_bytes());
        b.extend((entries.len() as u32).to_be_bytes());
        let mut prev = String::new();
        for (mode, path) in entries {
            let start = b.len();
            let mut stat = [0u8; STAT_LEN];
            stat[24..28].copy_from_slice(&mode.to_be_bytes());
            b.extend(stat);
            b.extend(vec![0xab; hash_len]);
            let mut flags = path.len().min(0xfff) as u16;
            if extended {
                flags |= EXTENDED;
            }
            b.extend(flags.to_be_bytes());
            if extended {
                b.extend([0, 0]);
            }
            if version == 4 {
                let common = prev.bytes().zip(path.bytes()).take_while(|(a, c)| a == c).count();
                let strip = prev.len() - common;
                assert!(strip < 128);
                b.push(strip as u8);
                b.extend(&path.as_bytes()[common..]);
                b.push(0);
            } else {
                b.extend(path.as_bytes());
                let len = b.len() - start;
                let padded = (len + 8) & !7;
                b.extend(vec![0; padded - len]);
            }
            prev = path.to_string();
        }
        b.extend([0u8; 20]);
        b
    }

    const FILE: u32 = 0o100644;

    #[test]
    fn finds_gitlinks_in_every_version() {
        let entries = [(FILE, "a.txt"), (GITLINK, "evil"), (FILE, "evil2/x"), (GITLINK, "lib/sub"), (0o120000, "link")];
        for (v, ext) in [(2, false), (3, false), (3, true), (4, false), (4, true)] {
            for hash in [20, 32] {
                assert_eq!(gitlinks(&build(v, hash, &entries, ext), hash).unwrap(), ["evil", "lib/sub"], "v{v} ext {ext} hash {hash}");
            }
        }
    }

    #[test]
    fn names_of_every_length_keep_their_padding() {
        for n in 1..20 {
            let name = "x".repeat(n);
            let b = build(2, 20, &[(GITLINK, &name), (GITLINK, "after")], false);
            assert_eq!(gitlinks(&b, 20).unwrap(), [name.as_str(), "after"]);
        }
    }

    #[test]
    fn v4_prefixes_share_the_previous_path() {
        let b = build(4, 20, &[(FILE, "dir/aaa"), (GITLINK, "dir/abc"), (GITLINK, "dir/abd/e")], false);
        assert_eq!(gitlinks(&b, 20).unwrap(), ["dir/abc", "dir/abd/e"]);
        let mut p = 0;
        assert_eq!(varint(&[0x80, 0x00], &mut p).unwrap(), 128);
        assert_eq!(p, 2);
    }

    #[test]
    fn refuses_damaged_files() {
        assert_eq!(gitlinks(b"DIRX\0\0\0\x02\0\0\0\0", 20), Err(IndexError("no DIRC signature")));
        assert_eq!(gitlinks(b"DIRC\0\0\0\x05\0\0\0\0", 20), Err(IndexError("unknown version")));
        let b = build(2, 20, &[(GITLINK, "abc")], false);
        assert_eq!(gitlinks(&b[..70], 20), Err(IndexError("truncated entry")));
        let b = build(2, 20, &[(GITLINK, "abc")], true);
        assert_eq!(gitlinks(&b, 20), Err(IndexError("extended flags in a version 2 index")));
        let mut b = build(4, 20, &[(GITLINK, "abc")], false);
        b[74] = 9;
        assert_eq!(gitlinks(&b, 20), Err(IndexError("path prefix longer than the previous path")));
        let b = build(2, 20, &[(FILE, "a")], false);
        let mut many = b[..b.len() - 20].to_vec();
        many[11] = 2;
        assert_eq!(gitlinks(&many, 20), Err(IndexError("truncated entry")));
        assert_eq!(gitlinks(&build(2, 20, &[], false), 20).unwrap(), Vec::<String>::new());
    }
}
