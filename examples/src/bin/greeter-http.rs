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
//! curl -N http://127.0.0.1:8080/v1/countdown/3                    # events of each `tick`
//! ```
//!
//! `Tally` and `Chat` stream requests: call them over a WebSocket on their rule's path
//! (`ws://127.0.0.1:8080/v1/polls/lunch/votes`, one JSON frame per vote, an empty frame to
//! end), as `docs/gateway.md` shows.

use examples::greeter::{
    ChatLine, CountdownReply, CountdownRequest, EchoReply, EchoRequest, FailReply, FailRequest,
    GreetReply, GreetRequest, GreeterHandler, GreeterServer, TallyReply, Tick, Vote,
};
use micro::{Code, Context, Sender, Service, Status, Streaming};

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

    async fn countdown(
        &self,
        _ctx: Context,
        request: CountdownRequest,
        responses: Sender<CountdownReply>,
    ) -> Result<(), Status> {
        if request.from > MAX_COUNTDOWN {
            return Err(Status::invalid_argument(format!(
                "`from` is {}; count down from at most {MAX_COUNTDOWN}",
                request.from
            )));
        }
        for remaining in (1..=request.from).rev() {
            let tick = Some(Tick { remaining });
            responses.send(CountdownReply { tick }).await?;
        }
        Ok(())
    }

    async fn tally(&self, _ctx: Context, mut votes: Streaming<Vote>) -> Result<TallyReply, Status> {
        let mut tally = TallyReply::default();
        while let Some(vote) = votes.recv().await? {
            if vote.choice.is_empty() {
                return Err(Status::invalid_argument("a vote without a choice"));
            }
            tally.poll = vote.poll;
            *tally.votes.entry(vote.choice).or_default() += 1;
            tally.total += 1;
        }
        Ok(tally)
    }

    async fn chat(
        &self,
        _ctx: Context,
        mut lines: Streaming<ChatLine>,
        responses: Sender<ChatLine>,
    ) -> Result<(), Status> {
        while let Some(line) = lines.recv().await? {
            let text = format!("[{}] {}", line.room, line.text);
            responses.send(ChatLine { text, ..line }).await?;
        }
        Ok(())
    }
}

/// The most `Countdown` counts down from.
const MAX_COUNTDOWN: u32 = 1000;

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
