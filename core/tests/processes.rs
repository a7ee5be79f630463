//! Placeholder: processes test.
fn main() {}
