//! Prints the filesystem view protocol's JSON Schema: `cargo run -q -p sandbox-core --example gen-view-schema`.
fn main() {
    print!("{}", sandbox_core::live::view::json_schema());
}
