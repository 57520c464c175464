//! The small parsers: `Accept-Encoding`, the status lists, and the whole configuration from
//! arbitrary values of every variable. Never a panic, and what they accept keeps its range.
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use lambda_adapter::reply::compression::{self, Encoding};
use lambda_adapter::config::{self, Config};
use libfuzzer_sys::fuzz_target;

/// Every variable the adapter reads.
const VARIABLES: &[&str] = &[
    "AWS_LWA_PORT",
    "PORT",
    "AWS_LWA_HOST",
    "HOST",
    "AWS_LWA_READINESS_CHECK_PORT",
    "READINESS_CHECK_PORT",
    "AWS_LWA_READINESS_CHECK_PATH",
    "READINESS_CHECK_PATH",
    "AWS_LWA_READINESS_CHECK_PROTOCOL",
    "READINESS_CHECK_PROTOCOL",
    "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS",
    "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS",
    "AWS_LWA_REMOVE_BASE_PATH",
    "REMOVE_BASE_PATH",
    "AWS_LWA_PASS_THROUGH_PATH",
    "AWS_LWA_ASYNC_INIT",
    "ASYNC_INIT",
    "AWS_LWA_INVOKE_MODE",
    "AWS_LWA_ENABLE_COMPRESSION",
    "AWS_LWA_AUTHORIZATION_SOURCE",
    "AWS_LWA_ERROR_STATUS_CODES",
    "AWS_LWA_LAMBDA_RUNTIME_API_PROXY",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_MAX_CONCURRENCY",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_LEVEL",
    "AWS_LAMBDA_LOG_FORMAT",
];

#[derive(Arbitrary, Debug)]
struct Input {
    status_list: String,
    accept_encoding: String,
    /// (index into VARIABLES, value)
    variables: Vec<(u8, String)>,
}

fuzz_target!(|input: Input| {
    if let Ok(codes) = config::parse_status_list("AWS_LWA_ERROR_STATUS_CODES", &input.status_list) {
        assert!(codes.iter().all(|c| (100..=599).contains(c)), "{codes:?}");
    }

    // An Accept-Encoding value: never a panic; a coding is only chosen when it is named.
    let lower = input.accept_encoding.to_ascii_lowercase();
    match compression::choose(Some(&input.accept_encoding)) {
        Encoding::Gzip => assert!(
            lower.contains("gzip"),
            "gzip from {:?}",
            input.accept_encoding
        ),
        Encoding::Brotli => assert!(lower.contains("br"), "br from {:?}", input.accept_encoding),
        Encoding::Identity => {}
    }

    // Lambda always sets the Runtime API address; the input may still override it.
    let mut env: HashMap<&str, String> =
        HashMap::from([("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001".to_string())]);
    for (i, value) in &input.variables {
        env.insert(VARIABLES[*i as usize % VARIABLES.len()], value.clone());
    }
    if let Ok(config) = Config::from_lookup(|name| env.get(name).cloned()) {
        assert!(config.max_concurrency >= 1);
        assert!(!config.readiness_healthy_status.is_empty());
        assert!(config.pass_through_path.starts_with('/'));
        assert!(config.readiness_path.starts_with('/'));
        if let Some(source) = &config.authorization_source {
            assert!(!source.is_empty() && source.bytes().all(config::is_token_byte));
        }
        if let Some(codes) = &config.error_status_codes {
            assert!(codes.iter().all(|c| (100..=599).contains(c)));
        }
        // The host goes into a Host header (`host:port`): an IPv6 literal only in brackets.
        let host = &config.app_host;
        let bracketed =
            host.starts_with('[') && host.ends_with(']') && host.matches(['[', ']']).count() == 2;
        assert!(
            if host.contains(':') {
                bracketed
            } else {
                !host.contains(['[', ']'])
            },
            "Host {host:?}"
        );
        if let Some(base) = &config.remove_base_path {
            assert!(!base.is_empty() && !base.ends_with('/'));
        }
    }
});
