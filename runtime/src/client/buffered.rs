//! What the retry layer keeps in memory to send a request again.

use bytes::Bytes;
use http_body_util::Full;

use super::CallTarget;
use super::route::{CallDeadline, Route, Tried};
use crate::Status;
use crate::codec::Whole;
use crate::rpc::Body;

/// A buffered request that can be sent again: its body, headers, and the extensions the
/// layers below read (copied only when a retry happens).
pub(super) struct Replay {
    uri: http::Uri,
    headers: http::HeaderMap,
    target: Option<CallTarget>,
    deadline: Option<CallDeadline>,
    route: Option<Route>,
    tried: Option<Tried>,
    codec: Option<crate::codec::Format>,
    body: Bytes,
}

impl Replay {
    /// Reads the request body into memory, leaving a copy in `request`.
    pub(super) async fn buffer(request: &mut http::Request<Body>) -> Result<Replay, Status> {
        let body = std::mem::replace(request.body_mut(), Body::empty());
        let (body, _) = Whole::read(body).await?.into_parts();
        let body = body.unwrap_or_default();
        *request.body_mut() = Body::new(Full::new(body.clone()));
        let extensions = request.extensions();
        Ok(Replay {
            uri: request.uri().clone(),
            headers: request.headers().clone(),
            target: extensions.get().cloned(),
            deadline: extensions.get().copied(),
            route: extensions.get().cloned(),
            tried: extensions.get().cloned(),
            codec: extensions.get().copied(),
            body,
        })
    }

    pub(super) fn request(&self) -> http::Request<Body> {
        let mut request = http::Request::new(Body::new(Full::new(self.body.clone())));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        let extensions = request.extensions_mut();
        self.target.clone().map(|target| extensions.insert(target));
        self.deadline.map(|deadline| extensions.insert(deadline));
        self.route.clone().map(|route| extensions.insert(route));
        self.tried.clone().map(|tried| extensions.insert(tried));
        self.codec.map(|codec| extensions.insert(codec));
        request
    }
}
