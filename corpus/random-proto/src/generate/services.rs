//! Services: names whose generated types and constants stay distinct, and RPCs of every kind
//! over any message the file can see.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

use super::{Kind, Type, World};
use crate::model::{Method, Service};
use crate::names::{self, Case, Scope};

/// Methods every generated client has; an RPC of that name gets `_rpc` on the client.
const CLIENT_METHODS: &[&str] = &["new", "with_service", "service", "clone"];

impl World {
    pub(super) fn service(&mut self, package: &mut Scope, visible: &[Type]) -> Service {
        let name = names::fresh(
            &mut self.rng,
            package,
            |rng| names::spelled(rng, Case::UpperCamel),
            |name| {
                let camel = name.to_upper_camel_case();
                let shouty = name.to_shouty_snake_case();
                vec![
                    format!("type:{camel}Handler"),
                    format!("type:{camel}Server"),
                    format!("type:{camel}Client"),
                    format!("const:{shouty}_SERVICE_NAME"),
                    format!("const:{shouty}_SERVICE_INFO"),
                ]
            },
        );
        let messages: Vec<&Type> = visible
            .iter()
            .filter(|ty| matches!(ty.kind, Kind::Message))
            .collect();
        let mut scope = Scope::default();
        let methods = (0..self.rng.usize(1..=5))
            .map(|_| self.method(&name, package, &mut scope, &messages))
            .collect();
        Service {
            name,
            comment: self.comment(),
            methods,
        }
    }

    fn method(
        &mut self,
        service: &str,
        package: &mut Scope,
        scope: &mut Scope,
        messages: &[&Type],
    ) -> Method {
        let service_shouty = service.to_shouty_snake_case();
        let name = loop {
            let candidate = names::spelled(&mut self.rng, Case::UpperCamel);
            let snake = candidate.to_snake_case();
            let client = if CLIENT_METHODS.contains(&snake.as_str()) {
                format!("{snake}_rpc")
            } else {
                snake.clone()
            };
            let own = vec![format!("method:{snake}"), format!("client:{client}")];
            let constant = format!(
                "const:{service_shouty}_{}_ENDPOINT",
                candidate.to_shouty_snake_case()
            );
            if scope.free(&candidate, &own) && package.free("", std::slice::from_ref(&constant)) {
                scope.take(&candidate, own);
                package.reserve(constant);
                break candidate;
            }
        };
        let mut message = || messages[self.rng.usize(..messages.len())].full.clone();
        let (input, output) = (message(), message());
        Method {
            name,
            input,
            output,
            client_streaming: self.rng.bool(),
            server_streaming: self.rng.bool(),
            deprecated: self.rng.u8(..10) == 0,
        }
    }
}
