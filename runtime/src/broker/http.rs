//! go-micro's HTTP broker: subscribers listen for `POST /?id=<node>` and register as nodes of
//! `micro.http.broker`; publishers find them in the registry and post each message to them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use super::fanout::{deliver_to_all, recipients};
use super::{
    BoxFuture, Broker, Error, ErrorKind, Handler, Message, SubscribeOptions, Subscriber,
    TOPIC_HEADER, deliver,
};
use crate::registry::{self, Cache, Node, Registry};

/// The registry service subscribers register under, as go-micro (v4+) names it.
pub const HTTP_SERVICE: &str = "micro.http.broker";

/// The version subscribers without a queue group register with, as go-micro does.
pub const HTTP_BROADCAST_VERSION: &str = "ff.http.broadcast";

/// Largest message body accepted: a 4 MiB message, base64-encoded, with headers.
const MAX_BODY: usize = 6 * 1024 * 1024;

/// How long one delivery may take, the handler included.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how an [`HttpBroker`] listens and registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Where to listen for deliveries (default `:0`: every IPv4 interface, a free port).
    pub address: String,
    /// The address to register instead of the listening one (for NAT and containers).
    pub advertise: Option<String>,
    /// How long a subscriber's registration lasts unless refreshed (default 1 minute).
    pub register_ttl: Duration,
    /// How often it is refreshed (default 30 s).
    pub register_interval: Duration,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            address: ":0".to_owned(),
            advertise: None,
            register_ttl: Duration::from_secs(60),
            register_interval: Duration::from_secs(30),
        }
    }
}

/// go-micro's default broker, wire-compatible with it: Go and Rust services publish to each
/// other's subscribers.
///
/// `publish` returns once every subscriber that should have the message answered `200`:
/// broadcast subscribers each get it, a queue group gets it once (on one random member, then
/// another if that one fails). A delivery is tried three times; what still fails is returned
/// as an [`ErrorKind::Undelivered`] error naming the topic, never dropped silently.
#[derive(Debug, Clone)]
pub struct HttpBroker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cache: Cache,
    options: HttpOptions,
    client: Client<HttpConnector, Full<Bytes>>,
    subscriptions: Mutex<HashMap<String, Local>>,
    listening: OnceCell<Listening>,
}

/// A subscription of this process.
struct Local {
    topic: String,
    handler: Handler,
    options: SubscribeOptions,
    heartbeat: JoinHandle<()>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("topic", &self.topic)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Listening {
    advertised: String,
    server: JoinHandle<()>,
}

impl HttpBroker {
    /// A broker that finds subscribers in `registry`.
    pub fn new(registry: Arc<dyn Registry>, options: HttpOptions) -> HttpBroker {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        HttpBroker {
            inner: Arc::new(Inner {
                cache: Cache::new(registry),
                options,
                client,
                subscriptions: Mutex::default(),
                listening: OnceCell::new(),
            }),
        }
    }

    async fn listen(&self) -> Result<&Listening, Error> {
        self.inner
            .listening
            .get_or_try_init(|| async {
                let listener = crate::net::bind(&self.inner.options.address)
                    .await
                    .map_err(|err| Error::new(ErrorKind::Config, format!("http broker: {err}")))?;
                let local = listener.local_addr().map_err(|err| {
                    Error::new(ErrorKind::Config, "http broker: no local address").with_source(err)
                })?;
                let advertised =
                    crate::net::advertised_address(local, self.inner.options.advertise.as_deref());
                let server = tokio::spawn(serve(listener, Arc::downgrade(&self.inner)));
                tracing::debug!(%local, %advertised, "http broker listening");
                Ok(Listening { advertised, server })
            })
            .await
    }

