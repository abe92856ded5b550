//! go-micro's README service without a `.proto`: plain serde types, one `#[micro::handler]`.
//!
//! ```sh
//! cargo run -p examples --bin helloworld-plain        # listens on 127.0.0.1:8080
//! curl -XPOST -H 'Content-Type: application/json' -H 'Micro-Endpoint: Helloworld.Greeting' \
//!     -d '{"name":"alice"}' http://localhost:8080
//! {"message":"Hello alice"}
//! ```
//!
//! The same call works over Connect (`POST /helloworld.Helloworld/Greeting` with
//! `Content-Type: application/json`), gRPC with the JSON codec, and, through the descriptors
//! the types derive, protobuf: `grpcurl -plaintext -d '{"name":"alice"}' localhost:8080
//! helloworld.Helloworld/Greeting`.

use micro::{Context, Service, Status};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Request {
    name: String,
}

#[derive(Serialize, Deserialize)]
struct Response {
    message: String,
}

struct Helloworld;

#[micro::handler]
impl Helloworld {
    async fn greeting(&self, _ctx: Context, req: Request) -> Result<Response, Status> {
        Ok(Response {
            message: format!("Hello {}", req.name),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), micro::service::Error> {
    Service::new("helloworld")
        .address("127.0.0.1:8080")
        .handle(Helloworld)
        .run()
        .await
}
