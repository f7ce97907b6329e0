//! Compiles `proto/devsim.proto` into Rust types. `protox` is a pure-Rust protobuf compiler, so
//! building needs no `protoc` binary on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/devsim.proto");
    let descriptors = protox::compile(["proto/devsim.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