    fn registration(
        &self,
        id: &str,
        topic: &str,
        queue: Option<&str>,
        address: &str,
    ) -> registry::Service {
        let metadata = [("secure", "false"), ("broker", "http"), ("topic", topic)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        registry::Service {
            name: HTTP_SERVICE.to_owned(),
            version: queue.unwrap_or(HTTP_BROADCAST_VERSION).to_owned(),
            nodes: vec![Node {
                id: id.to_owned(),
                address: address.to_owned(),
                metadata,
            }],
            ..registry::Service::default()
        }
    }

    /// The subscribers of `topic`: `(queue, (node id, address))` for each registered node.
    async fn subscribers(
        &self,
        topic: &str,
    ) -> Result<Vec<(Option<String>, (String, String))>, Error> {
        let services = match self.inner.cache.get_service(HTTP_SERVICE).await {
            Ok(services) => services,
            Err(err) if err.kind() == registry::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("http broker: cannot find the subscribers of {topic}: {err}"),
                )
                .with_source(err));
            }
        };
        let mut found = Vec::new();
        for service in services {
            let queue = (service.version != HTTP_BROADCAST_VERSION).then_some(service.version);
            for node in service.nodes {
                let meta = |key: &str| node.metadata.get(key).map(String::as_str);
                if meta("broker") == Some("http") && meta("topic") == Some(topic) {
                    found.push((queue.clone(), (node.id, node.address)));
                }
            }
        }
        Ok(found)
    }

    /// Posts `body` to the subscriber `id` at `address`.
    async fn post(&self, id: &str, address: &str, body: Bytes) -> Result<(), Error> {
        let uri = format!("http://{address}/?id={}", percent_encode(id));
        let request = Request::post(&uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|err| {
                Error::new(
                    ErrorKind::Config,
                    format!("bad subscriber address {address}: {err}"),
                )
            })?;
        let response = tokio::time::timeout(DELIVERY_TIMEOUT, self.inner.client.request(request))
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("subscriber {id} at {address} took over {DELIVERY_TIMEOUT:?}"),
                )
            })?
            .map_err(|err| Error::unavailable("http subscriber", address, err))?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            // 404: the subscription has just ended; it no longer wants the message.
            return Ok(());
        }
        let detail = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Err(Error::new(
            ErrorKind::Undelivered,
            format!(
                "subscriber {id} at {address} answered {status}: {}",
                String::from_utf8_lossy(&detail)
            ),
        ))
    }
}

impl Broker for HttpBroker {
    fn connect(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async { self.listen().await.map(|_| ()) })
    }

    fn disconnect(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let ids: Vec<String> = self.inner.lock_subscriptions().keys().cloned().collect();
            for id in ids {
                self.inner.end(&id).await;
            }
            Ok(())
        })
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut message = message.clone();
            message
                .header
                .entry(TOPIC_HEADER.to_owned())
                .or_insert_with(|| topic.to_owned());
            let body = Bytes::from(message.to_json());
            let recipients = recipients(self.subscribers(topic).await?);
            deliver_to_all(topic, recipients, |(id, address): (String, String)| {
                let body = body.clone();
                async move { self.post(&id, &address, body).await }
            })
            .await
        })
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        handler: Handler,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscriber, Error>> {
        Box::pin(async move {
            let address = self.listen().await?.advertised.clone();
            let id = format!("{topic}-{}", uuid::Uuid::new_v4());
            let entry = self.registration(&id, topic, options.queue.as_deref(), &address);
            let registry = self.inner.cache.registry().clone();
            let ttl = self.inner.options.register_ttl;
            registry.register(&entry, Some(ttl)).await.map_err(|err| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("http broker: cannot register the subscriber to {topic}: {err}"),
                )
                .with_source(err)
            })?;
            let heartbeat = tokio::spawn(heartbeat(
                registry,
                entry,
                ttl,
                self.inner.options.register_interval,
            ));
            let local = Local {
                topic: topic.to_owned(),
                handler,
                options: options.clone(),
                heartbeat,
            };
            self.inner.lock_subscriptions().insert(id.clone(), local);
            // The subscription keeps the broker (its listener) alive.
            let inner = self.inner.clone();
            Ok(Subscriber::new(topic, options, move || async move {
                inner.end(&id).await;
                Ok(())
            }))
        })
    }

    fn address(&self) -> String {
        match self.inner.listening.get() {
            Some(listening) => listening.advertised.clone(),
            None => self.inner.options.address.clone(),
        }
    }

    fn name(&self) -> &'static str {
        "http"
    }
}

