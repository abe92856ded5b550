//! The greeter service: methods with google.api.http rules (`proto/greeter_http.proto`), for
//! the API gateway to serve as REST routes.
//!
//! Run it with a registry the gateway shares, then call it through the gateway:
//!
//! ```sh
//! cargo run -p examples --features full --bin greeter-http -- --registry etcd
//! cargo run -p micro-cli -- --registry etcd gateway --address :8080
//! curl http://127.0.0.1:8080/v1/greet/alice                       # GET /v1/greet/{name}
//! curl -d '{"name":"bob"}' http://127.0.0.1:8080/v1/greet          # POST, body "*"
//! curl -d '{"name":"bob"}' http://127.0.0.1:8080/greeter/Greeter.Greet
//! ```

use examples::greeter::{
    EchoReply, EchoRequest, FailReply, FailRequest, GreetReply, GreetRequest, GreeterHandler,
    GreeterServer,
};
use micro::{Code, Context, Service, Status};

struct Greeter;

/// The metadata `Echo` answers with, when the call carries it.
const ECHOED: [&str; 7] = [
    "authorization",
    "x-request-id",
    "traceparent",
    "tracestate",
    "micro-tenant",
    "cookie",
    "x-forwarded-for",
];

impl GreeterHandler for Greeter {
    async fn greet(&self, _ctx: Context, request: GreetRequest) -> Result<GreetReply, Status> {
        Ok(GreetReply {
            message: greeting(&request),
        })
    }

    async fn echo(&self, ctx: Context, _request: EchoRequest) -> Result<EchoReply, Status> {
        let metadata = ECHOED
            .iter()
            .filter_map(|&key| Some((key.to_owned(), ctx.get(key)?.to_owned())))
            .collect();
        Ok(EchoReply { metadata })
    }

    async fn fail(&self, _ctx: Context, request: FailRequest) -> Result<FailReply, Status> {
        let delay = std::time::Duration::from_millis(request.delay_ms.into());
        tokio::time::sleep(delay).await;
        Err(Status::new(Code::from(request.code), request.message))
    }
}

fn greeting(request: &GreetRequest) -> String {
    let options = request.options.clone().unwrap_or_default();
    let word = match options.greeting.as_str() {
        "" => "Hello",
        word => word,
    };
    let once = format!("{word} {}", request.name);
    let message = vec![once; options.times.clamp(1, 10) as usize].join(" ");
    match options.shout {
        true => message.to_uppercase(),
        false => message,
    }
}

#[tokio::main]
async fn main() -> Result<(), micro::service::Error> {
    Service::new("greeter")
        .address("127.0.0.1:8082")
        .handle(GreeterServer::new(Greeter))
        .run()
        .await
}
