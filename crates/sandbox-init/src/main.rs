//! `sandboxctl-init`: the launcher and, after clone, the sandbox's pid 1.
//! Started fresh (never forked from Node), single-threaded. This file only
//! parses argv; everything else is `sandbox_core::launch`.
//!
//!   sandboxctl-init --plan-fd N     plan on fd N (one JSON line), reports back on it
//!   sandboxctl-init --plan FILE|-   plan from a file or stdin, errors on stderr
//!   sandboxctl-init --version
//!   sandboxctl-init client exec|stop|ps|root ...   act on live sandboxes (sandbox_core::live::client)
//!   sandboxctl-init join --plan-fd N (--tag T --count N --timeout-ms MS | --pid PID)   run --join (launch/join.rs)
//!   sandboxctl-init image import|pack|inspect …   the `image` commands (launch/image.rs)
//!   sandboxctl-init image-serve IMAGE_FD FUSE_FD READY_FD   a SquashFS root's FUSE server (image/serve.rs)

use sandbox_core::init::EXIT_SETUP;
use sandbox_core::launch::entry::{launch, PlanInput};
use sandbox_core::sys::{LinuxSys, Sys};

const USAGE: &str = "usage: sandboxctl-init --plan FILE | --plan-fd N | --version";

fn usage(msg: &str) -> ! {
    LinuxSys.log(&format!("E_USAGE: {msg}"));
    LinuxSys.exit(EXIT_SETUP)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("client") {
        sandbox_core::live::client::main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("join") {
        sandbox_core::launch::join::main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("image") {
        std::process::exit(sandbox_core::launch::image::main(&args[1..]));
    }
    if args.first().map(String::as_str) == Some("image-serve") {
        std::process::exit(sandbox_core::image::serve::main(&args[1..]));
    }
    let input = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["--version"] => {
            println!("sandboxctl-init {}", sandbox_core::VERSION);
            return;
        }
        ["--plan-fd", n] => PlanInput::Fd(n.parse().unwrap_or_else(|_| usage(&format!("bad fd {n}\n{USAGE}")))),
        ["--plan", "-"] => PlanInput::Stdin,
        ["--plan", file] => PlanInput::File(file.to_string()),
        _ => usage(USAGE),
    };
    launch(input)
}
