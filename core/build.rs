//! Generates the relay's gRPC client and server from `proto/relay.proto` (protoc, as
//! etcd-client's build does).

fn main() {
    println!("cargo:rerun-if-changed=proto/relay.proto");
    if let Err(e) =
        tonic_prost_build::configure().compile_protos(&["proto/relay.proto"], &["proto"])
    {
        panic!("cannot generate the relay's protocol from proto/relay.proto: {e}");
    }
}
