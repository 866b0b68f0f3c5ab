//! What `sandboxctl-init image …` reports: one [`ImageInfo`] per command,
//! sent as the `image` report line (report.rs), the CLI's `--json` output.

use super::meta::ImageMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `{"event":"image",...}` report line: an image made or inspected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageInfo {
    /// The image's path, as given.
    pub path: String,
    /// `dir` or `squashfs`.
    pub format: String,
    /// A SquashFS image's compression (`gzip`, `zstd`, `xz`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// A SquashFS image's file size; a directory's file data in bytes.
    pub bytes: u64,
    /// Entries below the root (files, directories, links, others).
    pub files: u64,
    /// The defaults an import stored in the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ImageMeta>,
    /// The image's `/ch/environment`, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// What `image import` applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportCounts>,
    /// What `image pack` stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packed: Option<PackCounts>,
    /// The image config's `User`, when it names an account, resolved in the
    /// image's own /etc/passwd and /etc/group (`image inspect --meta-only`,
    /// what `run --image` with no command asks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ids: Option<UserIds>,
}

/// The counts of an import, over all layers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportCounts {
    pub layers: u32,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub fifos: u64,
    pub whiteouts: u64,
    /// Character and block devices in the layers, not made (an image's `/dev` is the host's).
    pub devices_skipped: u64,
    pub bytes: u64,
}

/// The counts of a pack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackCounts {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// FIFOs, sockets, device nodes.
    pub others: u64,
    /// Bytes of file data read.
    pub bytes: u64,
    /// Extra names of hard-linked files, stored as separate files sharing their data (backhand's writer has no hard-link inodes).
    pub hardlinks_split: u64,
    /// Entries whose extended attributes were not stored (backhand's writer has no xattr table).
    pub xattrs_dropped: u64,
    /// Mount points below the directory, kept as empty directories.
    pub mounts_skipped: u64,
}

/// The `{"event":"progress",...}` report line of `image import` and
/// `image pack` (with `--progress`; at most ten a second).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProgressInfo {
    /// `import` (bytes: of the layers as stored) or `pack` (bytes: of file data).
    pub phase: String,
    pub files: u64,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_files: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
}

/// Ids an image's `User` names (image/user.rs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserIds {
    pub uid: u32,
    /// The user's primary group, or the group named; absent for `UID` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}
