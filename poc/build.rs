//! Compiles `proto/*.proto` with protox (pure Rust, no `protoc` needed): the messages, and with
//! the `grpc` feature the `PocLora` client and server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/lorapoc.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    // The gRPC client and server only with the `grpc` feature; the messages always.
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure()
        .build_client(grpc)
        .build_server(grpc)
        .compile_fds(descriptors)?;
    Ok(())
}
