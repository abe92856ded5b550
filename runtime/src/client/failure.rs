//! How a call fails inside the client stack, with what a retry needs to know.

use crate::Status;
use crate::rpc::Body;

/// A failed attempt: its status, and the request itself when it never left this process (so a
/// streaming request, which cannot be buffered, can still be sent elsewhere).
pub(crate) struct Failure {
    pub(crate) status: Status,
    pub(crate) unsent: Option<http::Request<Body>>,
    /// The connection to the node failed (rather than the call): counts towards ejecting it.
    pub(crate) connection: bool,
}

impl Failure {
    /// A failure decided before any node was involved (no such service, a bad address).
    pub(crate) fn early(status: Status) -> Failure {
        Failure {
            status,
            unsent: None,
            connection: false,
        }
    }

    /// The node could not be reached; the request was not sent.
    pub(crate) fn unreachable(status: Status, request: http::Request<Body>) -> Failure {
        Failure {
            status,
            unsent: Some(request),
            connection: true,
        }
    }

    /// The node answered `status` (such as `UNAVAILABLE` while it shuts down).
    pub(crate) fn answered(status: Status) -> Failure {
        Failure {
            status,
            unsent: None,
            connection: false,
        }
    }

    /// The connection broke with the request handed over: it may have reached the server.
    pub(crate) fn broken(status: Status) -> Failure {
        Failure {
            status,
            unsent: None,
            connection: true,
        }
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failure")
            .field("status", &self.status)
            .field("unsent", &self.unsent.is_some())
            .field("connection", &self.connection)
            .finish()
    }
}
