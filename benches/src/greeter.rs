//! What the micro benchmarks share: the helloworld proto as micro generates it, the greeter
//! they serve, and the call they make.

#![allow(dead_code)]

#[allow(dead_code, unreachable_pub, missing_docs)]
pub(crate) mod pb {
    micro::include_proto!("micro/helloworld");
}

/// Answers `Hello <name>`.
pub(crate) struct Greeter;

impl pb::HelloworldHandler for Greeter {
    async fn greeting(
        &self,
        _ctx: micro::Context,
        request: pb::Request,
    ) -> Result<pb::Response, micro::Status> {
        Ok(pb::Response {
            message: format!("Hello {}", request.name),
        })
    }
}

/// One greeting through `client`, checked; the client back for the next call.
pub(crate) async fn greet(client: pb::HelloworldClient) -> pb::HelloworldClient {
    let reply = client
        .greeting(pb::Request {
            name: "bench".into(),
        })
        .await;
    assert_eq!(reply.expect("micro call").message, "Hello bench");
    client
}

/// Gives each load task its own clone of `client`.
pub(crate) fn caller(
    client: &pb::HelloworldClient,
) -> impl Fn() -> std::future::Ready<pb::HelloworldClient> + Copy + '_ {
    move || std::future::ready(client.clone())
}
