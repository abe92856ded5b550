//! google.api.http rules: the REST routes a proto declares for its methods
//! (`option (google.api.http) = { get: "/v1/greet/{name}" }`), read from the descriptors.
//!
//! A [`Service`](crate::Service) answers the rules of its own unary methods on its port
//! (`curl localhost:8080/v1/greet/alice`), and `micro gateway` answers every registered
//! service's. Both use what is here: the rule's [`Binding`]s, their path [`Template`]s, and
//! the request JSON [`compose`]d from the body, the query string and the path's variables, and
//! the [`ResponseField`] a rule sends instead of the whole reply; the [`JsonSequence`] of a
//! streaming method's requests in one body.

mod binding;
mod request;
mod response;
mod sequence;
mod template;

pub use binding::{Binding, bindings};
pub use request::{compose, compose_frame, from_query, parse_body, set_field};
pub use response::ResponseField;
pub use sequence::JsonSequence;
pub use template::{Template, TemplateError};
