//! One HTTP/2 connection to one address: established on first use, re-established after it
//! breaks, multiplexing every call.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::CallTarget;
use super::failure::Failure;
use crate::Status;
use crate::codec::Format;
use crate::error_shape::chain;
use crate::rpc::Body;
use crate::selector::{Load, LoadGuard};

/// How long connecting may take before calls fail with `UNAVAILABLE`, as in go-micro.
/// How long connecting (TCP, then TLS) may take unless the client says otherwise.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an otherwise busy connection is pinged to detect a dead peer.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is considered dead.
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A lazily connected HTTP/2 (h2c) connection. Clones share it.
#[derive(Clone)]
pub(crate) struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    authority: Authority,
    /// How long connecting may take.
    connect_timeout: Duration,
    /// TLS with service identities, if the client has it.
    #[cfg(feature = "auth-tls")]
    tls: Option<crate::auth::ClientTls>,
    /// The live connection's sender, if any; cloned for each call.
    sender: RwLock<Option<SendRequest<Body>>>,
    /// Calls in flight: sent and not yet answered in full.
    streams: Arc<Load>,
    /// Held while connecting, so concurrent first calls share one attempt.
    connecting: tokio::sync::Mutex<()>,
    /// Set when a server asked for a client certificate this client does not have, to say
    /// so if the connection then fails (TLS 1.3 refuses it only after the handshake).
    #[cfg(feature = "auth-tls")]
    asked_for_certificate: Arc<std::sync::atomic::AtomicBool>,
}

impl Connection {
    pub(crate) fn new(authority: Authority, tls: &Tls, connect_timeout: Duration) -> Connection {
        #[cfg(not(feature = "auth-tls"))]
        let () = tls;
        Connection {
            shared: Arc::new(Shared {
                authority,
                connect_timeout,
                #[cfg(feature = "auth-tls")]
                tls: tls.clone(),
                sender: RwLock::new(None),
                streams: Arc::default(),
                connecting: tokio::sync::Mutex::new(()),
                #[cfg(feature = "auth-tls")]
                asked_for_certificate: Arc::default(),
            }),
        }
    }

    /// A sender on a live connection, connecting first if there is none; a new connection
    /// must be to `service` (with TLS, its certificate must say so).
    async fn sender(&self, service: &str) -> Result<SendRequest<Body>, String> {
        if let Some(sender) = self.live_sender() {
            return Ok(sender);
        }
        let _connecting = self.shared.connecting.lock().await;
        if let Some(sender) = self.live_sender() {
            return Ok(sender);
        }
        // Boxed: connecting (TCP, TLS, HTTP/2 handshakes) takes kilobytes of future state that
        // every call's future would otherwise carry and move.
        let sender = Box::pin(self.connect(service)).await?;
        self.set_sender(sender.clone());
        Ok(sender)
    }

    fn live_sender(&self) -> Option<SendRequest<Body>> {
        // The guarded value is only ever replaced whole, so a poisoned lock still holds a
        // consistent value.
        let sender = self
            .shared
            .sender
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sender
            .as_ref()
            .filter(|sender| !sender.is_closed())
            .cloned()
    }

    fn set_sender(&self, sender: SendRequest<Body>) {
        *self
            .shared
            .sender
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(sender);
    }

    /// How many calls are in flight on this connection.
    pub(crate) fn streams(&self) -> usize {
        self.shared.streams.current()
    }

    /// Whether both are the same connection.
    #[cfg(test)]
    pub(crate) fn is(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Counts one call in flight until the guard is dropped (when its response ends).
    pub(crate) fn start_stream(&self) -> LoadGuard {
        self.shared.streams.start()
    }

    /// Connects; an error says why, for [`unavailable`](Self::unavailable).
    async fn connect(&self, service: &str) -> Result<SendRequest<Body>, String> {
        let address = self.shared.authority.as_str();
        let within = self.shared.connect_timeout;
        let stream = match tokio::time::timeout(within, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => return Err(err.to_string()),
            Err(_) => {
                return Err(format!(
                    "no answer within {within:?} (--client-connect-timeout)"
                ));
            }
        };
        let _ = stream.set_nodelay(true);
        #[cfg(feature = "auth-tls")]
        if let Some(tls) = &self.shared.tls {
            let name = crate::auth::ClientTls::server_name(self.shared.authority.host())?;
            let asked = self.shared.asked_for_certificate.clone();
            let handshake = tls.connector(service, asked).connect(name, stream);
            let stream = match tokio::time::timeout(within, handshake).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => return Err(format!("TLS handshake failed: {err}")),
                Err(_) => return Err(format!("no TLS handshake within {within:?}")),
            };
            return self.handshake(stream).await;
        }
        #[cfg(not(feature = "auth-tls"))]
        let _ = service;
        self.handshake(stream).await
    }

