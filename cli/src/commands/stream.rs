//! `micro stream <service> <Svc.Method>`: streaming calls, JSON messages in (one per line, or
//! any whitespace between them) and JSON lines out (one reply per line, whatever `--output`
//! says).

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use micro::dynamic::DynamicMessage;
use micro::server::RpcKind;
use tokio::io::AsyncReadExt;

use super::call::{options, parse, print_line};
use crate::Env;
use crate::cli::CallArgs;

/// Sends the request (server streaming) or the JSON messages of the argument or stdin (client
/// and bidirectional streaming), and prints each reply as it arrives.
pub(super) async fn run(env: &Env, args: &CallArgs) -> anyhow::Result<()> {
    let method = super::method(env, args).await?;
    let fail = |status: micro::Status| super::call_error(env, &args.service, &status);
    let client = &env.client;
    let service = &args.service;
    match method.kind() {
        RpcKind::Unary => {
            let request = parse(&method, args.request.as_deref().unwrap_or("{}"))?;
            let reply = options(env, args, client.dynamic_unary(service, &method, request))
                .await
                .map_err(fail)?;
            print_line(&reply)
        }
        RpcKind::ServerStreaming => {
            let request = match args.request.as_deref() {
                Some(text) if text != "-" => parse(&method, text)?,
                _ => request(&method).await?,
            };
            let call = client.dynamic_server_streaming(service, &method, request);
            let mut replies = options(env, args, call).await.map_err(fail)?;
            while let Some(reply) = replies.recv().await.map_err(fail)? {
                print_line(&reply)?;
            }
            Ok(())
        }
        RpcKind::ClientStreaming => {
            let (sent, reader) = outgoing(&method, args);
            let call = client.dynamic_client_streaming(service, &method, sent);
            let reply = options(env, args, call).await.map_err(fail);
            finish(reader).await?;
            print_line(&reply?)
        }
        RpcKind::BidiStreaming => {
            let (sent, reader) = outgoing(&method, args);
            let call = client.dynamic_bidi_streaming(service, &method, sent);
            let mut replies = options(env, args, call).await.map_err(fail)?;
            while let Some(reply) = replies.recv().await.map_err(fail)? {
                print_line(&reply)?;
            }
            finish(reader).await
        }
    }
}

type Reader = tokio::task::JoinHandle<anyhow::Result<()>>;

/// The largest request message read (the servers' default limit).
const MESSAGE_LIMIT: usize = micro::service::DEFAULT_MAX_MESSAGE_SIZE;

/// The messages to send: the argument's, or stdin's as they are typed, so a bidirectional
/// stream can be used interactively. The reader task reports a bad message, which also ends
/// the stream.
fn outgoing(
    method: &micro::dynamic::Method,
    args: &CallArgs,
) -> (
    impl futures_util::Stream<Item = DynamicMessage> + Send + 'static,
    Reader,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let method = method.clone();
    let argument = args.request.clone().filter(|text| text != "-");
    let reader = tokio::spawn(async move {
        let mut messages = Messages::new(&method, argument);
        while let Some(message) = messages.next().await? {
            if tx.send(message).await.is_err() {
                break;
            }
        }
        Ok(())
    });
    (tokio_stream::wrappers::ReceiverStream::new(rx), reader)
}

/// The reader's verdict once the call is over: a bad input line fails the command even if
/// the call went through. A reader still waiting for input (the server ended the call first)
/// is stopped.
async fn finish(reader: Reader) -> anyhow::Result<()> {
    if !reader.is_finished() {
        reader.abort();
        return Ok(());
    }
    reader.await?
}

/// The one request of a server-streaming call, from stdin: `{}` when it is empty; more than
/// one is an error rather than requests silently left unsent.
async fn request(method: &micro::dynamic::Method) -> anyhow::Result<DynamicMessage> {
    let mut messages = Messages::new(method, None);
    let first = messages.next().await?;
    if messages.next().await?.is_some() {
        anyhow::bail!(
            "{} takes one request, and stdin has more; send one JSON message",
            method.endpoint()
        );
    }
    Ok(first.unwrap_or_else(|| DynamicMessage::new(method.input())))
}

/// Request messages read from a text of JSON messages one after another (the argument, or
/// stdin as it arrives): one per line, though any whitespace, or none, between them will do,
/// so a pretty-printed file works too.
struct Messages<'a> {
    method: &'a micro::dynamic::Method,
    sequence: micro::http_rule::JsonSequence,
    source: Source,
}

type Source = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

impl<'a> Messages<'a> {
    fn new(method: &'a micro::dynamic::Method, argument: Option<String>) -> Self {
        let source = match argument {
            Some(text) => Full::new(Bytes::from(text))
                .map_err(|never| match never {})
                .boxed_unsync(),
            None => stdin().boxed_unsync(),
        };
        Messages {
            method,
            sequence: micro::http_rule::JsonSequence::new(),
            source,
        }
    }

    /// The next message; `None` after the last.
    async fn next(&mut self) -> anyhow::Result<Option<DynamicMessage>> {
        let Some(text) = (self.sequence.next_in(&mut self.source, MESSAGE_LIMIT).await)
            .map_err(|status| anyhow::anyhow!("{}", status.message()))?
        else {
            return Ok(None);
        };
        let number = self.sequence.count();
        let message = parse(self.method, &text)
            .map_err(|err| anyhow::anyhow!("request message {number}: {err}"))?;
        Ok(Some(message))
    }
}

/// Stdin as a body, a chunk each time some arrives (a typed line as soon as it is entered).
fn stdin() -> impl http_body::Body<Data = Bytes, Error = std::io::Error> + Send + 'static {
    let chunks = futures_util::stream::unfold(Some(tokio::io::stdin()), |stdin| async move {
        let mut stdin = stdin?;
        let mut chunk = BytesMut::with_capacity(8 * 1024);
        match stdin.read_buf(&mut chunk).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(Frame::data(chunk.freeze())), Some(stdin))),
            Err(err) => Some((Err(err), None)),
        }
    });
    StreamBody::new(chunks)
}
