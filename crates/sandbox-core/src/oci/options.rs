//! The mount option table of config.md (every MUST and SHOULD row) as one
//! data table, and its reading into what `container::mounts` applies in
//! separate calls: the mount or bind itself, a remount for the flags the
//! kernel ignores on a first bind (mount(2): MS_RDONLY, MS_NOSUID… are
//! ignored with MS_BIND unless MS_REMOUNT), each propagation change on its
//! own, then the recursive `r*` attributes with mount_setattr(AT_RECURSIVE).
//!
//! Clearing options clear (`flags &= !f`, as runc): gVisor's seed XORs, so
//! there `["rw"]` alone *sets* read-only (`rw_alone_does_not_set_read_only`
//! pins ours). Unknown options are filesystem data, as config.md says.

/// What one option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Set (`true`) or clear a mount flag.
    Flag(bool, u64),
    /// A bind (`true`: recursive).
    Bind(bool),
    /// A propagation change (MS_PRIVATE… with MS_REC for the `r` forms).
    Propagation(u64),
    /// A recursive attribute: set (`true`) or clear MOUNT_ATTR_* bits.
    Attr(bool, u64),
    /// An atime mode applied recursively (MOUNT_ATTR__ATIME field).
    AtimeAttr(u64),
    /// Accepted and ignored (crun's `tmpcopyup`, the MAY row).
    Ignored,
}

const MS_NOSYMFOLLOW: u64 = 256;
const MS_LAZYTIME: u64 = 1 << 25;
pub const ATTR_RDONLY: u64 = 0x1;
pub const ATTR_NOSUID: u64 = 0x2;
pub const ATTR_NODEV: u64 = 0x4;
pub const ATTR_NOEXEC: u64 = 0x8;
pub const ATTR_ATIME: u64 = 0x70;
pub const ATTR_RELATIME: u64 = 0x0;
pub const ATTR_NOATIME: u64 = 0x10;
pub const ATTR_STRICTATIME: u64 = 0x20;
pub const ATTR_NODIRATIME: u64 = 0x80;
pub const ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

macro_rules! ms {
    ($f:ident) => {
        libc::$f as u64
    };
}

