//! The gateway's own path styles, which need no configuration: the service and endpoint are
//! in the path.
//!
//! | path | endpoint |
//! |---|---|
//! | `/helloworld/Helloworld.Greeting` | `Helloworld.Greeting` of `helloworld` |
//! | `/helloworld/Helloworld/Greeting` | the same |
//! | `/api/helloworld/Helloworld.Greeting` (go-micro v6) | the same |
//! | `/api/helloworld/Helloworld/Greeting` (go-micro v6) | the same |
//!
//! Endpoints may also be written in full (`helloworld.Helloworld.Greeting`).

/// A service and one of its endpoints, named by a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The registered service name, e.g. `helloworld`.
    pub service: String,
    /// `Handler.Method`, e.g. `Helloworld.Greeting`.
    pub endpoint: String,
}

/// The target `path` (no query) names, or `None` if it follows none of the styles.
pub fn resolve(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return None;
    }
    match segments.as_slice() {
        ["api", service, endpoint] if endpoint.contains('.') => target(service, endpoint),
        ["api", service, handler, method] => target(service, &format!("{handler}.{method}")),
        [service, endpoint] if endpoint.contains('.') => target(service, endpoint),
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
    fn other_paths_name_nothing() {
        for path in [
            "",
            "/",
            "/helloworld",
            "/helloworld/Greeting",
            "/helloworld/Helloworld.Greeting/",
            "//Helloworld.Greeting",
            "/api/helloworld",
            "/api/helloworld/Greeting",
            "/a/b/c/d/e",
            "/rpc",
        ] {
            assert_eq!(resolved(path), None, "{path}");
        }
    }
}
