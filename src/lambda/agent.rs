//! The ureq agents for the Lambda APIs: bounded phases, no proxy, no system resolver.

use std::net::SocketAddr;
use std::time::Duration;

use ureq::Agent;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::config::literal_ip;
use crate::lambda::transport::RuntimeConnector;

/// Sent as `User-Agent` to the Runtime API.
pub const USER_AGENT: &str = concat!("lambda-adapter/", env!("CARGO_PKG_VERSION"));

/// Buffer size of the Runtime API agents: events and responses of any size pass through.
pub(crate) const RUNTIME_BUFFER: usize = 32 * 1024;

/// Buffer size of the Extensions API agents: their messages are a few hundred bytes.
pub(crate) const EXTENSION_BUFFER: usize = 4 * 1024;

/// An agent whose every phase after connecting (send request, send body, receive response,
/// receive body) is bounded by `timeout`. Phase timeouts rather than ureq's global one: with a
/// global timeout ureq resolves the address on a new thread per call.
pub(crate) fn agent(
    timeout: Option<Duration>,
    buffer: usize,
    connector: RuntimeConnector,
) -> Agent {
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
