//! Compile-time checks of `#[channel]`: what must compile, and what must not, with the
//! exact error a user sees (committed `.stderr` files).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
