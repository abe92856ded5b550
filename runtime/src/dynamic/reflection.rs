//! [`Descriptors`]: a service's protobuf descriptors, asked of one of its nodes through gRPC
//! server reflection (v1, or v1alpha for servers that only speak that).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prost::Message;
use prost_reflect::{DescriptorPool, ServiceDescriptor};
use prost_types::FileDescriptorProto;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

use super::Method;
use crate::client::CallTarget;
use crate::rpc::{MethodInfo, RpcKind, ServiceInfo};
use crate::{Client, Code, Status, Streaming};

/// The descriptors of the services one program serves, from its reflection service.
#[derive(Debug, Clone)]
pub struct Descriptors {
    pool: DescriptorPool,
    /// Full names of the services it serves, reflection itself left out.
    services: Vec<String>,
    /// Endpoints already resolved, by the name they were asked by, so a caller of the same
    /// endpoint again (a gateway, per request) neither searches nor interns it again.
    resolved: Arc<Mutex<HashMap<String, Method>>>,
}

impl Descriptors {
    /// Asks a node of `service` (picked by the client, or the one at `address`) for the
    /// descriptors of everything it serves.
    pub async fn fetch(
        client: &Client,
        service: &str,
        address: Option<&str>,
    ) -> Result<Descriptors, Status> {
        let fetched = match fetch(client, service, address, &REFLECTION_V1).await {
            Err(status) if status.code() == Code::Unimplemented => {
                fetch(client, service, address, &REFLECTION_V1ALPHA).await
            }
            fetched => fetched,
        };
        fetched.map_err(|status| {
            if status.code() == Code::Unimplemented {
                return Status::unimplemented(format!(
                    "{service} does not serve gRPC reflection, so its methods cannot be \
                     called without generated code: {}",
                    status.message()
                ));
            }
            status
        })
    }

    /// Descriptors of the services in `pool` named in `services` (full names).
    pub fn new(pool: DescriptorPool, services: Vec<String>) -> Descriptors {
        Descriptors {
            pool,
            services,
            resolved: Arc::default(),
        }
    }

    /// The pool holding every message, enum and service of the program.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The services the program serves (gRPC reflection left out), in the order it listed
    /// them.
    pub fn services(&self) -> impl Iterator<Item = ServiceDescriptor> + '_ {
        self.services
            .iter()
            .filter_map(|name| self.pool.get_service_by_name(name))
    }

    /// Every method of the program's own services, as go-micro endpoints would list them:
    /// gRPC's infrastructure (`grpc.health.v1`, reflection) left out, though
    /// [`method`](Self::method) finds those too.
    pub fn methods(&self) -> impl Iterator<Item = Method> + '_ {
        self.services()
            .filter(|service| !service.package_name().starts_with("grpc."))
            .flat_map(|service| service.methods().collect::<Vec<_>>())
            .map(Method::new)
    }

    /// The method `endpoint` names: go-micro's `Svc.Method` (`Helloworld.Greeting`), the
    /// full `pkg.Svc.Method`, or the gRPC path `/pkg.Svc/Method`. `NOT_FOUND` lists the
    /// endpoints there are.
    pub fn method(&self, endpoint: &str) -> Result<Method, Status> {
        if let Some(method) = self.resolved().get(endpoint) {
            return Ok(method.clone());
        }
        let method = self.find(endpoint)?;
        self.resolved().insert(endpoint.to_owned(), method.clone());
        Ok(method)
    }

    fn resolved(&self) -> std::sync::MutexGuard<'_, HashMap<String, Method>> {
        self.resolved
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn find(&self, endpoint: &str) -> Result<Method, Status> {
        let trimmed = endpoint.trim_start_matches('/');
        let (service, method) = trimmed
            .rsplit_once('/')
            .or_else(|| trimmed.rsplit_once('.'))
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "`{endpoint}` is not an endpoint name; write it as Service.Method, e.g. \
                     Helloworld.Greeting"
                ))
            })?;
        self.services()
            .filter(|candidate| candidate.full_name() == service || candidate.name() == service)
            .find_map(|candidate| candidate.methods().find(|m| m.name() == method))
            .map(Method::new)
            .ok_or_else(|| self.no_such_endpoint(endpoint))
    }

    fn no_such_endpoint(&self, endpoint: &str) -> Status {
        let known: Vec<&str> = self.methods().map(|method| method.endpoint()).collect();
        let known = if known.is_empty() {
            "it serves none".to_owned()
        } else {
            format!("it has {}", known.join(", "))
        };
        Status::not_found(format!("no endpoint `{endpoint}`: {known}"))
    }
}

