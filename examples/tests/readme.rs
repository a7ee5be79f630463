//! The README's Quickstart is `examples/quickstart.rs`, character for character, so
//! the code users copy is code that compiles (the example builds with the tests).

#[test]
fn the_readme_quickstart_is_the_quickstart_example() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example =
        std::fs::read_to_string(format!("{root}/examples/examples/quickstart.rs")).unwrap();
    let section = &readme[readme.find("## Quickstart").expect("a Quickstart section")..];
    let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let block = &section[start..start + section[start..].find("```\n").expect("its end")];
    assert!(
        block == example,
        "README's Quickstart differs from examples/examples/quickstart.rs: copy the file in"
    );
}
