//! Leaf checks shared by the plan validator and the ops: the limits a plan
//! must stay within and the shape of a path, a mode, a hostname or an
//! environment name. Imports nothing of the crate, so every layer may use it.

/// Longest path accepted (PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// Most ops in one plan.
pub const MAX_OPS: usize = 4096;
/// Most argv entries; longest single string.
pub const MAX_ARGS: usize = 65_536;
pub const MAX_STRING: usize = 131_072;
/// Largest inline file (`file` op `data`).
pub const MAX_FILE_DATA: usize = 16 << 20;
/// Most audit roots in one plan.
pub const MAX_AUDIT_ROOTS: usize = 64;

/// Why `p` is not a clean absolute path, if it is not.
pub fn check_abs(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("path is empty".into());
    }
    if p.len() > MAX_PATH {
        return Err(format!("path is longer than {MAX_PATH} bytes"));
    }
    if p.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    if !p.starts_with('/') {
        return Err(format!("path {p} is not absolute"));
    }
    if p.split('/').any(|c| c == "..") {
        return Err(format!("path {p} contains .."));
    }
    Ok(())
}

/// Why `mode` is not a file mode (permission, setuid, setgid and sticky bits).
pub fn check_mode(mode: u32) -> Result<(), String> {
    if mode > 0o7777 {
        return Err(format!("mode {mode:o} has bits beyond 07777"));
    }
    Ok(())
}

/// Why `k` cannot name an environment variable.
pub fn check_env_name(k: &str) -> Result<(), String> {
    if k.is_empty() {
        return Err("variable name is empty".into());
    }
    if k.contains('=') || k.contains('\0') {
        return Err(format!("variable name {k:?} contains = or NUL"));
    }
    Ok(())
}

/// A hostname as RFC 1123 and the kernel take it: dot-separated labels of
/// 1 to 63 letters, digits and hyphens, no hyphen first or last, 64 bytes at
/// most (`__NEW_UTS_LEN`). Programs print it into prompts, logs and files: a
/// newline or a control character would be a forged line there (issue 8).
pub fn check_hostname(h: &str) -> Result<(), String> {
    if h.is_empty() || h.len() > 64 {
        return Err(format!("hostname must be 1 to 64 bytes, got {}", h.len()));
    }
    if let Some(c) = h.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
        return Err(format!("hostname may hold only letters, digits, '-' and '.' (RFC 1123), not {c:?}"));
    }
    for label in h.split('.') {
        if label.is_empty() {
            return Err("hostname has an empty label (a leading, trailing or doubled '.')".into());
        }
        if label.len() > 63 {
            return Err(format!("hostname label {label:?} is longer than 63 bytes"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("hostname label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

/// A live sandbox's name: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$` (docker's
/// rule). It names a directory in the registry, so nothing else may pass.
pub fn check_sandbox_name(n: &str) -> Result<(), String> {
    let ok_first = n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    let ok_rest = n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if !ok_first || !ok_rest || n.len() > 63 {
        return Err(format!("invalid sandbox name {n:?}: use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_follow_rfc_1123_and_the_kernel_limit() {
        for ok in ["sandbox", "build", "a", "box-1", "web01.example.org", "0", "9lives", "A-Z", &"a".repeat(63), &format!("{}.b", "a".repeat(62))] {
            assert_eq!(check_hostname(ok), Ok(()), "{ok:?}");
        }
        let long = "a".repeat(65);
        let label = "a".repeat(64);
        for bad in [
            "",
            "box\nroot",
            "box\r",
            "a\tb",
            "a\u{1b}[31m",
            "a\0b",
            "a b",
            "a/b",
            "a_b",
            "ünï",
            "-a",
            "a-",
            "a.-b",
            "a..b",
            ".a",
            "a.",
            long.as_str(),
            label.as_str(),
        ] {
            assert!(check_hostname(bad).is_err(), "{bad:?}");
        }
        // each refusal says what is wrong
        assert_eq!(check_hostname("box\nroot").unwrap_err(), "hostname may hold only letters, digits, '-' and '.' (RFC 1123), not '\\n'");
        assert_eq!(check_hostname(&long).unwrap_err(), "hostname must be 1 to 64 bytes, got 65");
        assert_eq!(check_hostname(&label).unwrap_err(), format!("hostname label {label:?} is longer than 63 bytes"));
        assert_eq!(check_hostname("a..b").unwrap_err(), "hostname has an empty label (a leading, trailing or doubled '.')");
        assert_eq!(check_hostname("-a").unwrap_err(), "hostname label \"-a\" starts or ends with '-'");
    }

    #[test]
    fn paths_and_modes() {
        assert_eq!(check_abs("/a/b"), Ok(()));
        assert_eq!(check_abs("a").unwrap_err(), "path a is not absolute");
        assert_eq!(check_abs("/a/../b").unwrap_err(), "path /a/../b contains ..");
        assert_eq!(check_abs("/a\0").unwrap_err(), "path contains a NUL byte");
        assert_eq!(check_abs("").unwrap_err(), "path is empty");
        assert!(check_abs(&format!("/{}", "a".repeat(MAX_PATH))).is_err());
        assert_eq!(check_mode(0o7777), Ok(()));
        assert_eq!(check_mode(0o17777).unwrap_err(), "mode 17777 has bits beyond 07777");
    }
}
