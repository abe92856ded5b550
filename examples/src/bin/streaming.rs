//! The streaming service: one method of each RPC kind.
//!
//! Run it:
//!
//! ```sh
//! cargo run -p examples --bin streaming                       # listens on 127.0.0.1:8081
//! ```
//!
//! Then `cargo run -p examples --bin streaming-client`, or any gRPC client: it serves
//! reflection, so `buf curl --protocol grpc --http2-prior-knowledge -d '{"to":3}'
//! http://127.0.0.1:8081/streaming.Streamer/Count` needs no proto files.

use std::time::Duration;

use examples::streaming::{
    CountReply, CountRequest, Number, PingReply, PingRequest, StreamerHandler, StreamerServer,
    SumReply, Words,
};
use micro::{Context, Sender, Service, Status, Streaming};

struct Streamer;

impl StreamerHandler for Streamer {
    async fn ping(&self, _ctx: Context, request: PingRequest) -> Result<PingReply, Status> {
        Ok(PingReply { text: request.text })
    }

    async fn count(
        &self,
        _ctx: Context,
        request: CountRequest,
        responses: Sender<CountReply>,
    ) -> Result<(), Status> {
        let interval = Duration::from_millis(request.interval_ms.into());
        for number in 1..=request.to {
            responses.send(CountReply { number }).await?;
            tokio::time::sleep(interval).await;
        }
        Ok(())
    }

    async fn sum(&self, _ctx: Context, mut numbers: Streaming<Number>) -> Result<SumReply, Status> {
        let (mut total, mut count) = (0i64, 0u32);
        while let Some(number) = numbers.recv().await? {
            total = total
                .checked_add(number.value)
                .ok_or_else(|| Status::out_of_range("the sum overflows a 64-bit integer"))?;
            count += 1;
        }
        Ok(SumReply { total, count })
    }

    async fn shout(
        &self,
        _ctx: Context,
        mut words: Streaming<Words>,
        responses: Sender<Words>,
    ) -> Result<(), Status> {
        while let Some(words) = words.recv().await? {
            responses
                .send(Words {
                    text: words.text.to_uppercase(),
                })
                .await?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), micro::service::Error> {
    Service::new("streaming")
        .address("127.0.0.1:8081")
        .handle(StreamerServer::new(Streamer))
        .run()
        .await
}
