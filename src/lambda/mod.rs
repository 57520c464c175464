//! The two Lambda APIs the adapter talks to, over ureq: the Extensions API (register, signal
//! init done, report a configuration error) and the Runtime API's `next`. The invocation
//! posts (`response`, `error`) are in `runtime_post`; the request paths, error bodies and
//! error-type headers they share are here.
//!
//! Each worker owns its own [`RuntimeClient`] (its own keep-alive connection), so workers
//! never wait on each other.

pub mod invocation;
pub mod post;
pub mod transport;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use ureq::Agent;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::config::{ApiEndpoint, literal_ip};
use crate::lambda::invocation::{Invocation, header};
use crate::lambda::transport::RuntimeConnector;

/// Sent as `User-Agent` to the Runtime API.
pub const USER_AGENT: &str = concat!("lambda-adapter/", env!("CARGO_PKG_VERSION"));
/// The name Lambda knows the extension by (the file name under /opt/extensions).
pub const EXTENSION_NAME: &str = "lambda-adapter";
/// Largest event accepted from `/next` (Lambda's own limit is 6 MB; leave room).
const MAX_EVENT_BYTES: u64 = 64 * 1024 * 1024;

/// Characters escaped when a request id goes into a URL path segment.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// A failure talking to a Lambda API, with a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub message: String,
    /// The request may never have reached the API (a transport failure), so sending it again
    /// is safe; an answered request (any status) is not retried.
    pub transport: bool,
}

impl ApiError {
    pub fn answered(message: String) -> ApiError {
        ApiError {
            message,
            transport: false,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// An agent whose every phase after connecting (send request, send body, receive response,
/// receive body) is bounded by `timeout`. Phase timeouts rather than ureq's global one: with a
/// global timeout ureq resolves the address on a new thread per call.
/// Buffer size of the Runtime API agents: events and responses of any size pass through.
const RUNTIME_BUFFER: usize = 32 * 1024;
/// Buffer size of the Extensions API agents: their messages are a few hundred bytes.
const EXTENSION_BUFFER: usize = 4 * 1024;

fn agent(timeout: Option<Duration>, buffer: usize, connector: RuntimeConnector) -> Agent {
    let config = Agent::config_builder()
        .http_status_as_error(false)
        // ureq reads HTTP_PROXY and friends by default; those are the function's settings for
        // its own outbound calls, never a route to the local Lambda APIs.
        .proxy(None)
        .user_agent(USER_AGENT)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_send_request(timeout)
        .timeout_send_body(timeout)
        .timeout_recv_response(timeout)
        .timeout_recv_body(timeout)
        .no_delay(true)
        .max_idle_connections_per_host(2)
        // ureq's default buffers are 128 KiB each way; with one agent per worker (up to 64 on
        // Managed Instances) smaller ones keep memory flat without costing throughput.
        .input_buffer_size(buffer)
        .output_buffer_size(buffer)
        .build();
    Agent::with_parts(config, connector, LiteralResolver)
}

/// Resolves only IP literals and `localhost`: Lambda's API addresses are IPs, and leaving
/// the system resolver out keeps a static binary free of NSS (and of a resolver thread).
#[derive(Debug)]
struct LiteralResolver;

impl Resolver for LiteralResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let authority = uri.authority().ok_or(ureq::Error::HostNotFound)?;
        let ip = literal_ip(authority.host()).ok_or(ureq::Error::HostNotFound)?;
        let mut addrs = self.empty();
        addrs.push(SocketAddr::new(ip, authority.port_u16().unwrap_or(80)));
        Ok(addrs)
    }
}

fn transport(what: &str, url: &str, e: ureq::Error) -> ApiError {
    ApiError {
        message: format!("{what} ({url}) failed: {e}"),
        transport: true,
    }
}

/// The Extensions API, used at start-up only.
pub struct ExtensionClient {
    endpoint: ApiEndpoint,
    agent: Agent,
}

impl ExtensionClient {
    pub fn new(endpoint: ApiEndpoint) -> ExtensionClient {
        ExtensionClient {
            endpoint,
            agent: agent(
                Some(Duration::from_secs(10)),
                EXTENSION_BUFFER,
                RuntimeConnector::default(),
            ),
        }
    }

    /// Registers the extension for no events; returns the extension identifier.
    pub fn register(&self) -> Result<String, ApiError> {
        let url = self.endpoint.url("/2020-01-01/extension/register");
        let mut response = self
            .agent
            .post(&url)
            .header("Lambda-Extension-Name", EXTENSION_NAME)
            .send(r#"{ "events": [] }"#)
            .map_err(|e| transport("extension registration", &url, e))?;
        let _ = response.body_mut().read_to_vec();
        if response.status() != 200 {
            return Err(ApiError::answered(format!(
                "Extension registration failed with status: {} ({url})",
                response.status()
            )));
        }
        response
            .headers()
            .get("lambda-extension-identifier")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ApiError::answered("Missing Lambda-Extension-Identifier header".into()))
    }

