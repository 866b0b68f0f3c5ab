//! Stage: validation. The plan's `root` alone, pure: a clean absolute image
//! path and a tmpfs size in the kernel's `size=` syntax (checked here so a
//! typo is a plan error, not a mount failure inside the sandbox).

use crate::check::check_abs;
use crate::plan::{ImageFormat, RootSpec, RootWrite};

/// Why `spec` cannot be used: (its JSON field, the reason).
pub fn check(spec: &RootSpec) -> Result<(), (&'static str, String)> {
    check_abs(&spec.image).map_err(|r| ("image", r))?;
    if spec.image == "/" {
        return Err(("image", "the host's root is not an image".into()));
    }
    if let Some(size) = &spec.fake_size {
        if spec.write != RootWrite::Fake {
            return Err(("fakeSize", "fakeSize goes with write \"fake\"".into()));
        }
        check_size(size).map_err(|r| ("fakeSize", r))?;
    }
    if spec.write == RootWrite::Writable && spec.format == ImageFormat::Squashfs {
        return Err(("write", "a SquashFS image cannot be written: use write \"fake\"".into()));
    }
    Ok(())
}

/// tmpfs `size=`: digits with an optional k, m, g (either case) or %, as
/// ch-run documents for `--write-fake` (`^[0-9]+[kmgKMG%]?$`).
pub fn check_size(size: &str) -> Result<(), String> {
    let digits = size.trim_end_matches(['k', 'm', 'g', 'K', 'M', 'G', '%']);
    let suffix = size.len() - digits.len();
    if digits.is_empty() || suffix > 1 || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 19 {
        return Err(format!("size {size:?} is not a tmpfs size (digits with an optional k, m, g or %)"));
    }
    if size.ends_with('%') && digits.parse::<u64>().map_or(true, |n| n == 0 || n > 100) {
        return Err(format!("size {size:?}: a percentage must be 1 to 100"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> RootSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_are_read_only_auto_and_recursive() {
        let s = spec(r#"{"image":"/img"}"#);
        assert_eq!((s.format, s.write, s.recursive, s.fake_size.as_deref()), (ImageFormat::Auto, RootWrite::ReadOnly, true, None));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"image":"/img"}"#);
        assert!(check(&s).is_ok());
    }

    #[test]
    fn bad_specs_name_their_field() {
        for (json, field) in [
            (r#"{"image":"img"}"#, "image"),
            (r#"{"image":"/a/../b"}"#, "image"),
            (r#"{"image":"/"}"#, "image"),
            (r#"{"image":"/i","fakeSize":"1G"}"#, "fakeSize"),
            (r#"{"image":"/i","write":"fake","fakeSize":"1T"}"#, "fakeSize"),
            (r#"{"image":"/i","write":"fake","fakeSize":"0%"}"#, "fakeSize"),
            (r#"{"image":"/i","write":"fake","fakeSize":"G"}"#, "fakeSize"),
            (r#"{"image":"/i","write":"fake","fakeSize":"1gg"}"#, "fakeSize"),
            (r#"{"image":"/i","write":"writable","format":"squashfs"}"#, "write"),
        ] {
            assert_eq!(check(&spec(json)).unwrap_err().0, field, "{json}");
        }
        for size in ["1G", "512m", "12%", "100%", "4096", "1k"] {
            assert!(check_size(size).is_ok(), "{size}");
        }
    }

    #[test]
    fn unknown_fields_and_modes_do_not_decode() {
        assert!(serde_json::from_str::<RootSpec>(r#"{"image":"/i","rw":true}"#).is_err());
        assert!(serde_json::from_str::<RootSpec>(r#"{"image":"/i","write":"rw"}"#).is_err());
        assert!(serde_json::from_str::<RootSpec>(r#"{"image":"/i","format":"tar"}"#).is_err());
    }
}
