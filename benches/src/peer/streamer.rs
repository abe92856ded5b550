//! The streaming service (proto/streaming.proto) in micro and in tonic, as the Go peers serve
//! it: Count sends 1..=to (sleeping `interval_ms` between numbers when it is not 0), Sum adds,
//! Shout answers each message upper-cased.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};

use super::micro_pb::streaming as m;
use super::tonic_pb::streaming as t;

/// The streaming service in micro.
pub(crate) struct MicroStreamer;

impl m::StreamerHandler for MicroStreamer {
    async fn ping(
        &self,
        _: micro::Context,
        request: m::PingRequest,
    ) -> Result<m::PingReply, micro::Status> {
        Ok(m::PingReply { text: request.text })
    }

    async fn count(
        &self,
        _: micro::Context,
        request: m::CountRequest,
        replies: micro::Sender<m::CountReply>,
    ) -> Result<(), micro::Status> {
        let interval = Duration::from_millis(request.interval_ms.into());
        for number in 1..=request.to {
            replies.send(m::CountReply { number }).await?;
            if !interval.is_zero() {
                tokio::time::sleep(interval).await;
            }
        }
        Ok(())
    }

    async fn sum(
        &self,
        _: micro::Context,
        mut numbers: micro::Streaming<m::Number>,
    ) -> Result<m::SumReply, micro::Status> {
        let (mut total, mut count) = (0i64, 0u32);
        while let Some(number) = numbers.recv().await? {
            total = total.wrapping_add(number.value);
            count += 1;
        }
        Ok(m::SumReply { total, count })
    }

    async fn shout(
        &self,
        _: micro::Context,
        mut words: micro::Streaming<m::Words>,
        replies: micro::Sender<m::Words>,
    ) -> Result<(), micro::Status> {
        while let Some(words) = words.recv().await? {
            let text = words.text.to_uppercase();
            replies.send(m::Words { text }).await?;
        }
        Ok(())
    }
}

/// The streaming service in tonic.
pub(crate) struct TonicStreamer;

type Replies<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl t::streamer_server::Streamer for TonicStreamer {
    type CountStream = Replies<t::CountReply>;
    type ShoutStream = Replies<t::Words>;

    async fn ping(
        &self,
        request: tonic::Request<t::PingRequest>,
    ) -> Result<tonic::Response<t::PingReply>, tonic::Status> {
        let text = request.into_inner().text;
        Ok(tonic::Response::new(t::PingReply { text }))
    }

    async fn count(
        &self,
        request: tonic::Request<t::CountRequest>,
    ) -> Result<tonic::Response<Self::CountStream>, tonic::Status> {
        let request = request.into_inner();
        let interval = Duration::from_millis(request.interval_ms.into());
        let numbers = futures::stream::iter(1..=request.to).then(move |number| async move {
            if !interval.is_zero() && number > 1 {
                tokio::time::sleep(interval).await;
            }
            Ok(t::CountReply { number })
        });
        Ok(tonic::Response::new(Box::pin(numbers)))
    }

    async fn sum(
        &self,
        request: tonic::Request<tonic::Streaming<t::Number>>,
    ) -> Result<tonic::Response<t::SumReply>, tonic::Status> {
        let mut numbers = request.into_inner();
        let (mut total, mut count) = (0i64, 0u32);
        while let Some(number) = numbers.message().await? {
            total = total.wrapping_add(number.value);
            count += 1;
        }
        Ok(tonic::Response::new(t::SumReply { total, count }))
    }

    async fn shout(
        &self,
        request: tonic::Request<tonic::Streaming<t::Words>>,
    ) -> Result<tonic::Response<Self::ShoutStream>, tonic::Status> {
        let words = request.into_inner().map(|words| {
            words.map(|words| t::Words {
                text: words.text.to_uppercase(),
            })
        });
        Ok(tonic::Response::new(Box::pin(words)))
    }
}
