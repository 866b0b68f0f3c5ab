//! `sandboxctl-front`: the native front of the `sandboxctl` command (see
//! `sandbox_front`). Started by the package's `bin/sandboxctl` script,
//! single-threaded; this file only forwards argv.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(sandbox_front::main(args));
}
