//! The defaults an imported image keeps from its OCI or docker config
//! (`Env`, `Entrypoint`, `Cmd`, `WorkingDir`, `User`), stored inside the
//! image so they travel with it (a directory, or packed into SquashFS):
//!
//! - `/ch/environment`: `Env`, one `NAME=VALUE` a line, what ch-image writes
//!   and `ch-run --set-env` (no argument) reads;
//! - `/.sandboxctl/image.json`: all of it, as [`ImageMeta`]; `run --image`
//!   with no command runs `entrypoint` + `cmd` there, in `workingDir`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where [`ImageMeta`] is in an image.
pub const META_PATH: &str = ".sandboxctl/image.json";
/// Where `Env` is in an image, in ch-run's format.
pub const ENV_PATH: &str = "ch/environment";

/// An image's defaults, from the config it was imported from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageMeta {
    /// What the image came from: `oci-layout`, `oci-archive` or `docker-archive`.
    pub source: String,
    /// The config blob's digest (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    /// The config's `Env`: `NAME=VALUE` each.
    #[serde(default)]
    pub env: Vec<String>,
    /// The config's `Entrypoint` (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The config's `Cmd` (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The config's `WorkingDir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// The config's `User`: with no command, the ids the caller is mapped to (`UID[:GID]`, `root`, or a name resolved in the image's own /etc/passwd and /etc/group: image/user.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl ImageMeta {
    /// The command `run --image` runs when given none: entrypoint, then cmd.
    pub fn default_argv(&self) -> Vec<String> {
        self.entrypoint.iter().chain(self.cmd.iter()).flatten().cloned().collect()
    }

    /// `/ch/environment`: the `Env` entries that fit a line (a value with a
    /// newline cannot be written in ch-run's format and is left out; it stays
    /// in image.json).
    pub fn environment_file(&self) -> String {
        let mut s = String::new();
        for e in self.env.iter().filter(|e| !e.contains('\n') && e.find('=').is_some_and(|i| i > 0)) {
            s.push_str(e);
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_argv_is_entrypoint_then_cmd() {
        let m = ImageMeta { entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]), cmd: Some(vec!["echo hi".into()]), ..Default::default() };
        assert_eq!(m.default_argv(), ["/bin/sh", "-c", "echo hi"]);
        let m = ImageMeta { cmd: Some(vec!["/bin/sh".into()]), ..Default::default() };
        assert_eq!(m.default_argv(), ["/bin/sh"]);
        assert!(ImageMeta::default().default_argv().is_empty());
    }

    #[test]
    fn environment_file_skips_what_ch_run_cannot_read() {
        let m = ImageMeta { env: vec!["PATH=/bin".into(), "A=x\ny".into(), "=v".into(), "NOEQ".into(), "Q='q'".into()], ..Default::default() };
        assert_eq!(m.environment_file(), "PATH=/bin\nQ='q'\n");
    }
}
