//! The Runtime API's `/next`: one client per worker, on its own keep-alive connection.

use std::net::TcpStream;
use std::time::Duration;

use ureq::Agent;

use crate::config::ApiEndpoint;
use crate::lambda::agent::{RUNTIME_BUFFER, agent};
use crate::lambda::error::{ApiError, transport_error};
use crate::lambda::invocation::{Invocation, header};
use crate::lambda::transport::RuntimeConnector;

/// Largest event accepted from `/next` (Lambda's own limit is 6 MB; leave room).
const MAX_EVENT_BYTES: u64 = 64 * 1024 * 1024;

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
            .map_err(|e| transport_error("runtime invocation/next", url, e))?;
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
