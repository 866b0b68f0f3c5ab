//! What an OCI bundle says (issue 12), below the runtime that acts on it
//! (`crate::container`): `spec` decodes and checks `config.json` before
//! anything exists; `options`, `resolve` and `seccomp` turn its mounts and
//! filter into what the container's pid 1 applies; `state` is the record
//! under `--root`; `hooks` runs the spec's hooks.

pub mod hooks;
pub mod options;
pub mod resolve;
pub mod seccomp;
pub mod spec;
pub mod state;
