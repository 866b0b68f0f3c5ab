//! Overlay option escaping (`sandbox_core::ops::overlay::escape`): for any
//! path, the escaped form has no separator overlayfs would split on (an
//! unescaped `,` or `:`), and the kernel's unescaping gives the path back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox_core::ops::overlay::escape;

/// overlayfs' reading of an escaped segment: `\x` stands for `x`; returns
/// None when a bare `,` or `:` would end the segment early.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            ',' | ':' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    if path.contains('\0') {
        return; // validation rejects NUL before escaping is ever reached
    }
    let escaped = escape(path);
    assert_eq!(unescape(&escaped).as_deref(), Some(path), "escape({path:?}) = {escaped:?}");
});
