//! Compiles `sweep.proto` with protox, a pure-Rust protobuf compiler, so
//! building needs nothing but cargo (no `protoc` on the machine).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=sweep.proto");
    let descriptors = protox::compile(["sweep.proto"], ["."])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
