//! Descriptors fetched by gRPC reflection keep methods' custom options: the greeter's
//! google.api.http rules survive the trip (the API gateway routes by them).

mod support;

use micro::dynamic::Descriptors;
use prost_reflect::Value;
use support::Example;

#[tokio::test]
async fn reflection_keeps_google_api_http_options() {
    let server = Example::start(env!("CARGO_BIN_EXE_greeter-http"), &[]);
    let client = micro::Client::connect(&server.addr.to_string()).unwrap();
    let descriptors = Descriptors::fetch(&client, "greeter", None).await.unwrap();
    let greet = descriptors.method("Greeter.Greet").unwrap();
    let http = descriptors
        .pool()
        .get_extension_by_name("google.api.http")
        .expect("google/api/annotations.proto was fetched with the service");
    let options = greet.descriptor().options();
    assert!(options.has_extension(&http), "{options:?}");
    let rule = options.get_extension(&http);
    let Value::Message(rule) = rule.as_ref() else {
        panic!("google.api.http is not a message: {rule:?}");
    };
    let get = rule.get_field_by_name("get").unwrap();
    assert_eq!(get.as_str(), Some("/v1/greet/{name}"));
}
