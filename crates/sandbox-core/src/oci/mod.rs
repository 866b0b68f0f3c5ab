//! The OCI runtime (issue 12): runc's command line over runtime-spec
//! bundles. `cli` parses argv and runs the lifecycle (`create`, `start`,
//! `state`, `kill`, `delete`, `run`) against the state under `--root`
//! (`state`); `spec` decodes and checks `config.json` before anything
//! exists; `options`, `resolve` and `seccomp` turn its mounts and filter
//! into what the container's pid 1 (`crate::container`) applies.

pub mod cli;
pub mod exec;
pub mod hooks;
pub mod options;
pub mod resolve;
pub mod seccomp;
pub mod spec;
pub mod state;