    /// Starts HTTP/2 on `io` and drives the connection in a task of its own.
    async fn handshake<I>(&self, io: I) -> Result<SendRequest<Body>, String>
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .handshake(TokioIo::new(io))
            .await
            .map_err(|err| format!("HTTP/2 handshake failed: {err}"))?;
        let address = self.shared.authority.as_str().to_owned();
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%address, error = %err, "connection closed");
            }
        });
        Ok(sender)
    }

    /// Points the request at this connection's peer: gRPC over h2c, with JSON messages if the
    /// call asked for them.
    fn target(&self, request: &mut http::Request<Body>) -> Result<(), Status> {
        if request.extensions().get::<Format>() == Some(&Format::Json) {
            let content_type = http::HeaderValue::from_static(Format::Json.grpc_content_type());
            request
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, content_type);
        }
        let mut parts = request.uri().clone().into_parts();
        parts.scheme = Some(match self.is_tls() {
            true => Scheme::HTTPS,
            false => Scheme::HTTP,
        });
        parts.authority = Some(self.shared.authority.clone());
        super::attempt::Peer::record(request, self.shared.authority.as_str());
        *request.uri_mut() = http::Uri::from_parts(parts)
            .map_err(|err| Status::internal(format!("cannot build the request URI: {err}")))?;
        Ok(())
    }
}

impl Connection {
    /// Sends one request. A failure before the request is handed to the connection gives it
    /// back, so it can go elsewhere.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Response<Incoming>, Failure> {
        if let Err(status) = self.target(&mut request) {
            return Err(Failure::early(status));
        }
        let target = request.extensions().get::<CallTarget>().cloned();
        let unavailable = |detail: String| self.unavailable(target.as_ref(), detail);
        let service = target.as_ref().map_or("", |target| &target.service);
        let mut sender = match self.sender(service).await {
            Ok(sender) => sender,
            Err(detail) => return Err(Failure::unreachable(unavailable(detail), request)),
        };
        if let Err(err) = sender.ready().await {
            return Err(Failure::unreachable(unavailable(chain(&err)), request));
        }
        match sender.try_send_request(request).await {
            Ok(response) => Ok(response),
            Err(mut err) => {
                let unsent = err.take_message();
                let status = unavailable(chain(&err.into_error()));
                Err(match unsent {
                    Some(request) => Failure::unreachable(status, request),
                    None => Failure::broken(status),
                })
            }
        }
    }
}

impl Connection {
    fn is_tls(&self) -> bool {
        #[cfg(feature = "auth-tls")]
        return self.shared.tls.is_some();
        #[cfg(not(feature = "auth-tls"))]
        false
    }
}

/// TLS settings for new connections: service identities with the `auth-tls` feature.
#[cfg(feature = "auth-tls")]
pub(crate) type Tls = Option<crate::auth::ClientTls>;
/// TLS settings for new connections: none without the `auth-tls` feature.
#[cfg(not(feature = "auth-tls"))]
pub(crate) type Tls = ();

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("authority", &self.shared.authority)
            .finish()
    }
}

impl Connection {
    /// `UNAVAILABLE`, naming the peer and, when known, the call.
    fn unavailable(&self, target: Option<&CallTarget>, detail: String) -> Status {
        let call = target
            .map(|target| format!(" (calling {} {})", target.service, target.method.endpoint))
            .unwrap_or_default();
        Status::unavailable(format!(
            "cannot reach {}{call}: {detail}{}",
            self.shared.authority,
            self.hint(&detail)
        ))
    }

    /// What the user may do about a failure that TLS likely caused.
    fn hint(&self, detail: &str) -> &'static str {
        #[cfg(feature = "auth-tls")]
        if self
            .shared
            .asked_for_certificate
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return " (the server asked for a client certificate and this client has none: \
                    give it one, e.g. --tls-cert-file and --tls-key-file)";
        }
        // A TLS record read as an HTTP/2 frame: the peer speaks TLS, this client does not.
        // (or the TLS server hung up on the HTTP/2 preface first: a broken pipe).
        let garbled = detail.contains("frame with invalid size") || detail.contains("broken pipe");
        match !self.is_tls() && garbled {
            true => " (the server may expect TLS: call it with TLS, e.g. --tls-ca-file)",
            false => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connecting_stays_out_of_every_calls_future() {
        // Each call's future embeds `send`'s; the TCP, TLS and HTTP/2 handshakes' state is
        // boxed on the rare path, not carried (and copied) by every call (7 KiB when it was).
        let connection = Connection::new(
            "127.0.0.1:1".parse().unwrap(),
            &Tls::default(),
            DEFAULT_CONNECT_TIMEOUT,
        );
        let send = connection.send(http::Request::new(Body::empty()));
        assert!(
            std::mem::size_of_val(&send) < 2048,
            "{}",
            std::mem::size_of_val(&send)
        );
    }
}
