//! The front door: plain HTTP in, an event through the Runtime API, the function's answer
//! back out as HTTP, the way API Gateway, a Function URL or an ALB would turn it around.
//!
//! It faces browsers, curl and load tools, so the HTTP server is tiny_http: connections,
//! request parsing, pipelining, chunked and `Expect: 100-continue` request bodies, HTTP/1.0,
//! slow and malformed clients are its job. Each request is answered on a thread of its own (it
//! waits for the function, up to the timeout), so requests do not queue behind each other
//! here; `AWS_LAMBDA_MAX_CONCURRENCY` decides how many the function takes at once.
//!
//! Answers are written on the raw connection tiny_http hands out (`Request::into_writer`), each
//! with `connection: close` ([`response_head`] says why). A streamed answer is relayed chunk by
//! chunk as the function sends it (tiny_http's own chunked encoder holds 8 KiB before it sends
//! one, too late for a server-sent event); a stream that fails midway ends with a malformed
//! chunk, so the client sees an error rather than a complete-looking body.
//!
//! Answers when the function gives none, as API Gateway answers them: 502 for an invocation
//! error (the error JSON, `x-amz-function-error: Unhandled`), a malformed response, a failed
//! init or a function that exited; 504 once the timeout passes, whether or not the function
//! ever took the invocation (an app that never becomes ready). The body says why.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tiny_http::{Method, Request, Server};

use super::events::{EventFormat, PlainRequest, build_event};
use super::function_response::{HttpResponse, http_response, prelude_response};
use super::http_head::{push_headers, status_line};
use super::invocations::{Delivery, InvokeError, Invoker, Pending};
use super::{InvokeOptions, PostKind, new_id, split_prelude};

/// Largest request body accepted (Lambda's own invocation payload limit).
const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// Largest streamed prelude accepted before giving up on finding its end.
const MAX_PRELUDE_BYTES: usize = 1024 * 1024;
/// Response headers the front door frames itself.
const FRAMING_HEADERS: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "trailer",
];

/// The serving front door. Stops taking requests when dropped.
pub struct FrontDoor {
    addr: SocketAddr,
    door: Arc<Door>,
}

/// What every receiver shares.
struct Door {
    server: Server,
    format: EventFormat,
    invoker: Invoker,
    options: InvokeOptions,
    /// Requests being answered.
    in_flight: AtomicUsize,
    /// Receivers waiting in `recv` for the next request.
    idle: AtomicUsize,
    stop: AtomicBool,
}

