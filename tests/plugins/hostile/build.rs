fn main() {
    // A large shadow stack in linear memory, so that unbounded recursion exhausts the
    // host's native wasm stack limit first and the test sees the stack limit trip.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=-zstack-size=33554432");
    }
}