/// config.md's table (runc's and crun's readings where it is terse).
pub const TABLE: &[(&str, Effect)] = &[
    ("async", Effect::Flag(false, ms!(MS_SYNCHRONOUS))),
    ("atime", Effect::Flag(false, ms!(MS_NOATIME))),
    ("bind", Effect::Bind(false)),
    ("defaults", Effect::Flag(true, 0)),
    ("dev", Effect::Flag(false, ms!(MS_NODEV))),
    ("diratime", Effect::Flag(false, ms!(MS_NODIRATIME))),
    ("dirsync", Effect::Flag(true, ms!(MS_DIRSYNC))),
    ("exec", Effect::Flag(false, ms!(MS_NOEXEC))),
    ("iversion", Effect::Flag(true, ms!(MS_I_VERSION))),
    ("lazytime", Effect::Flag(true, MS_LAZYTIME)),
    ("loud", Effect::Flag(false, ms!(MS_SILENT))),
    ("mand", Effect::Flag(true, ms!(MS_MANDLOCK))),
    ("noatime", Effect::Flag(true, ms!(MS_NOATIME))),
    ("nodev", Effect::Flag(true, ms!(MS_NODEV))),
    ("nodiratime", Effect::Flag(true, ms!(MS_NODIRATIME))),
    ("noexec", Effect::Flag(true, ms!(MS_NOEXEC))),
    ("noiversion", Effect::Flag(false, ms!(MS_I_VERSION))),
    ("nolazytime", Effect::Flag(false, MS_LAZYTIME)),
    ("nomand", Effect::Flag(false, ms!(MS_MANDLOCK))),
    ("norelatime", Effect::Flag(false, ms!(MS_RELATIME))),
    ("nostrictatime", Effect::Flag(false, ms!(MS_STRICTATIME))),
    ("nosuid", Effect::Flag(true, ms!(MS_NOSUID))),
    ("nosymfollow", Effect::Flag(true, MS_NOSYMFOLLOW)),
    ("private", Effect::Propagation(ms!(MS_PRIVATE))),
    ("rbind", Effect::Bind(true)),
    ("relatime", Effect::Flag(true, ms!(MS_RELATIME))),
    ("remount", Effect::Flag(true, ms!(MS_REMOUNT))),
    ("ro", Effect::Flag(true, ms!(MS_RDONLY))),
    ("rprivate", Effect::Propagation(ms!(MS_PRIVATE) | ms!(MS_REC))),
    ("rshared", Effect::Propagation(ms!(MS_SHARED) | ms!(MS_REC))),
    ("rslave", Effect::Propagation(ms!(MS_SLAVE) | ms!(MS_REC))),
    ("runbindable", Effect::Propagation(ms!(MS_UNBINDABLE) | ms!(MS_REC))),
    ("rw", Effect::Flag(false, ms!(MS_RDONLY))),
    ("shared", Effect::Propagation(ms!(MS_SHARED))),
    ("silent", Effect::Flag(true, ms!(MS_SILENT))),
    ("slave", Effect::Propagation(ms!(MS_SLAVE))),
    ("strictatime", Effect::Flag(true, ms!(MS_STRICTATIME))),
    ("suid", Effect::Flag(false, ms!(MS_NOSUID))),
    ("symfollow", Effect::Flag(false, MS_NOSYMFOLLOW)),
    ("sync", Effect::Flag(true, ms!(MS_SYNCHRONOUS))),
    ("unbindable", Effect::Propagation(ms!(MS_UNBINDABLE))),
    // SHOULD: recursive attributes (mount_setattr, Linux 5.12).
    ("ratime", Effect::AtimeAttr(ATTR_RELATIME)),
    ("rdev", Effect::Attr(false, ATTR_NODEV)),
    ("rdiratime", Effect::Attr(false, ATTR_NODIRATIME)),
    ("rexec", Effect::Attr(false, ATTR_NOEXEC)),
    ("rnoatime", Effect::AtimeAttr(ATTR_NOATIME)),
    ("rnodev", Effect::Attr(true, ATTR_NODEV)),
    ("rnodiratime", Effect::Attr(true, ATTR_NODIRATIME)),
    ("rnoexec", Effect::Attr(true, ATTR_NOEXEC)),
    ("rnorelatime", Effect::AtimeAttr(ATTR_RELATIME)),
    ("rnostrictatime", Effect::AtimeAttr(ATTR_RELATIME)),
    ("rnosuid", Effect::Attr(true, ATTR_NOSUID)),
    ("rnosymfollow", Effect::Attr(true, ATTR_NOSYMFOLLOW)),
    ("rrelatime", Effect::AtimeAttr(ATTR_RELATIME)),
    ("rro", Effect::Attr(true, ATTR_RDONLY)),
    ("rrw", Effect::Attr(false, ATTR_RDONLY)),
    ("rstrictatime", Effect::AtimeAttr(ATTR_STRICTATIME)),
    ("rsuid", Effect::Attr(false, ATTR_NOSUID)),
    ("rsymfollow", Effect::Attr(false, ATTR_NOSYMFOLLOW)),
    // MAY.
    ("tmpcopyup", Effect::Ignored),
];

/// Options not implemented: refused rather than silently passed as data.
pub const UNSUPPORTED: &[&str] = &["idmap", "ridmap"];

/// A mount's options, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags for the mount call (and the remount after a bind).
    pub flags: u64,
    pub bind: bool,
    pub recursive: bool,
    /// Propagation changes, in order, each its own call.
    pub propagation: Vec<u64>,
    /// mount_setattr(AT_RECURSIVE): set and clear.
    pub attr_set: u64,
    pub attr_clr: u64,
    /// Unknown options, comma-joined: filesystem data.
    pub data: String,
}

