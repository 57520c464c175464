//! Response streaming (`AWS_LWA_INVOKE_MODE=response_stream`): the app's response is relayed
//! to the Runtime API as it arrives, as one chunked `POST .../invocation/{id}/response`.
//!
//! The wire format is upstream's (§5): streaming-mode request headers, then the HTTP
//! integration prelude `{"statusCode":..,"headers":{..},"cookies":[..]}`, 8 NUL bytes, and the
//! body, for every event source. The post is written by hand over a plain TCP socket because
//! a mid-stream failure is reported the way the Runtime API documents it, with HTTP trailers
//! (`Lambda-Runtime-Function-Error-Type` / `-Body`, DECISIONS 16), which the HTTP client
//! cannot send.
//!
//! The worker thread writes the request head, the prelude and the first body bytes itself,
//! as soon as the app has sent them, so nothing else stands between the app's first byte and
//! Lambda's. Then a scoped reader thread pulls the rest of the app's body and hands each piece
//! through a small bounded channel to the worker, which writes it out. A slow Runtime API
//! therefore slows the reading of the app instead of piling the body up in memory, and every
//! wait ends at the invocation deadline.

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::app::client::{AppError, AppErrorKind, AppExchange};
use crate::app::response::ResponseHead;
use crate::event::response::grouped;
use crate::json;
use crate::lambda::invocation::Invocation;
use crate::lambda::post::{Poster, RuntimeConn};
use crate::lambda::{self, RuntimeClient, USER_AGENT, invocation_path};
use crate::worker::Reply;

/// Content type of a streamed HTTP-integration response.
pub const CONTENT_TYPE: &str = "application/vnd.awslambda.http-integration-response";
/// Separates the prelude from the body.
pub const PRELUDE_END: [u8; 8] = [0; 8];
pub const ERROR_TYPE_TRAILER: &str = "Lambda-Runtime-Function-Error-Type";
pub const ERROR_BODY_TRAILER: &str = "Lambda-Runtime-Function-Error-Body";
/// Given to the app's response when it has no content type (as upstream).
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Pieces of body in flight between the reader and the writer.
const CHANNEL_PIECES: usize = 16;
/// Largest piece the reader takes from the app at once.
const PIECE_BYTES: usize = 64 * 1024;
/// Largest chunk the writer assembles from pieces that are already waiting.
const MAX_CHUNK: usize = 256 * 1024;
/// How long the prelude waits for the first body bytes so both go out in one write. An app
/// that sends its body right after its headers loses nothing; one that holds the body back
/// does not hold back the status and headers.
const FIRST_BYTES_WAIT: Duration = Duration::from_millis(5);
/// How long to wait for the Runtime API's answer once the stream is complete.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// One message from the reader to the writer.
#[derive(Debug)]
pub enum Piece {
    Data(Vec<u8>),
    /// The body is complete.
    End,
    /// Reading the body failed; the stream ends with error trailers.
    Failed(AppError),
}

/// How a relayed stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Complete,
    /// Ended with error trailers.
    Failed {
        error_type: String,
        message: String,
    },
}

/// The post could not be completed. `sent_nothing`: it failed before the Runtime API could
/// have seen any of it, so the invocation can still be answered with `/error`.
#[derive(Debug)]
pub struct PostError {
    pub message: String,
    pub sent_nothing: bool,
}

/// Streams the app's response (its head already read, `transfer-encoding` removed) to the
/// Runtime API. App reads stop at `app_deadline`; writes to the Runtime API at the
/// invocation's own deadline.
pub fn stream(
    runtime: &RuntimeClient,
    invocation: &Invocation,
    exchange: &mut AppExchange<'_>,
    app_deadline: Instant,
) -> Reply {
    let mut poster = Poster::new(runtime.endpoint().clone());
    stream_with(&mut poster, invocation, exchange, app_deadline)
}

