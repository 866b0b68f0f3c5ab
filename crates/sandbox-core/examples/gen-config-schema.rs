//! Prints sandboxctl.json's JSON Schema: `cargo run -q -p sandbox-core --example gen-config-schema`.
fn main() {
    print!("{}", sandbox_core::config::json_schema());
}
