//! The helloworld service: `Helloworld.Greeting` answers `"Hello " + name`.
//!
//! Run it:
//!
//! ```sh
//! cargo run -p examples --bin helloworld                      # listens on 127.0.0.1:8080
//! cargo run -p examples --bin helloworld -- --server-address 127.0.0.1:9090
//! ```
//!
//! Call it with any gRPC client, e.g. `cargo run -p examples --bin helloworld-client -- alice`
//! or `buf curl --protocol grpc --http2-prior-knowledge -d '{"name":"alice"}'
//! http://127.0.0.1:8080/helloworld.Helloworld/Greeting`.

use examples::helloworld::{HelloworldHandler, HelloworldServer, Request, Response};
use micro::{Context, Service, Status};

struct Greeter;

impl HelloworldHandler for Greeter {
    async fn greeting(&self, _ctx: Context, request: Request) -> Result<Response, Status> {
        Ok(Response {
            message: format!("Hello {}", request.name),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), micro::service::Error> {
    Service::new("helloworld")
        .address("127.0.0.1:8080")
        .handle(HelloworldServer::new(Greeter))
        .run()
        .await
}
