//! Live sandboxes (issue 13): a sandbox that keeps running under a name and
//! takes requests. The launcher becomes the supervisor ([`supervisor`]): it
//! owns the registry entry ([`registry`]) and the listening control socket,
//! checks every peer (same uid, same user namespace) and hands the accepted
//! connection to pid 1. pid 1 ([`pid1`]) serves it: it forks the programs
//! `exec` asks for after its own privilege drop, so they inherit exactly the
//! sandbox's seccomp filters, Landlock domain, capabilities (none) and
//! no_new_privs; nothing is re-derived and nobody calls setns. The native
//! client ([`client`], `sandboxctl-init client ...`) passes its stdio with
//! SCM_RIGHTS, relays signals and exits with the program's status.
//!
//! The control protocol ([`proto`]) is SOCK_SEQPACKET, one JSON message per
//! datagram with its fds; [`net`] holds the socket calls.

pub mod client;
pub mod copy;
pub mod net;
pub mod pid1;
pub mod proto;
pub mod registry;
pub mod supervisor;
pub mod view;