/// Read an option list; `Err` names an unsupported option.
pub fn parse(options: &[String]) -> Result<MountOptions, String> {
    let mut m = MountOptions::default();
    let mut data = Vec::new();
    for o in options {
        if UNSUPPORTED.contains(&o.as_str()) {
            return Err(format!("mount option {o} is not supported"));
        }
        match TABLE.iter().find(|(n, _)| n == o).map(|(_, e)| *e) {
            Some(Effect::Flag(true, f)) => m.flags |= f,
            Some(Effect::Flag(false, f)) => m.flags &= !f,
            Some(Effect::Bind(rec)) => {
                m.bind = true;
                m.recursive |= rec;
            }
            Some(Effect::Propagation(p)) => m.propagation.push(p),
            Some(Effect::Attr(true, a)) => {
                m.attr_set |= a;
                m.attr_clr &= !a;
            }
            Some(Effect::Attr(false, a)) => {
                m.attr_clr |= a;
                m.attr_set &= !a;
            }
            Some(Effect::AtimeAttr(a)) => {
                m.attr_clr |= ATTR_ATIME;
                m.attr_set = (m.attr_set & !ATTR_ATIME) | a;
            }
            Some(Effect::Ignored) => {}
            None => data.push(o.as_str()),
        }
    }
    m.data = data.join(",");
    Ok(m)
}

/// Flags a remount after a bind applies (the ones the first bind ignores).
pub fn remount_flags(flags: u64) -> u64 {
    flags
        & (ms!(MS_RDONLY)
            | ms!(MS_NOSUID)
            | ms!(MS_NODEV)
            | ms!(MS_NOEXEC)
            | ms!(MS_NOATIME)
            | ms!(MS_NODIRATIME)
            | ms!(MS_RELATIME)
            | ms!(MS_STRICTATIME)
            | MS_NOSYMFOLLOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn every_must_and_should_row_is_in_the_table() {
        let must = "async atime bind defaults dev diratime dirsync exec iversion lazytime loud noatime nodev nodiratime noexec noiversion nolazytime norelatime nostrictatime nosuid private rbind relatime remount ro rprivate rshared rslave runbindable rw shared silent slave strictatime suid sync unbindable";
        let should = "nosymfollow symfollow ratime rdev rdiratime rexec rnoatime rnodiratime rnoexec rnorelatime rnostrictatime rnosuid rnosymfollow rrelatime rro rrw rstrictatime rsuid rsymfollow";
        for o in must.split(' ').chain(should.split(' ')) {
            assert!(TABLE.iter().any(|(n, _)| *n == o), "{o} missing");
        }
        let mut names: Vec<_> = TABLE.iter().map(|(n, _)| *n).collect();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
    }

    #[test]
    fn rw_alone_does_not_set_read_only() {
        // gVisor's seed XORs clear-type options: ["rw"] would set MS_RDONLY there.
        assert_eq!(p(&["rw"]).flags & libc::MS_RDONLY, 0);
        assert_eq!(p(&["ro", "rw"]).flags & libc::MS_RDONLY, 0);
        assert_ne!(p(&["ro", "ro"]).flags & libc::MS_RDONLY, 0);
        assert_ne!(p(&["rw", "ro"]).flags & libc::MS_RDONLY, 0);
    }

    #[test]
    fn binds_propagation_attrs_and_data() {
        let m = p(&["rbind", "nosuid", "ro", "rprivate", "rslave", "rro", "rnoatime", "mode=755", "size=64k"]);
        assert!(m.bind && m.recursive);
        assert_eq!(m.flags, libc::MS_NOSUID | libc::MS_RDONLY);
        assert_eq!(m.propagation, vec![libc::MS_PRIVATE | libc::MS_REC, libc::MS_SLAVE | libc::MS_REC]);
        assert_eq!(m.attr_set, ATTR_RDONLY | ATTR_NOATIME);
        assert_eq!(m.attr_clr, ATTR_ATIME);
        assert_eq!(m.data, "mode=755,size=64k");
        let m = p(&["bind"]);
        assert!(m.bind && !m.recursive);
        let m = p(&["rro", "rrw"]);
        assert_eq!((m.attr_set, m.attr_clr), (0, ATTR_RDONLY));
    }

    #[test]
    fn idmap_is_refused_and_tmpcopyup_ignored() {
        assert!(parse(&["idmap".to_string()]).is_err());
        assert_eq!(p(&["tmpcopyup"]), MountOptions::default());
    }

    #[test]
    fn remount_keeps_only_what_a_bind_ignores() {
        let m = p(&["remount", "ro", "nodev", "sync"]);
        assert_eq!(remount_flags(m.flags), libc::MS_RDONLY | libc::MS_NODEV);
    }
}
