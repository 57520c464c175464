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

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::app::{AppError, AppErrorKind, AppExchange};
use crate::lambda::RuntimeClient;
use crate::lambda::invocation::Invocation;
use crate::lambda::post::{Poster, RuntimeConn, invocation_path};
use crate::reply::Reply;
use crate::reply::chunked::{Ending, push_chunk, push_last_chunk, request_head};
use crate::reply::prelude::prelude;

/// Pieces of body in flight between the reader and the writer.
const CHANNEL_PIECES: usize = 16;
/// Largest piece the reader takes from the app at once.
const PIECE_BYTES: usize = 64 * 1024;
/// Largest first piece, written with the prelude: small, so the first bytes reach the caller
/// before the app's first large chunk has been relayed whole (the rest follows at once).
const FIRST_PIECE_BYTES: usize = 16 * 1024;
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
        .then(|| next_piece(exchange, FIRST_PIECE_BYTES));
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
fn next_piece(exchange: &mut AppExchange<'_>, limit: usize) -> Piece {
    loop {
        let mut piece = Vec::new();
        return match exchange.next_chunk(&mut piece, limit) {
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
        let message = next_piece(exchange, PIECE_BYTES);
        let last = !matches!(message, Piece::Data(_));
        // A send error means the writer gave up; stop reading.
        if tx.send(message).is_err() || last {
            return;
        }
    }
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
