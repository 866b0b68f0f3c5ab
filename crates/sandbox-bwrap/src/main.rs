//! `sandboxctl-bwrap`: bubblewrap's command line over our init (see
//! `sandbox_bwrap`). Started fresh by its caller, single-threaded; this
//! file only forwards argv.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(sandbox_bwrap::main(args));
}
