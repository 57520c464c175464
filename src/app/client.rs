//! The HTTP/1.1 client that talks to the app on loopback: one blocking connection per worker,
//! kept between invocations when it is safe to (DECISIONS 19).
//!
//! The protocol is ureq-proto's (see `request`, `response`, `body`); the sockets, the deadlines
//! and the single-write sends are here. The promises:
//!
//! - **Reuse.** A kept connection carries the next request only if the previous exchange was
//!   framed to its last byte, nothing is left over or pending on it (a non-blocking look before
//!   reuse: any byte or the end of the stream means a new connection), and it has been idle
//!   less than `AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS` (upstream's variable; 4 s by default, 0 for
//!   a new connection per request, and always new under SnapStart). No byte of one
//!   invocation's response can reach another invocation.
//! - **Retries.** A request is sent again, on a fresh connection, only when the app cannot have
//!   received it: the kept connection failed the very first write, with not one byte accepted.
//!   (A connection the app closed while the environment was frozen is found closed by the look
//!   before reuse, and never used.) A request the app may have read is never sent twice; the
//!   invocation gets a named error instead.
//! - **Deadlines.** Every connect, write and read ends by the invocation's deadline, however
//!   the bytes trickle in, interim `1xx` responses included.
//! - **Early answers.** An answer that arrives while the body is still being sent ends the send
//!   and is relayed as the app's response (see `send`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ureq_proto::client::Call;
use ureq_proto::client::state::RecvResponse;

use crate::app::body::BodyReader;
use crate::app::connection::{Connection, Stale};
use crate::app::error::{AppError, AppErrorKind};
use crate::app::request::AppRequest;
use crate::app::response::{self, AfterHead, ResponseHead};
use crate::app::send::{self, SendError, Sent};

/// A worker's connection to the app.
pub struct AppClient {
    addr: SocketAddr,
    connect_timeout: Duration,
    /// How long a kept connection may stay idle; `None`: a new connection per request.
    idle_timeout: Option<Duration>,
    kept: Option<Connection>,
}

/// Why an exchange failed before the response head, and whether sending again is safe.
enum Failure {
    Send(SendError),
    Other(AppError),
}

impl AppClient {
    pub fn new(
        addr: SocketAddr,
        connect_timeout: Duration,
        idle_timeout: Option<Duration>,
    ) -> AppClient {
        AppClient {
            addr,
            connect_timeout,
            idle_timeout: idle_timeout.filter(|t| !t.is_zero()),
            kept: None,
        }
    }

    /// Closes the kept connection, if any (e.g. after a SnapStart restore, when every socket
    /// opened before the snapshot is dead).
    pub fn forget_connection(&mut self) {
        if let Some(conn) = self.kept.take() {
            conn.close();
        }
    }

    /// Sends `request` and reads the response head. The body is read through the returned
    /// [`AppExchange`], which keeps the connection for the next request only once the body is
    /// complete and everything above holds.
    pub fn send(
        &mut self,
        request: &AppRequest,
        deadline: Instant,
    ) -> Result<AppExchange<'_>, AppError> {
        let (head, call) = request.prepare()?;
        let (mut conn, reused) = self.open(deadline)?;
        let mut outcome = exchange_head(&mut conn, &head, &request.body, call, deadline);
        let untouched = matches!(&outcome, Err(Failure::Send(e)) if e.nothing_accepted);
        if reused && untouched {
            log::debug!("the kept app connection took no byte; sending on a new one");
            conn.close();
            conn = Connection::connect(self.addr, self.connect_timeout, deadline)?;
            let (head, call) = request.prepare()?;
            outcome = exchange_head(&mut conn, &head, &request.body, call, deadline);
        }
        let (head, after, keep) = match outcome {
            Ok(done) => done,
            Err(Failure::Send(e)) => {
                conn.close();
                return Err(e.error);
            }
            Err(Failure::Other(e)) => {
                conn.close();
                return Err(e);
            }
        };
        let body = match after {
            AfterHead::Body(call) => BodyReader::new(call),
            AfterHead::Done { must_close } => BodyReader::done(must_close),
        };
        let mut exchange = AppExchange {
            head,
            body,
            conn: Some(conn),
            slot: &mut self.kept,
            keep: keep && self.idle_timeout.is_some(),
            pending: None,
        };
        if exchange.body.ended().is_some() {
            exchange.finish();
        }
        Ok(exchange)
    }

    /// The kept connection if it may carry a request (`true`: reused), else a new one.
    fn open(&mut self, deadline: Instant) -> Result<(Connection, bool), AppError> {
        if let Some(conn) = self.kept.take() {
            let idle_timeout = self.idle_timeout.unwrap_or_default();
            match conn.check_reusable(idle_timeout) {
                Ok(()) => return Ok((conn, true)),
                Err(why) => {
                    if why == Stale::NotIdle {
                        log::debug!(
                            "the kept app connection was closed or had unexpected bytes; opening a new one"
                        );
                    }
                    conn.close();
                }
            }
        }
        Ok((
            Connection::connect(self.addr, self.connect_timeout, deadline)?,
            false,
        ))
    }
}

