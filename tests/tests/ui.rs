//! Compile-fail and compile-pass tests of `#[derive(SessionData)]`: one file per mistake, each
//! with its pinned `.stderr` (regenerate with `TRYBUILD=overwrite` and read the diff).

#[test]
fn derive_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}
