//! The gateway's own path styles, which need no configuration: the service and endpoint are
//! in the path.
//!
//! | path | endpoint |
//! |---|---|
//! | `/helloworld/Helloworld.Greeting` | `Helloworld.Greeting` of `helloworld` |
//! | `/helloworld/Helloworld/Greeting` | the same |
//! | `/api/helloworld/Helloworld.Greeting` (go-micro v6) | the same |
//! | `/api/helloworld/Helloworld/Greeting` (go-micro v6) | the same |
//! | `/helloworld/greeting`, `/api/helloworld/greeting` (go-micro's classic API) | the same |
//!
//! Endpoints may also be written in full (`helloworld.Helloworld.Greeting`), and in any case
//! (`/helloworld/helloworld/greeting`); a method's name alone is the service's own handler's
//! method, or the only handler's with that name (see [`crate::endpoint_name::find`]).

/// A service and one of its endpoints, named by a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The registered service name, e.g. `helloworld`.
    pub service: String,
    /// `Handler.Method` as the path has it, e.g. `Helloworld.Greeting`, or a method's name
    /// alone (`greeting`).
    pub endpoint: String,
}

impl Target {
    /// Whether the path named a method alone (`/helloworld/greeting`), which other paths
    /// (`/v1/things`) look like too.
    pub fn is_method_alone(&self) -> bool {
        !self.endpoint.contains(['.', '/'])
    }
}

/// The target `path` (no query) names, or `None` if it follows none of the styles.
pub fn resolve(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return None;
    }
    match segments.as_slice() {
        ["api", service, endpoint] => target(service, endpoint),
        ["api", service, handler, method] => target(service, &format!("{handler}.{method}")),
        [service, endpoint] if *service != "api" || endpoint.contains('.') => {
            target(service, endpoint)
        }
        [service, handler, method] if *service != "api" => {
            target(service, &format!("{handler}.{method}"))
        }
        _ => None,
    }
}

fn target(service: &str, endpoint: &str) -> Option<Target> {
    Some(Target {
        service: service.to_owned(),
        endpoint: endpoint.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(path: &str) -> Option<(String, String)> {
        resolve(path).map(|t| (t.service, t.endpoint))
    }

    fn pair(service: &str, endpoint: &str) -> Option<(String, String)> {
        Some((service.to_owned(), endpoint.to_owned()))
    }

    #[test]
    fn every_style_names_the_same_endpoint() {
        let expected = pair("helloworld", "Helloworld.Greeting");
        for path in [
            "/helloworld/Helloworld.Greeting",
            "/helloworld/Helloworld/Greeting",
            "/api/helloworld/Helloworld.Greeting",
            "/api/helloworld/Helloworld/Greeting",
        ] {
            assert_eq!(resolved(path), expected, "{path}");
        }
    }

    #[test]
    fn dotted_service_names_and_full_endpoint_names() {
        assert_eq!(
            resolved("/api/go.micro.srv.greeter/Greeter.Hello"),
            pair("go.micro.srv.greeter", "Greeter.Hello")
        );
        assert_eq!(
            resolved("/helloworld/helloworld.Helloworld.Greeting"),
            pair("helloworld", "helloworld.Helloworld.Greeting")
        );
        // The gRPC path after the service name.
        assert_eq!(
            resolved("/helloworld/helloworld.Helloworld/Greeting"),
            pair("helloworld", "helloworld.Helloworld.Greeting")
        );
    }

    #[test]
    fn a_method_alone_as_go_micros_classic_api() {
        for path in ["/helloworld/greeting", "/api/helloworld/greeting"] {
            let target = resolve(path).expect(path);
            assert_eq!(target.endpoint, "greeting", "{path}");
            assert!(target.is_method_alone(), "{path}");
        }
        assert!(
            !resolve("/helloworld/Helloworld.Greeting")
                .unwrap()
                .is_method_alone()
        );
        assert!(
            !resolve("/helloworld/helloworld/greeting")
                .unwrap()
                .is_method_alone()
        );
    }

    #[test]
    fn other_paths_name_nothing() {
        for path in [
            "",
            "/",
            "/helloworld",
            "/helloworld/Helloworld.Greeting/",
            "//Helloworld.Greeting",
            "/api/helloworld",
            "/a/b/c/d/e",
            "/rpc",
        ] {
            assert_eq!(resolved(path), None, "{path}");
        }
    }
}