    /// Tells Lambda the extension has finished its init and waits for an event. With no
    /// events subscribed this normally blocks until the environment shuts down.
    pub fn next_event(&self, id: &str) -> Result<u16, ApiError> {
        let url = self.endpoint.url("/2020-01-01/extension/event/next");
        let agent = agent(None, EXTENSION_BUFFER, RuntimeConnector::default());
        let response = agent
            .get(&url)
            .header("Lambda-Extension-Identifier", id)
            .call()
            .map_err(|e| transport("extension event/next", &url, e))?;
        Ok(response.status().as_u16())
    }

    /// Reports a failed initialisation so the Lambda console shows `error_type` and `message`.
    pub fn init_error(&self, id: &str, error_type: &str, message: &str) -> Result<(), ApiError> {
        let url = self.endpoint.url("/2020-01-01/extension/init/error");
        let body = error_json(error_type, message);
        let response = self
            .agent
            .post(&url)
            .header("Lambda-Extension-Identifier", id)
            .header("Lambda-Extension-Function-Error-Type", error_type)
            .header("Content-Type", "application/json")
            .send(&body)
            .map_err(|e| transport("extension init/error", &url, e))?;
        if !response.status().is_success() {
            return Err(ApiError::answered(format!(
                "init/error answered status {}",
                response.status()
            )));
        }
        Ok(())
    }
}

/// Opens a connection to the Runtime API while the app is still starting, so the first
/// `/next` does not wait for one. `None` if it cannot be opened at once; the first `/next`
/// then connects as usual and reports any failure.
pub fn connect_ahead(endpoint: &ApiEndpoint) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(&endpoint.addr, Duration::from_secs(1)).ok()?;
    stream.set_nodelay(true).ok()?;
    Some(stream)
}

/// The Runtime API's `/next`, one per worker, on its own keep-alive connection (the posts
/// have theirs, see `runtime_post`).
pub struct RuntimeClient {
    endpoint: ApiEndpoint,
    /// The `/next` URL, built once.
    next_url: String,
    /// No global timeout: `/next` is a long poll that lasts as long as the environment is
    /// idle. Posts set their own bound.
    agent: Agent,
}

/// What `/next` gave: an invocation, or an event without a request id (which can't be
/// answered, so it is only logged).
pub enum Next {
    Invocation(Box<Invocation>),
    NoRequestId,
}

impl RuntimeClient {
    pub fn new(endpoint: ApiEndpoint) -> RuntimeClient {
        RuntimeClient::with_connector(endpoint, RuntimeConnector::default())
    }

    /// A client whose first request goes out on `warm` (see [`connect_ahead`]).
    pub fn warmed(endpoint: ApiEndpoint, warm: TcpStream) -> RuntimeClient {
        RuntimeClient::with_connector(endpoint, RuntimeConnector::warmed(warm))
    }

    fn with_connector(endpoint: ApiEndpoint, connector: RuntimeConnector) -> RuntimeClient {
        RuntimeClient {
            next_url: endpoint.url("/2018-06-01/runtime/invocation/next"),
            endpoint,
            agent: agent(None, RUNTIME_BUFFER, connector),
        }
    }

    /// Long-polls for the next invocation.
    pub fn next(&self) -> Result<Next, ApiError> {
        let url = &self.next_url;
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| transport("runtime invocation/next", url, e))?;
        if response.status() != 200 {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            return Err(ApiError::answered(format!(
                "runtime invocation/next answered status {}: {}",
                response.status(),
                body.trim()
            )));
        }
        let (head, mut body) = response.into_parts();
        let get = |name: &str| head.headers.get(name).and_then(|v| v.to_str().ok());
        let Some(request_id) = get(header::REQUEST_ID)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
        else {
            return Ok(Next::NoRequestId);
        };
        let event = body
            .with_config()
            .limit(MAX_EVENT_BYTES)
            .read_to_vec()
            .map_err(|e| ApiError {
                message: format!("reading the event of {request_id} failed: {e}"),
                transport: true,
            });
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                // The id is known, so the invocation can still be answered: an empty event
                // is reported as invalid by the conversion.
                log::error!("{e}");
                Vec::new()
            }
        };
        Ok(Next::Invocation(Box::new(Invocation::from_headers(
            request_id, get, event,
        ))))
    }

    /// Where the Runtime API lives (posts open their own connection).
    pub fn endpoint(&self) -> &ApiEndpoint {
        &self.endpoint
    }
}

/// The request target of `/runtime/invocation/{id}/{what}`, path prefix included.
pub fn invocation_path(endpoint: &ApiEndpoint, request_id: &str, what: &str) -> String {
    let id = utf8_percent_encode(request_id, PATH_SEGMENT);
    format!(
        "{}/2018-06-01/runtime/invocation/{id}/{what}",
        endpoint.prefix
    )
}

/// An error type as it may stand in a header or trailer. The adapter's error types are fixed
/// ASCII names; anything else is dropped so the header stays valid regardless.
pub fn error_type_header(error_type: &str) -> String {
    error_type
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect()
}

/// `{"errorType":..,"errorMessage":..}`, the body of every error post.
pub fn error_json(error_type: &str, message: &str) -> String {
    serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string()
}
