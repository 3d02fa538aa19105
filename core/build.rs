//! Generates the relay's gRPC client and server from `proto/relay.proto` (protoc, as
//! etcd-client's build does).

fn main() {
    println!("cargo:rerun-if-changed=proto/relay.proto");
    // A frame's events as `bytes::Bytes`: one encoding of a batch is shared by every
    // console's frame rather than copied into each.
    if let Err(e) = tonic_prost_build::configure()
        .bytes(".switchboard.relay.v1.Frame")
        .compile_protos(&["proto/relay.proto"], &["proto"])
    {
        panic!("cannot generate the relay's protocol from proto/relay.proto: {e}");
    }
}