impl Inner {
    fn lock_subscriptions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Local>> {
        self.subscriptions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the subscription `id`: stops refreshing it and removes it from the registry.
    async fn end(&self, id: &str) {
        let Some(local) = self.lock_subscriptions().remove(id) else {
            return;
        };
        local.heartbeat.abort();
        let entry = registry::Service {
            name: HTTP_SERVICE.to_owned(),
            version: local
                .options
                .queue
                .clone()
                .unwrap_or_else(|| HTTP_BROADCAST_VERSION.to_owned()),
            nodes: vec![Node {
                id: id.to_owned(),
                ..Node::default()
            }],
            ..registry::Service::default()
        };
        if let Err(err) = self.cache.registry().deregister(&entry).await {
            tracing::warn!(%err, topic = %local.topic, "http broker: deregistering a subscriber failed; it lapses after its TTL");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listening) = self.listening.get() {
            listening.server.abort();
        }
        for local in self.lock_subscriptions().values() {
            local.heartbeat.abort();
        }
    }
}

/// Keeps a subscriber's registration alive.
async fn heartbeat(
    registry: Arc<dyn Registry>,
    entry: registry::Service,
    ttl: Duration,
    interval: Duration,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(err) = registry.register(&entry, Some(ttl)).await {
            tracing::warn!(%err, node = %entry.nodes[0].id, "http broker: refreshing a subscriber's registration failed");
        }
    }
}

/// Accepts connections until the broker is dropped.
async fn serve(listener: TcpListener, inner: std::sync::Weak<Inner>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(%err, "http broker: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let inner = inner.clone();
                async move { Ok::<_, std::convert::Infallible>(receive(inner, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Handles one delivery: `POST /?id=<node id>` with go-micro's message JSON.
async fn receive(
    inner: std::sync::Weak<Inner>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::POST {
        return error(crate::errors::Error::method_not_allowed(
            "go.micro.broker",
            "method not allowed; deliveries are POST /?id=<node id>",
        ));
    }
    let id = request.uri().query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("id="))
            .map(percent_decode)
    });
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(err) => {
            return error(crate::errors::Error::bad_request(
                "go.micro.broker",
                format!("cannot read the message: {err}"),
            ));
        }
    };
    let message = match Message::from_json(&body) {
        Ok(message) => message,
        Err(err) => {
            return error(crate::errors::Error::bad_request(
                "go.micro.broker",
                err.to_string(),
            ));
        }
    };
    let subscription = inner.upgrade().and_then(|inner| {
        let subscriptions = inner.lock_subscriptions();
        let local = subscriptions.get(id.as_deref()?)?;
        Some((
            local.handler.clone(),
            local.options.clone(),
            local.topic.clone(),
        ))
    });
    let Some((handler, options, topic)) = subscription else {
        return error(crate::errors::Error::not_found(
            "go.micro.broker",
            format!("no subscriber {id:?} here"),
        ));
    };
    match deliver(&handler, &topic, message, &options).await {
        Ok(()) => Response::new(Full::new(Bytes::new())),
        Err(err) => error(crate::errors::Error::internal_server_error(
            "go.micro.broker",
            err.to_string(),
        )),
    }
}

fn error(err: crate::errors::Error) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(err.to_json())));
    *response.status_mut() = err.http_status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Characters escaped in the `id` query parameter.
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY).to_string()
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let registry = crate::registry::from_uri("memory://").unwrap();
        let options = HttpOptions {
            address: "127.0.0.1:0".into(),
            ..HttpOptions::default()
        };
        super::super::conformance::run(Arc::new(HttpBroker::new(registry, options))).await;
    }

    #[test]
    fn ids_survive_the_query_string() {
        let id = "orders/eu-1 é";
        assert_eq!(percent_decode(&percent_encode(id)), id);
    }
}