/// [`stream`] on a connection from `poster`: the worker's kept one when the Runtime API kept
/// it open (checked before use), and left there for the next post when it still can be.
pub fn stream_with(
    poster: &mut Poster,
    invocation: &Invocation,
    exchange: &mut AppExchange<'_>,
    app_deadline: Instant,
) -> Reply {
    let hard_deadline = Instant::now() + invocation.remaining();
    let mut conn = match poster.open(hard_deadline) {
        Ok(conn) => conn,
        Err(why) => {
            return stream_failed(&PostError {
                message: format!("could not start streaming the response: {why}"),
                sent_nothing: true,
            });
        }
    };
    let endpoint = poster.endpoint();
    let first_write = request_head(
        &invocation_path(endpoint, &invocation.request_id, "response"),
        &endpoint.authority,
    );
    let prelude = prelude(&exchange.head);
    log::debug!(
        "streaming the response status={} prelude_size={}",
        exchange.head.status,
        prelude.len()
    );

    // The first bytes are read and sent on this thread, before the reader thread exists:
    // starting a thread is then not on the path of the first byte.
    let first = exchange
        .wait_for_body(FIRST_BYTES_WAIT)
        .then(|| next_piece(exchange));
    let result = match write_first(&mut conn, first_write, prelude, first) {
        Ok(Some(ending)) => Ok(ending),
        Ok(None) => std::thread::scope(|scope| {
            let (tx, rx) = crossbeam_channel::bounded(CHANNEL_PIECES);
            let spawned = std::thread::Builder::new()
                .name("stream-reader".into())
                .spawn_scoped(scope, move || read_app(exchange, tx));
            let result = match spawned {
                Ok(_) => relay(&mut conn, &rx, app_deadline),
                Err(e) => end_stream(
                    &mut conn,
                    Ending::Failed {
                        error_type: "Adapter.StreamFailed".into(),
                        message: format!("could not start the stream reader thread: {e}"),
                    },
                ),
            };
            // Dropped before the scope joins the reader, so a reader still sending gives up
            // at once.
            drop(rx);
            result
        }),
        Err(e) => Err(e),
    };
    match result {
        Ok(ending) => {
            if let Ending::Failed {
                error_type,
                message,
            } = &ending
            {
                log::error!(
                    "{error_type}: {message}; the streamed response ends with error trailers"
                );
            }
            if check_answer(&mut conn, hard_deadline) {
                poster.keep(conn);
            }
            Reply::Streamed
        }
        Err(e) if e.sent_nothing => stream_failed(&e),
        Err(e) => {
            log::error!("{}", e.message);
            Reply::Streamed
        }
    }
}

/// Reads the Runtime API's answer to the completed stream and logs a rejection; the
/// invocation has been answered either way. True when the connection can carry the next post
/// (a 2xx answer read exactly, not closing).
fn check_answer(conn: &mut RuntimeConn, hard_deadline: Instant) -> bool {
    match conn.answer(hard_deadline.min(Instant::now() + ANSWER_WAIT)) {
        Ok(answer) if (200..300).contains(&answer.status) => answer.keep_alive,
        Ok(answer) => {
            log::error!(
                "the Runtime API rejected the streamed response with status {}: {}",
                answer.status,
                answer.body.trim()
            );
            false
        }
        Err(e) => {
            log::warn!("no answer from the Runtime API to the streamed response: {e}");
            false
        }
    }
}

/// Nothing reached the Runtime API: answer the invocation with `/error` instead.
fn stream_failed(e: &PostError) -> Reply {
    log::error!(
        "{}; answering the invocation with an error instead",
        e.message
    );
    Reply::Error {
        error_type: "Adapter.StreamFailed".into(),
        message: e.message.clone(),
    }
}

/// The next piece of the app's body.
fn next_piece(exchange: &mut AppExchange<'_>) -> Piece {
    loop {
        let mut piece = Vec::new();
        return match exchange.next_chunk(&mut piece, PIECE_BYTES) {
            Ok(true) if piece.is_empty() => continue,
            Ok(true) => Piece::Data(piece),
            Ok(false) => Piece::End,
            Err(e) => Piece::Failed(e),
        };
    }
}

/// The reader: the app's body, piece by piece, into the channel.
fn read_app(exchange: &mut AppExchange<'_>, tx: Sender<Piece>) {
    loop {
        let message = next_piece(exchange);
        let last = !matches!(message, Piece::Data(_));
        // A send error means the writer gave up; stop reading.
        if tx.send(message).is_err() || last {
            return;
        }
    }
}

/// The request line and headers of the streaming post, in upstream's order.
pub fn request_head(target: &str, authority: &str) -> Vec<u8> {
    format!(
        "POST {target} HTTP/1.1\r\n\
         user-agent: {USER_AGENT}\r\n\
         transfer-encoding: chunked\r\n\
         lambda-runtime-function-response-mode: streaming\r\n\
         trailer: {ERROR_TYPE_TRAILER}\r\n\
         trailer: {ERROR_BODY_TRAILER}\r\n\
         content-type: {CONTENT_TYPE}\r\n\
         host: {authority}\r\n\r\n"
    )
    .into_bytes()
}

