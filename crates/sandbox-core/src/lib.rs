//! sandboxctl core: the plan schema, its validation, the setup ops, the
//! seccomp compiler and the pid-1 init sequence, all behind the `Sys`
//! syscall seam. No napi here: the addon and the init executable depend on
//! this crate, never the other way.

pub mod archive;
pub mod audit;
pub mod caps;
pub mod cgroup;
pub mod check;
pub mod config;
pub mod container;
pub mod env;
pub mod error;
pub mod image;
pub mod init;
pub mod launch;
pub mod live;
pub mod net;
pub mod oci;
pub mod ops;
pub mod plan;
pub mod probe;
pub mod proxy;
pub mod report;
pub mod seccomp;
pub mod sys;
pub mod validate;

pub use error::{Code, Error};
pub use plan::Plan;

/// Version of this build, shared by the addon and the init executable.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
