//! Prints the report line's JSON Schema: `cargo run -q -p sandbox-core --example gen-report-schema`.
fn main() {
    print!("{}", sandbox_core::report::json_schema());
}
