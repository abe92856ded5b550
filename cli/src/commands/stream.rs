//! `micro stream <service> <Svc.Method>`: streaming calls, JSON lines in and out (one reply
//! per line, whatever `--output` says).

use micro::dynamic::DynamicMessage;
use micro::server::RpcKind;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::call::{options, parse, print_line};
use crate::Env;
use crate::cli::CallArgs;

/// Sends the request (server streaming) or the JSON lines read from stdin (client and
/// bidirectional streaming), and prints each reply as it arrives.
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
                _ => requests(&method)
                    .await?
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| DynamicMessage::new(method.input())),
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

/// The messages to send: the argument (one message), or stdin's JSON lines as they are
/// typed, so a bidirectional stream can be used interactively. The reader task reports a bad
/// line, which also ends the stream.
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
        if let Some(text) = argument {
            let _ = tx.send(parse(&method, &text)?).await;
            return Ok(());
        }
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut number = 0;
        while let Some(line) = lines.next_line().await? {
            number += 1;
            if line.trim().is_empty() {
                continue;
            }
            let message = parse(&method, &line)
                .map_err(|err| anyhow::anyhow!("stdin line {number}: {err}"))?;
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

/// Reads JSON lines from stdin until it closes; blank lines are skipped, and a bad line is
/// an error naming its number.
async fn requests(method: &micro::dynamic::Method) -> anyhow::Result<Vec<DynamicMessage>> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut messages = Vec::new();
    let mut number = 0;
    while let Some(line) = lines.next_line().await? {
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let message =
            parse(method, &line).map_err(|err| anyhow::anyhow!("stdin line {number}: {err}"))?;
        messages.push(message);
    }
    Ok(messages)
}