impl FrontDoor {
    /// Serves on `listen`; each request becomes one invocation through `invoker`.
    pub fn start(
        listen: &str,
        format: EventFormat,
        invoker: Invoker,
        options: InvokeOptions,
    ) -> Result<FrontDoor, String> {
        let server = Server::http(listen)
            .map_err(|e| format!("cannot serve the front door on {listen}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| format!("cannot serve the front door on {listen}: not a TCP address"))?;
        let door = Arc::new(Door {
            server,
            format,
            invoker,
            options,
            in_flight: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        start_receiver(&door).map_err(|e| format!("cannot start the front door thread: {e}"))?;
        Ok(FrontDoor { addr, door })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits (at most `limit`) until no request is being answered, so that answers already
    /// decided (say, the 502 of a failed function) reach their clients before the emulator ends.
    pub fn drain(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while self.door.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FrontDoor {
    fn drop(&mut self) {
        // Receivers see it within STOP_CHECK; the last one out closes the listener.
        self.door.stop.store(true, Ordering::SeqCst);
    }
}

/// How often a waiting receiver looks whether the door is closing.
const STOP_CHECK: Duration = Duration::from_millis(250);
/// Receivers kept waiting after a burst; more end once their request is answered.
const MAX_IDLE_RECEIVERS: usize = 8;

fn start_receiver(door: &Arc<Door>) -> io::Result<()> {
    door.idle.fetch_add(1, Ordering::SeqCst);
    let door_for_thread = door.clone();
    std::thread::Builder::new()
        .name("front-door".into())
        .spawn(move || receive(&door_for_thread))
        .map(|_| ())
        .inspect_err(|_| {
            door.idle.fetch_sub(1, Ordering::SeqCst);
        })
}

/// A receiver: takes the next request tiny_http has read and answers it on this thread, after
/// making sure another receiver waits meanwhile; so every request is answered on a thread of
/// its own (it waits for the function, up to the timeout) without a thread started for each.
fn receive(door: &Arc<Door>) {
    while !door.stop.load(Ordering::SeqCst) {
        let request = match door.server.recv_timeout(STOP_CHECK) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            // tiny_http's accept thread has ended: no request can come any more.
            Err(_) => break,
        };
        door.in_flight.fetch_add(1, Ordering::SeqCst);
        if door.idle.fetch_sub(1, Ordering::SeqCst) == 1 {
            if let Err(e) = start_receiver(door) {
                // This receiver comes back to `recv` once its request is answered.
                eprintln!("lambda-emulator: cannot start a front door thread: {e}");
            }
        }
        serve(request, door);
        door.in_flight.fetch_sub(1, Ordering::SeqCst);
        if door.idle.load(Ordering::SeqCst) >= MAX_IDLE_RECEIVERS {
            return;
        }
        door.idle.fetch_add(1, Ordering::SeqCst);
    }
    door.idle.fetch_sub(1, Ordering::SeqCst);
}

fn plain_request(request: &mut Request) -> Result<PlainRequest, (u16, String)> {
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| (400, format!("reading the request body failed: {e}")))?;
    if body.len() > MAX_REQUEST_BYTES {
        return Err((
            413,
            format!("the request body is over Lambda's {MAX_REQUEST_BYTES} bytes"),
        ));
    }
    Ok(PlainRequest {
        method: request.method().as_str().to_string(),
        target: request.url().to_string(),
        headers: request
            .headers()
            .iter()
            .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
            .collect(),
        body,
        source_ip: request
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into()),
    })
}

fn serve(mut request: Request, door: &Door) {
    let plain = match plain_request(&mut request) {
        Ok(plain) => plain,
        Err((status, message)) => return answer_text(request, status, &message),
    };
    let request_id = new_id();
    let event = build_event(door.format, &plain, &request_id);
    let mut pending = door.invoker.submit(
        event,
        InvokeOptions {
            request_id: Some(request_id),
            ..door.options.clone()
        },
    );
    let mut kind = PostKind::Response;
    let mut body = Vec::new();
    loop {
        match pending.next_delivery() {
            Ok(Delivery::Started { .. }) => {}
            Ok(Delivery::Head { kind: k, .. }) => {
                kind = k;
                if kind == PostKind::Streamed {
                    return relay_stream(request, &mut pending);
                }
            }
            Ok(Delivery::Chunk(data)) => body.extend_from_slice(&data),
            Ok(Delivery::End) => break,
            Ok(Delivery::Failed(why)) => return answer_text(request, 502, &why),
            Err(e) => return answer_no_answer(request, &e),
        }
    }
    if kind == PostKind::Error {
        eprintln!(
            "lambda-emulator: the function reported an error: {}",
            String::from_utf8_lossy(&body)
        );
        let response = HttpResponse {
            status: 502,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-amz-function-error".into(), "Unhandled".into()),
            ],
            body,
        };
        return answer(request, &response);
    }
    match http_response(door.format, &body) {
        Ok(response) => answer(request, &response),
        Err(why) => {
            eprintln!("lambda-emulator: {why}");
            answer_text(request, 502, &why);
        }
    }
}

/// The answer when the function gave none: see the module doc.
fn answer_no_answer(request: Request, error: &InvokeError) {
    let status = match error {
        InvokeError::NotPickedUp { .. } | InvokeError::TimedOut(_) => 504,
        InvokeError::InitFailed { .. } | InvokeError::Exited(_) => 502,
        InvokeError::Closed => 503,
    };
    answer_text(request, status, &error.to_string());
}

fn answer_text(request: Request, status: u16, message: &str) {
    let response = HttpResponse {
        status,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: format!("{message}\n").into_bytes(),
    };
    answer(request, &response);
}

/// The function's headers minus those the front door frames itself.
fn sendable_headers(headers: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    headers
        .iter()
        .filter(|(n, _)| !FRAMING_HEADERS.contains(&n.to_ascii_lowercase().as_str()))
        .map(|(n, v)| (n.as_str(), v.as_str()))
}

/// Sends a complete answer, with `content-length` as API Gateway sends it.
fn answer(request: Request, response: &HttpResponse) {
    let head_only = request.method() == &Method::Head;
    let length = response.body.len().to_string();
    let mut head = response_head(response, ("content-length", &length));
    let mut writer = request.into_writer();
    if !head_only {
        head.extend_from_slice(&response.body);
    }
    if let Err(e) = writer.write_all(&head).and_then(|()| writer.flush()) {
        eprintln!("lambda-emulator: could not answer the client: {e}");
    }
}

/// The status line and headers of an answer, `framing` being its body's framing header.
///
/// Every answer says `connection: close`, and is written on the raw connection because
/// tiny_http's own responses cannot say it. The reason is tiny_http's task pool: each open
/// connection holds one of its threads, and a connection that arrives together with others
/// can wait for a free thread without one being started for it (the idle count it checks
/// lags). With keep-alive that wait lasted as long as the other clients stayed connected
/// (measured: 3 of 8 clients starting at once got nothing for 5 s); closed after each answer,
/// a thread frees as soon as the answer is out. It also means the answer's header values go
/// out as the function gave them (tiny_http's headers take ASCII only).
fn response_head(response: &HttpResponse, framing: (&str, &str)) -> Vec<u8> {
    let mut head = status_line(response.status);
    push_headers(&mut head, sendable_headers(&response.headers));
    push_headers(&mut head, [framing, ("connection", "close")]);
    head.extend_from_slice(b"\r\n");
    head
}

/// Relays a streamed response: waits for the prelude, writes the head, then each chunk as it
/// arrives.
fn relay_stream(request: Request, pending: &mut Pending) {
    let mut buffered = Vec::new();
    let mut ended = false;
    let (head, rest) = loop {
        if let Some((prelude, rest)) = split_prelude(&buffered) {
            break (prelude_response(prelude), rest.to_vec());
        }
        if ended || buffered.len() > MAX_PRELUDE_BYTES {
            // No separator: the whole stream is a 200 body.
            let body = std::mem::take(&mut buffered);
            let head = HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
            };
            break (Ok(head), body);
        }
        match pending.next_delivery() {
            Ok(Delivery::Chunk(data)) => buffered.extend_from_slice(&data),
            Ok(Delivery::End) => ended = true,
            Ok(Delivery::Failed(why)) => return answer_text(request, 502, &why),
            Ok(_) => {}
            Err(e) => return answer_no_answer(request, &e),
        }
    };
    let mut head = match head {
        Ok(head) => head,
        Err(why) => return answer_text(request, 502, &why),
    };
    // HTTP/1.0 has no chunked framing: such a client gets the whole stream at its end, as
    // tiny_http itself would send it.
    if request.http_version() < &tiny_http::HTTPVersion(1, 1) {
        head.body = rest;
        while !ended {
            match pending.next_delivery() {
                Ok(Delivery::Chunk(data)) => head.body.extend_from_slice(&data),
                Ok(Delivery::End) => ended = true,
                Ok(Delivery::Failed(why)) => return answer_text(request, 502, &why),
                Ok(_) => {}
                Err(e) => return answer_no_answer(request, &e),
            }
        }
        return answer(request, &head);
    }
    let head_only = request.method() == &Method::Head;
    let out = response_head(&head, ("transfer-encoding", "chunked"));
    let mut writer = request.into_writer();
    if head_only {
        let _ = writer.write_all(&out).and_then(|()| writer.flush());
        return;
    }
    let result = (|| -> io::Result<()> {
        writer.write_all(&out)?;
        write_chunk(&mut writer, &rest)?;
        if ended {
            return finish_chunked(&mut writer);
        }
        loop {
            let why = match pending.next_delivery() {
                Ok(Delivery::Chunk(data)) => {
                    write_chunk(&mut writer, &data)?;
                    continue;
                }
                Ok(Delivery::End) => return finish_chunked(&mut writer),
                Ok(Delivery::Failed(why)) => why,
                Ok(_) => continue,
                Err(e) => e.to_string(),
            };
            eprintln!("lambda-emulator: cutting off the streamed response: {why}");
            // Not a chunk size: the client's decoder fails here instead of waiting for more.
            writer.write_all(b"stream-failed\r\n")?;
            return writer.flush();
        }
    })();
    if let Err(e) = result {
        eprintln!("lambda-emulator: the client went away during a streamed response: {e}");
    }
}

/// Writes and flushes one chunk (nothing for empty data, which would end the body).
fn write_chunk(writer: &mut impl Write, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    writer.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    writer.write_all(data)?;
    writer.write_all(b"\r\n")?;
    writer.flush()
}

fn finish_chunked(writer: &mut impl Write) -> io::Result<()> {
    writer.write_all(b"0\r\n\r\n")?;
    writer.flush()
}
