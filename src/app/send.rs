//! Writing a request to the app: head and body together (one system call when the socket has
//! room), watching for an answer that comes before the body is through.
//!
//! An app may answer without reading a large body (`413 Payload Too Large`, `401`), and stop
//! reading. Writing on regardless would block until the deadline and lose the answer. So every
//! write waits at most [`STALL_CHECK`], and before each write after the first (a body the
//! socket cannot take at once) and whenever the app has taken nothing for that long, a look at
//! the connection tells whether it has answered; the answer is then read instead of sending
//! the rest. Such a connection is never reused: the app has not read the whole request.

use std::io::{self, IoSlice, Write};
use std::time::{Duration, Instant};

use crate::app::connection::Connection;
use crate::app::error::AppError;

/// How long a write may make no progress before the connection is checked for an answer.
const STALL_CHECK: Duration = Duration::from_millis(20);
/// Interrupted writes are retried this many times.
const MAX_INTERRUPTS: usize = 16;

/// How the request went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Every byte.
    Whole,
    /// The app answered (or closed with an answer) before taking the whole body.
    AnsweredEarly,
}

/// A failed send. `nothing_accepted`: not one byte left for the app, so the request can be
/// sent again elsewhere without the app ever seeing it twice.
#[derive(Debug)]
pub struct SendError {
    pub error: AppError,
    pub nothing_accepted: bool,
}

/// Writes `head` then `body`, every wait ending by `deadline`.
pub fn send(
    conn: &mut Connection,
    head: &[u8],
    body: &[u8],
    deadline: Instant,
) -> Result<Sent, SendError> {
    let result = write_watching(conn, head, body, deadline);
    conn.set_deadline(deadline);
    result
}

fn write_watching(
    conn: &mut Connection,
    head: &[u8],
    body: &[u8],
    deadline: Instant,
) -> Result<Sent, SendError> {
    let total = head.len() + body.len();
    let mut written = 0;
    let mut interrupts = 0;
    while written < total {
        // Anything from the app before the whole request is out is an early answer (RFC 9112
        // §9.5: stop sending, and close after): the app has not read the rest.
        if written > 0 && conn.has_input() {
            return Ok(Sent::AnsweredEarly);
        }
        let (from_head, from_body) = if written < head.len() {
            (head.get(written..).unwrap_or_default(), body)
        } else {
            (
                &[][..],
                body.get(written - head.len()..).unwrap_or_default(),
            )
        };
        conn.set_deadline(deadline.min(Instant::now() + STALL_CHECK));
        let result = conn
            .input
            .get_mut()
            .write_vectored(&[IoSlice::new(from_head), IoSlice::new(from_body)]);
        match result {
            Ok(0) => {
                return Err(failed(io::ErrorKind::WriteZero.into(), written == 0));
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupts < MAX_INTERRUPTS => {
                interrupts += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut && Instant::now() < deadline => {
                // The app takes nothing: has it answered already?
                if conn.has_input() {
                    return Ok(Sent::AnsweredEarly);
                }
            }
            Err(e) => {
                // An app that answers and then closes resets the rest of the send; its answer
                // may still be waiting to be read.
                if written > 0 && e.kind() != io::ErrorKind::TimedOut && conn.has_input() {
                    return Ok(Sent::AnsweredEarly);
                }
                return Err(failed(e, written == 0));
            }
        }
    }
    Ok(Sent::Whole)
}

fn failed(e: io::Error, nothing_accepted: bool) -> SendError {
    SendError {
        error: AppError::from_io(&e, "sending the request to the app"),
        nothing_accepted,
    }
}