/// One reflection conversation: list the services, then ask for the files defining them and
/// every file those import, until none is missing.
async fn fetch(
    client: &Client,
    service: &str,
    address: Option<&str>,
    reflection: &'static ServiceInfo,
) -> Result<Descriptors, Status> {
    let (requests, outgoing) = mpsc::unbounded_channel();
    let target = CallTarget {
        service: service.into(),
        info: reflection,
        method: &reflection.methods[0],
    };
    let mut call = client.bidi_streaming::<_, ServerReflectionResponse, _>(
        target,
        UnboundedReceiverStream::new(outgoing),
    );
    if let Some(address) = address {
        call = call.address(address);
    }
    let mut session = Session {
        requests,
        pending: 0,
        files: HashMap::new(),
        asked: HashSet::new(),
    };
    session.ask(MessageRequest::ListServices(String::new()));
    let mut replies = call.await?;
    let services = match session.reply(&mut replies).await? {
        MessageResponse::ListServicesResponse(list) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .filter(|name| !name.starts_with("grpc.reflection."))
            .collect::<Vec<_>>(),
        _ => return Err(unexpected("a list of services")),
    };
    for name in &services {
        session.ask(MessageRequest::FileContainingSymbol(name.clone()));
    }
    while session.pending > 0 {
        match session.reply(&mut replies).await? {
            MessageResponse::FileDescriptorResponse(files) => {
                session.add_files(files.file_descriptor_proto)?
            }
            _ => return Err(unexpected("file descriptors")),
        }
    }
    let mut pool = DescriptorPool::new();
    pool.decode_file_descriptor_set(file_descriptor_set(session.files.into_values()).as_slice())
        .map_err(|err| {
            Status::internal(format!(
                "the descriptors {service} serves are inconsistent: {err}"
            ))
        })?;
    Ok(Descriptors::new(pool, services))
}

struct Session {
    requests: mpsc::UnboundedSender<ServerReflectionRequest>,
    /// Requests sent and not answered yet.
    pending: usize,
    /// Files received, encoded as the server sent them: decoding them into
    /// `FileDescriptorProto` would drop custom options such as google.api.http.
    files: HashMap<String, Vec<u8>>,
    /// Files received or asked for.
    asked: HashSet<String>,
}

impl Session {
    fn ask(&mut self, request: MessageRequest) {
        self.pending += 1;
        // The stream stays open until the session is dropped.
        let _ = self.requests.send(ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        });
    }

    /// The next reply; an error reply becomes the error it describes.
    async fn reply(
        &mut self,
        replies: &mut Streaming<ServerReflectionResponse>,
    ) -> Result<MessageResponse, Status> {
        let reply = replies
            .recv()
            .await?
            .ok_or_else(|| unexpected("another reply"))?;
        self.pending = self.pending.saturating_sub(1);
        match reply.message_response {
            Some(MessageResponse::ErrorResponse(error)) => Err(Status::new(
                Code::from(error.error_code),
                format!("reflection: {}", error.error_message),
            )),
            Some(response) => Ok(response),
            None => Err(unexpected("a reply with a message")),
        }
    }

    /// Keeps `encoded` files and asks for the imports still missing.
    fn add_files(&mut self, encoded: Vec<Vec<u8>>) -> Result<(), Status> {
        let mut imports = Vec::new();
        for bytes in encoded {
            let file = FileDescriptorProto::decode(bytes.as_slice()).map_err(|err| {
                Status::internal(format!("reflection sent an invalid file descriptor: {err}"))
            })?;
            imports.extend(file.dependency.iter().cloned());
            self.asked.insert(file.name().to_owned());
            self.files.insert(file.name().to_owned(), bytes);
        }
        for import in imports {
            if self.asked.insert(import.clone()) {
                self.ask(MessageRequest::FileByFilename(import));
            }
        }
        Ok(())
    }
}

/// The encoded `FileDescriptorSet` holding `files` (each an encoded `FileDescriptorProto`):
/// field 1, length-delimited, once per file.
fn file_descriptor_set(files: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut set = Vec::new();
    for file in files {
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut set);
        prost::encoding::encode_varint(file.len() as u64, &mut set);
        set.extend_from_slice(&file);
    }
    set
}

fn unexpected(wanted: &str) -> Status {
    Status::internal(format!(
        "the reflection service broke protocol: expected {wanted}"
    ))
}

macro_rules! reflection_info {
    ($name:ident, $package:literal) => {
        static $name: ServiceInfo = ServiceInfo {
            name: concat!($package, ".ServerReflection"),
            package: $package,
            handler: "ServerReflection",
            methods: &[MethodInfo {
                name: "ServerReflectionInfo",
                path: concat!("/", $package, ".ServerReflection/ServerReflectionInfo"),
                endpoint: "ServerReflection.ServerReflectionInfo",
                kind: RpcKind::BidiStreaming,
                input: concat!($package, ".ServerReflectionRequest"),
                output: concat!($package, ".ServerReflectionResponse"),
            }],
            file_descriptor_set: &[],
        };
    };
}

// v1alpha's messages are v1's, field for field, so one set of types speaks both.
reflection_info!(REFLECTION_V1, "grpc.reflection.v1");
reflection_info!(REFLECTION_V1ALPHA, "grpc.reflection.v1alpha");
