//! The network allow-list's pure half (issue 14): host rules parsed and
//! matched (`rules`), the address classes refused after a name is resolved
//! (`addr`), the named host sets (`hosts`). Inputs: `plan.network`'s
//! strings. Invariants: nothing here touches the kernel; a plan whose rules
//! do not parse never starts (validate.rs calls [`rules::Policy::parse`]).
//! The proxy that applies them lives in `proxy/`.

pub mod addr;
pub mod hosts;
pub mod rules;

/// The sandbox-side port of the HTTP proxy (127.0.0.1 and [::1]), as srt.
pub const HTTP_PORT: u16 = 3128;
/// The sandbox-side port of the SOCKS5 proxy, as srt.
pub const SOCKS_PORT: u16 = 1080;
