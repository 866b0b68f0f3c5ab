//! Tar streams into and out of directories, on the host side.
//!
//! - [`safe_extract`]: one tar stream into a directory fd, never outside it
//!   (image layers for `image import`; LIVE's `cp` into a sandbox).

pub mod safe_extract;
#[cfg(test)]
mod tests;
