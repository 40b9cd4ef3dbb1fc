//! Handle misuse that must not compile: a second close, a use after close or abort, a
//! clone. The compiler's messages are checked against `tests/ui/*.stderr` (stable Rust;
//! regenerate with `TRYBUILD=overwrite cargo test --test compile_fail` after a toolchain
//! change, and review the diff).

#[test]
fn handle_misuse_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
