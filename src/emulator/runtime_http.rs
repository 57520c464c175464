//! The Runtime API's own minimal HTTP/1.1 server: one thread per connection, keep-alive,
//! `content-length` and chunked request bodies with their trailers
//! ([`super::request_body`]), complete responses.
//!
//! The front door, which faces browsers and load tools, is tiny_http
//! ([`super::front_door`]); the Runtime API cannot be, for two reasons:
//! - trailers: the adapter reports a stream that fails midway with the
//!   `Lambda-Runtime-Function-Error-Type` / `-Body` trailers after the last chunk, and
//!   tiny_http's chunked decoder reads past them without handing them out;
//! - long polls: tiny_http serves connections from a task pool that starts a thread only when it
//!   counts no idle one, and the count lags, so a connection arriving together with others can
//!   wait in the queue until a busy thread frees. A Runtime API connection stays busy for as
//!   long as a `/next` long poll or a streamed post lasts, so N workers polling at once did not
//!   all get their poll served.
//!
//! It only has to understand the adapter (and the tests), a well-behaved client on loopback.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::http_head::{push_headers, status_line};
use super::request_body::RequestBody;

/// Largest request head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;

/// Handles one request; it must answer with [`Exchange::respond`] or a chunked response.
pub type Handler = dyn Fn(&mut Exchange<'_>) + Send + Sync;

/// Open connections by id, so that stopping the server can close them.
type Connections = Arc<Mutex<HashMap<u64, TcpStream>>>;

/// A running server; stops (and closes its connections) when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Connections,
    accept: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `handler` on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(addr: &str, name: &str, handler: Arc<Handler>) -> Result<HttpServer, String> {
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Connections = Arc::new(Mutex::new(HashMap::new()));
        let accept = {
            let (stop, connections) = (stop.clone(), connections.clone());
            let thread_name = name.to_string();
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || accept_loop(&listener, &stop, &connections, &handler, &thread_name))
                .map_err(|e| format!("cannot start the {name} thread: {e}"))?
        };
        Ok(HttpServer {
            addr,
            stop,
            connections,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that closes this server's open connections (a restored SnapStart snapshot).
    pub fn connection_breaker(&self) -> ConnectionBreaker {
        ConnectionBreaker(self.connections.clone())
    }
}

/// Closes a server's open connections from the server's side.
#[derive(Clone)]
pub struct ConnectionBreaker(Connections);

impl ConnectionBreaker {
    /// Shuts down every open connection but the one from `keep` (a client address); returns
    /// how many were closed.
    pub fn break_all_except(&self, keep: Option<SocketAddr>) -> usize {
        let connections = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut closed = 0;
        for connection in connections.values() {
            if connection.peer_addr().ok() != keep || keep.is_none() {
                let _ = connection.shutdown(Shutdown::Both);
                closed += 1;
            }
        }
        closed
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblocks accept().
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let mut connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        for (_, connection) in connections.drain() {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    stop: &AtomicBool,
    connections: &Connections,
    handler: &Arc<Handler>,
    name: &str,
) {
    let next_id = AtomicU64::new(0);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, clone);
        }
        let (handler, registry) = (handler.clone(), connections.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("{name}-conn"))
            .spawn(move || {
                serve_connection(stream, &handler);
                registry
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            });
        if let Err(e) = spawned {
            eprintln!("lambda-emulator: cannot start a connection thread: {e}");
            connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
    }
}

fn serve_connection(stream: TcpStream, handler: &Arc<Handler>) {
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = writer;
    loop {
        let head = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                let body = format!("bad request: {e}\n");
                let _ = write_response(
                    &mut writer,
                    400,
                    &[("content-type", "text/plain")],
                    body.as_bytes(),
                    true,
                );
                return;
            }
        };
        let body = match RequestBody::framed_by(&head.headers) {
            Ok(body) => body,
            Err(e) => {
                let _ = write_response(
                    &mut writer,
                    400,
                    &[("content-type", "text/plain")],
                    e.as_bytes(),
                    true,
                );
                return;
            }
        };
        let wants_close = head.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("connection") && v.to_ascii_lowercase().contains("close")
        });
        let mut exchange = Exchange {
            method: head.method,
            target: head.target,
            headers: head.headers,
            reader: &mut reader,
            writer: &mut writer,
            body,
            answered: false,
            close: wants_close,
        };
        handler(&mut exchange);
        if !exchange.answered {
            let _ = exchange.respond(
                500,
                &[("content-type", "text/plain")],
                b"the handler gave no answer\n",
            );
        }
        // The next request starts after this body: read what the handler left.
        let drained = exchange.drain();
        if exchange.close || drained.is_err() {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

/// Reads a request head; `None` on a clean end of the connection.
fn read_head(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let n = reader
            .by_ref()
            .take((MAX_HEAD_BYTES + 1 - raw.len()) as u64)
            .read_until(b'\n', &mut raw)?;
        if n == 0 {
            return if raw.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::other("the connection ended mid-head"))
            };
        }
        if raw.len() > MAX_HEAD_BYTES {
            return Err(io::Error::other("the request head is too large"));
        }
        // Blank lines before a request are allowed (RFC 9112 2.2).
        if before == 0 && (raw == b"\r\n" || raw == b"\n") {
            raw.clear();
            continue;
        }
        if raw.ends_with(b"\r\n\r\n") || raw.ends_with(b"\n\n") {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(&raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(io::Error::other("incomplete request head")),
        Err(e) => return Err(io::Error::other(format!("malformed request head: {e}"))),
    }
    let headers = request
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).to_string(),
            )
        })
        .collect();
    Ok(Some(Head {
        method: request.method.unwrap_or("GET").to_string(),
        target: request.path.unwrap_or("/").to_string(),
        headers,
    }))
}

/// One request and its response.
pub struct Exchange<'a> {
    pub method: String,
    /// The request target as sent (`/path?query`).
    pub target: String,
    /// Header names as sent.
    pub headers: Vec<(String, String)>,
    reader: &'a mut BufReader<TcpStream>,
    writer: &'a mut TcpStream,
    body: RequestBody,
    answered: bool,
    close: bool,
}

impl Exchange<'_> {
    /// The path of the target, without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }

    /// The first value of a request header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Request headers with lowercase names.
    pub fn headers_lowercase(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect()
    }

    /// Trailers of a chunked body, once it has been read to its end.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.body
            .trailers()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads body bytes as they arrive; `Ok(0)` at the end of the body.
    pub fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(self.reader, buf)
    }

    /// Reads the whole body, failing beyond `limit` bytes.
    pub fn body_to_vec(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = self.read_body(&mut buf)?;
            if n == 0 {
                return Ok(body);
            }
            body.extend_from_slice(buf.get(..n).unwrap_or_default());
            if body.len() > limit {
                return Err(io::Error::other(format!("the body is over {limit} bytes")));
            }
        }
    }

    /// Reads and drops the rest of the body, so the connection can carry the next request.
    fn drain(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        while self.read_body(&mut buf)? > 0 {}
        Ok(())
    }

    /// The client's address (the Runtime API keeps one connection open while it breaks the
    /// others, see `snap_start`).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.writer.peer_addr().ok()
    }

    /// Closes the connection once this exchange is answered (`connection: close`).
    pub fn close_after(&mut self) {
        self.close = true;
    }

    /// Sends a complete response.
    pub fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        self.answered = true;
        write_response(self.writer, status, headers, body, self.close)
    }
}

fn write_response(
    writer: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let mut out = status_line(status);
    push_headers(&mut out, headers.iter().copied());
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    writer.write_all(&out)?;
    writer.flush()
}
