//! The committed TypeScript module matches the Rust declarations (a debug `cargo run`
//! rewrites it; this catches a commit made without one).

#[test]
fn the_typescript_module_is_current() {
    if let Err(error) = starter::typescript().check(starter::TYPESCRIPT) {
        panic!("{error}\nrun the server once (`cargo run`) to rewrite it");
    }
}