/// The HTTP-integration prelude, followed by the 8 NUL bytes that end it.
///
/// One value is a JSON string, repeated names an array, `set-cookie` goes to `cookies`, and a
/// missing content type becomes `application/octet-stream`, as upstream. Unlike upstream,
/// which drops every value that is not visible ASCII (leaving `[]`), values are sent as
/// UTF-8, like the buffered responses, with invalid bytes replaced.
pub fn prelude(head: &ResponseHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + head.headers.len() * 48);
    out.extend_from_slice(b"{\"statusCode\":");
    out.extend_from_slice(head.status.to_string().as_bytes());
    out.extend_from_slice(b",\"headers\":{");
    let mut groups = grouped(head);
    // Removed as upstream's header map removes it, so the keys keep upstream's order.
    if let Some(at) = groups.iter().position(|(name, _)| *name == "set-cookie") {
        groups.swap_remove(at);
    }
    let mut first = true;
    for (name, values) in groups {
        if !first {
            out.push(b',');
        }
        first = false;
        json::push_str(&mut out, name);
        out.push(b':');
        match values.as_slice() {
            [one] => json::push_lossy(&mut out, one),
            many => {
                out.push(b'[');
                for (i, value) in many.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json::push_lossy(&mut out, value);
                }
                out.push(b']');
            }
        }
    }
    if !head.has_header("content-type") {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"content-type\":\"");
        out.extend_from_slice(DEFAULT_CONTENT_TYPE.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"},\"cookies\":[");
    let cookies = head.headers.iter().filter(|(name, _)| name == "set-cookie");
    for (i, (_, value)) in cookies.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::push_lossy(&mut out, value);
    }
    out.extend_from_slice(b"]}");
    out.extend_from_slice(&PRELUDE_END);
    out
}

/// The first write: `first_write` (the request head), the prelude and the first body bytes
/// if the app has sent any, in one chunk; with the terminating chunk too when the body is
/// already complete or failed. `Some(ending)` when the stream is complete.
pub fn write_first(
    conn: &mut impl Write,
    first_write: Vec<u8>,
    prelude: Vec<u8>,
    first: Option<Piece>,
) -> Result<Option<Ending>, PostError> {
    let mut out = first_write;
    let mut payload = prelude;
    let ending = match first {
        Some(Piece::Data(data)) => {
            payload.extend_from_slice(&data);
            None
        }
        Some(Piece::End) => Some(Ending::Complete),
        Some(Piece::Failed(e)) => Some(ending_for(e)),
        None => None,
    };
    push_chunk(&mut out, &payload);
    if let Some(ending) = &ending {
        push_last_chunk(&mut out, ending);
    }
    conn.write_all(&out).map_err(|e| PostError {
        message: format!("streaming the response to the Runtime API failed: {e}"),
        sent_nothing: true,
    })?;
    Ok(ending)
}

/// The writer, after the first write: every piece from the reader as soon as it arrives,
/// pieces already waiting merged into one chunk; then the terminating chunk, with error
/// trailers if the body failed.
pub fn relay(
    conn: &mut impl Write,
    rx: &Receiver<Piece>,
    app_deadline: Instant,
) -> Result<Ending, PostError> {
    let mut out = Vec::new();
    let mut payload = Vec::new();
    loop {
        let mut next = Some(match rx.recv_deadline(app_deadline) {
            Ok(piece) => piece,
            Err(RecvTimeoutError::Timeout) => Piece::Failed(AppError::new(
                AppErrorKind::Timeout,
                "the app did not finish its streamed response before the invocation deadline",
            )),
            Err(RecvTimeoutError::Disconnected) => reader_gone(),
        });
        let ending = loop {
            match next.take() {
                Some(Piece::Data(data)) => {
                    payload.extend_from_slice(&data);
                    if payload.len() < MAX_CHUNK {
                        next = rx.try_recv().ok();
                    }
                }
                Some(Piece::End) => break Some(Ending::Complete),
                Some(Piece::Failed(e)) => break Some(ending_for(e)),
                None => break None,
            }
        };
        out.clear();
        push_chunk(&mut out, &payload);
        payload.clear();
        if let Some(ending) = &ending {
            push_last_chunk(&mut out, ending);
        }
        conn.write_all(&out).map_err(|e| PostError {
            message: format!("streaming the response to the Runtime API failed: {e}"),
            sent_nothing: false,
        })?;
        if let Some(ending) = ending {
            return Ok(ending);
        }
    }
}

