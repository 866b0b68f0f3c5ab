//! Prints the plan's JSON Schema: `cargo run -q -p sandbox-core --example gen-schema`.
fn main() {
    print!("{}", sandbox_core::plan::json_schema());
}
