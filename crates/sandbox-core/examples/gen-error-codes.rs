//! Prints every error code with its description:
//! `cargo run -q -p sandbox-core --example gen-error-codes`.
fn main() {
    print!("{}", sandbox_core::error::codes_json());
}