/// Sends the request and reads the response head. The `bool` is false when the connection
/// cannot be kept whatever the body does (an early answer, suspicious framing).
fn exchange_head(
    conn: &mut Connection,
    head: &[u8],
    body: &[u8],
    call: Call<RecvResponse>,
    deadline: Instant,
) -> Result<(ResponseHead, AfterHead, bool), Failure> {
    conn.set_deadline(deadline);
    // An early answer leaves part of the body unsent, and the connection is closed after.
    let whole = send::send(conn, head, body, deadline).map_err(Failure::Send)? == Sent::Whole;
    let (head, after, must_close) =
        response::read_head(&mut conn.input, call).map_err(|e| Failure::Other(e.error))?;
    Ok((head, after, whole && !must_close))
}

/// A response in progress: its head, and its body still on the connection.
pub struct AppExchange<'a> {
    pub head: ResponseHead,
    body: BodyReader,
    conn: Option<Connection>,
    /// Where the connection goes back for the next request, if it may.
    slot: &'a mut Option<Connection>,
    keep: bool,
    /// A failure met while only waiting for the body, reported by the next read.
    pending: Option<AppError>,
}

impl AppExchange<'_> {
    /// Appends the next piece of the body (at most `limit` bytes) to `buf`; `Ok(false)` at its
    /// end.
    pub fn next_chunk(&mut self, buf: &mut Vec<u8>, limit: usize) -> Result<bool, AppError> {
        if let Some(e) = self.pending.take() {
            self.drop_connection();
            return Err(e);
        }
        if self.body.ended().is_some() {
            return Ok(false);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        match self.body.read(&mut conn.input, buf, limit) {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.finish();
                Ok(false)
            }
            Err(e) => {
                self.drop_connection();
                Err(e)
            }
        }
    }

    /// Whether the next piece of the body can be had without waiting for the app: the body is
    /// complete, some of it is buffered, or a failure is waiting to be reported.
    pub fn body_ready(&self) -> bool {
        self.body.ended().is_some()
            || self.pending.is_some()
            || self
                .conn
                .as_ref()
                .is_none_or(|conn| !conn.input.buffered().is_empty())
    }

    /// Waits at most `wait` for the next piece of the body, so the caller can tell an app that
    /// sends its body right behind its head from one that holds it back. True when a piece (or
    /// the body's end, or a failure) can be read now.
    pub fn wait_for_body(&mut self, wait: Duration) -> bool {
        if self.body_ready() {
            return true;
        }
        let Some(conn) = self.conn.as_mut() else {
            return true;
        };
        let deadline = conn.deadline();
        conn.set_deadline(deadline.min(Instant::now() + wait));
        let ready = match conn.input.fill(response::MAX_HEAD_BYTES) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Instant::now() >= deadline,
            Err(e) => {
                self.pending = Some(AppError::from_io(&e, "reading the app's response body"));
                true
            }
        };
        if let Some(conn) = self.conn.as_mut() {
            conn.set_deadline(deadline);
        }
        ready
    }

    /// Reads the whole body into `buf` (at most `max` bytes; more is an error).
    pub fn read_body(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<(), AppError> {
        if let Some(length) = self
            .head
            .header("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            buf.reserve(length.min(max.saturating_sub(buf.len())));
        }
        loop {
            let room = max.saturating_sub(buf.len());
            // With no room left, one more byte tells "exactly max" from "too large".
            if !self.next_chunk(buf, room.max(1))? {
                return Ok(());
            }
            if buf.len() > max {
                self.drop_connection();
                return Err(AppError::new(
                    AppErrorKind::InvalidResponse,
                    format!("the app's response body is larger than {max} bytes"),
                ));
            }
        }
    }

    /// The body is complete: the connection goes back for the next request if it may.
    fn finish(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let must_close = self.body.ended().unwrap_or(true);
        if self.keep && !must_close && conn.input.buffered().is_empty() {
            conn.park();
            *self.slot = Some(conn);
        } else {
            conn.close();
        }
    }

    fn drop_connection(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.close();
        }
    }
}

impl Drop for AppExchange<'_> {
    fn drop(&mut self) {
        // A body left unread makes the connection unusable for the next request.
        self.drop_connection();
    }
}
