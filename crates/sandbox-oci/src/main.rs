//! `sandboxctl-oci`: an OCI runtime with runc's command line (see
//! `sandbox_core::container::cli`). Started fresh by engines (conmon, containerd's
//! shim), single-threaded; this file only forwards argv.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(sandbox_core::container::cli::main(&sandbox_core::sys::LinuxSys, &args));
}