/// Ends a stream that has started with `ending` (the terminating chunk alone).
fn end_stream(conn: &mut impl Write, ending: Ending) -> Result<Ending, PostError> {
    let mut out = Vec::new();
    push_last_chunk(&mut out, &ending);
    conn.write_all(&out).map_err(|e| PostError {
        message: format!("ending the streamed response failed: {e}"),
        sent_nothing: false,
    })?;
    Ok(ending)
}

fn ending_for(e: AppError) -> Ending {
    Ending::Failed {
        error_type: e.error_type().to_string(),
        message: e.message,
    }
}

fn reader_gone() -> Piece {
    Piece::Failed(AppError::new(
        AppErrorKind::ConnectionClosed,
        "reading the app's response stopped unexpectedly",
    ))
}

/// Appends one chunk (nothing for no data: an empty chunk would end the body).
pub fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the terminating chunk, with the error trailers when the body failed. The error
/// body is the same `{"errorType","errorMessage"}` document an `/error` post carries.
pub fn push_last_chunk(out: &mut Vec<u8>, ending: &Ending) {
    out.extend_from_slice(b"0\r\n");
    if let Ending::Failed {
        error_type,
        message,
    } = ending
    {
        let body = STANDARD.encode(lambda::error_json(error_type, message));
        let error_type = lambda::error_type_header(error_type);
        out.extend_from_slice(
            format!("{ERROR_TYPE_TRAILER}: {error_type}\r\n{ERROR_BODY_TRAILER}: {body}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &[u8])]) -> ResponseHead {
        ResponseHead {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_vec()))
                .collect(),
            close: false,
        }
    }

    fn without_nuls(prelude: &[u8]) -> &str {
        let (json, nuls) = prelude.split_at(prelude.len() - 8);
        assert_eq!(nuls, [0; 8]);
        std::str::from_utf8(json).unwrap()
    }

    #[test]
    fn prelude_shapes() {
        let h = head(
            201,
            &[
                ("content-type", b"text/plain"),
                ("x-a", b"1"),
                ("set-cookie", b"a=1; Path=/"),
                ("x-a", b"2"),
                ("content-length", b"5"),
                ("set-cookie", b"b=2"),
            ],
        );
        assert_eq!(
            without_nuls(&prelude(&h)),
            r#"{"statusCode":201,"headers":{"content-type":"text/plain","x-a":["1","2"],"content-length":"5"},"cookies":["a=1; Path=/","b=2"]}"#
        );
    }

    #[test]
    fn prelude_defaults_the_content_type() {
        assert_eq!(
            without_nuls(&prelude(&head(204, &[]))),
            r#"{"statusCode":204,"headers":{"content-type":"application/octet-stream"},"cookies":[]}"#
        );
        assert_eq!(
            without_nuls(&prelude(&head(200, &[("x", b"y")]))),
            r#"{"statusCode":200,"headers":{"x":"y","content-type":"application/octet-stream"},"cookies":[]}"#
        );
    }

    #[test]
    fn prelude_keeps_non_ascii_values() {
        let h = head(
            200,
            &[
                ("content-type", b"text/plain"),
                ("x-name", "caf\u{e9}".as_bytes()),
                ("x-raw", b"\xe9t\xe9"),
            ],
        );
        assert_eq!(
            without_nuls(&prelude(&h)),
            "{\"statusCode\":200,\"headers\":{\"content-type\":\"text/plain\",\"x-name\":\"caf\u{e9}\",\"x-raw\":\"\u{fffd}t\u{fffd}\"},\"cookies\":[]}"
        );
    }

    #[test]
    fn chunks_and_trailers() {
        let mut out = Vec::new();
        push_chunk(&mut out, b"");
        assert!(out.is_empty(), "no empty chunk: it would end the body");
        push_chunk(&mut out, &[b'x'; 26]);
        push_last_chunk(&mut out, &Ending::Complete);
        let mut expected = b"1A\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 26]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, expected);

        let mut out = Vec::new();
        push_last_chunk(
            &mut out,
            &Ending::Failed {
                error_type: "App.Timeout".into(),
                message: "late".into(),
            },
        );
        let body = STANDARD.encode(r#"{"errorMessage":"late","errorType":"App.Timeout"}"#);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "0\r\nLambda-Runtime-Function-Error-Type: App.Timeout\r\nLambda-Runtime-Function-Error-Body: {body}\r\n\r\n"
            )
        );
    }
}
