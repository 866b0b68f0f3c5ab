//! Images as the sandbox's root (issue 11): a directory or a SquashFS file
//! named by `plan.root`.
//!
//! - [`spec`]: the plan's `root` checked before anything exists.
//! - [`detect`]: what the image is (a directory, else the SquashFS magic
//!   and a sane superblock); in the launcher, before clone, so bad input
//!   fails before any namespace exists.
//! - [`fuse`]: the launcher's side of a SquashFS image: a detached FUSE
//!   mount made in a user namespace that maps 0 to the caller, served by
//!   [`serve`] outside the sandbox; pid 1 inherits the mount fd.
//! - [`serve`]: the FUSE server (`sandboxctl-init image-serve`): [`sqfs`]
//!   reads the image lazily, fuser answers the kernel.
//! - [`root`]: pid 1's side, in the root stage: the image bound (or
//!   FUSE-mounted, or overlaid with a tmpfs for fake writes) on the new
//!   root before the ops run, so every op target resolves inside the image.
//! - [`import`], [`pack`], [`inspect`]: the `image` commands, host side
//!   (`sandboxctl-init image …`, launch/image.rs): an OCI or docker archive
//!   into a directory or SquashFS image, a directory into SquashFS, what an
//!   image is. [`meta`]: the defaults an import keeps in the image;
//!   [`report`]: what the commands answer; [`progress`]: how far they got;
//!   [`user`]: an image config's `User` name resolved in the image's own files.

pub mod detect;
pub mod fuse;
pub mod import;
pub mod inspect;
pub mod meta;
pub mod pack;
pub mod progress;
pub mod report;
pub mod root;
pub mod serve;
pub mod spec;
pub mod sqfs;
#[cfg(test)]
mod tests;
pub mod user;

pub use detect::ImageKind;
