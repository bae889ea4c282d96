//! Compile-time checks of `#[channel]`, `#[component]` and `#[state]`, and of rooms and
//! async handlers: what must compile, and what must not, with the
//! exact error a user sees (committed `.stderr` files).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
