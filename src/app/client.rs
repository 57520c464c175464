//! The HTTP/1.1 client that talks to the app on loopback: one blocking keep-alive connection
//! per worker, reused across invocations.
//!
//! It writes the request exactly as the event conversion decided (method, target, header names
//! and values) and frames the body itself with `content-length` (DECISIONS 9). Every wait is
//! bounded: the connect by a fixed timeout, everything after it by the invocation's deadline
//! (DECISIONS 18). A request that fails on a reused connection before any response byte arrived
//! is retried once on a fresh one (DECISIONS 19): the app may have closed an idle connection
//! while the execution environment was frozen.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::app::error::{AppError, AppErrorKind};
use crate::app::request::AppRequest;
use crate::app::response::{self, BodyReader, ResponseHead};
use crate::deadline_stream::DeadlineStream;

/// A worker's connection to the app.
pub struct AppClient {
    addr: SocketAddr,
    connect_timeout: Duration,
    keep_alive: bool,
    conn: Option<Connection>,
}

struct Connection {
    reader: BufReader<DeadlineStream>,
    /// Requests already completed on this connection (0 = fresh).
    served: u32,
}

impl AppClient {
    /// `keep_alive: false` opens a new connection per request (SnapStart).
    pub fn new(addr: SocketAddr, connect_timeout: Duration, keep_alive: bool) -> AppClient {
        AppClient {
            addr,
            connect_timeout,
            keep_alive,
            conn: None,
        }
    }

    /// Sends `request` and reads the response head. The body is read through the returned
    /// [`AppExchange`], which gives the connection back for reuse once the body is complete.
    pub fn send(
        &mut self,
        request: &AppRequest,
        deadline: Instant,
    ) -> Result<AppExchange<'_>, AppError> {
        let wire = request.to_wire();
        let head_only = request.method.eq_ignore_ascii_case("HEAD");
        let reused = self.conn.as_ref().is_some_and(|c| c.served > 0);
        let head = match self.try_send(&wire, deadline) {
            Err((e, nothing_received)) if reused && nothing_received => {
                log::debug!(
                    "reused app connection failed before the response ({e}); retrying on a new one"
                );
                self.conn = None;
                self.try_send(&wire, deadline).map_err(|(e, _)| e)?
            }
            other => other.map_err(|(e, _)| e)?,
        };
        let reusable = self.keep_alive;
        let body = BodyReader::new(&head, head_only);
        Ok(AppExchange {
            head,
            body,
            conn_slot: &mut self.conn,
            reusable,
        })
    }

    /// One attempt. On error, also says whether no response byte had arrived (retry is safe).
    fn try_send(
        &mut self,
        wire: &[u8],
        deadline: Instant,
    ) -> Result<ResponseHead, (AppError, bool)> {
        if self.conn.is_none() {
            self.conn = Some(self.connect(deadline).map_err(|e| (e, false))?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err((
                AppError::new(AppErrorKind::ConnectionClosed, "no connection to the app"),
                false,
            ));
        };
        conn.reader.get_mut().set_deadline(deadline);
        if let Err(e) = conn.reader.get_mut().write_all(wire) {
            self.conn = None;
            return Err((
                AppError::from_io(&e, "sending the request to the app"),
                true,
            ));
        }
        match response::read_head(&mut conn.reader) {
            Ok(head) => Ok(head),
            Err(e) => {
                self.conn = None;
                Err((e.error, e.nothing_received))
            }
        }
    }

    fn connect(&self, deadline: Instant) -> Result<Connection, AppError> {
        let timeout = self
            .connect_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        if timeout.is_zero() {
            return Err(AppError::new(
                AppErrorKind::Timeout,
                "no time left before the invocation deadline to connect to the app",
            ));
        }
        let stream = TcpStream::connect_timeout(&self.addr, timeout).map_err(|e| {
            let mut err = AppError::from_io(&e, &format!("connecting to the app at {}", self.addr));
            if err.kind == AppErrorKind::ConnectionRefused {
                err.message = format!(
                    "the app is not listening on {} (connection refused)",
                    self.addr
                );
            }
            err
        })?;
        // Requests and responses are written whole; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            reader: BufReader::with_capacity(
                32 * 1024,
                DeadlineStream::new(stream, deadline, "the app"),
            ),
            served: 0,
        })
    }
}

/// A response in progress: its head, and its body still on the connection.
pub struct AppExchange<'a> {
    pub head: ResponseHead,
    body: BodyReader,
    conn_slot: &'a mut Option<Connection>,
    reusable: bool,
}

impl AppExchange<'_> {
    /// Reads the next piece of the body; `Ok(None)` at its end. `limit` caps one piece.
    pub fn next_chunk(&mut self, buf: &mut Vec<u8>, limit: usize) -> Result<bool, AppError> {
        let Some(conn) = self.conn_slot.as_mut() else {
            return Ok(false);
        };
        match self.body.read_chunk(&mut conn.reader, buf, limit) {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.finish();
                Ok(false)
            }
            Err(e) => {
                *self.conn_slot = None;
                Err(e)
            }
        }
    }

    /// Whether the next piece of the body can be had without waiting for the app: the body is
    /// complete, or some of it is already buffered.
    pub fn body_ready(&self) -> bool {
        self.body.is_done()
            || self
                .conn_slot
                .as_ref()
                .is_none_or(|conn| !conn.reader.buffer().is_empty())
    }

    /// Waits at most `wait` for the next piece of the body, so the caller can tell an app
    /// that sends its body right behind its head from one that holds it back. True when a
    /// piece (or the body's end, or a failure) can be read now.
    pub fn wait_for_body(&mut self, wait: Duration) -> bool {
        if self.body_ready() {
            return true;
        }
        let Some(conn) = self.conn_slot.as_mut() else {
            return true;
        };
        let deadline = conn.reader.get_ref().deadline();
        conn.reader
            .get_mut()
            .set_deadline(deadline.min(Instant::now() + wait));
        // Buffers what arrives without consuming it; a timeout leaves the reader as it was.
        let ready = match conn.reader.fill_buf() {
            Ok(_) => true,
            Err(e) => e.kind() != io::ErrorKind::TimedOut,
        };
        conn.reader.get_mut().set_deadline(deadline);
        ready
    }

    /// Reads the whole body into `buf` (at most `max` bytes; more is an error).
    pub fn read_body(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<(), AppError> {
        let room = max.saturating_sub(buf.len());
        if let Some(conn) = self.conn_slot.as_mut() {
            match self.body.read_whole(&mut conn.reader, buf, room) {
                Some(Ok(())) => {
                    self.finish();
                    return Ok(());
                }
                Some(Err(e)) => {
                    *self.conn_slot = None;
                    return Err(e);
                }
                None => {}
            }
        }
        loop {
            let room = max.saturating_sub(buf.len());
            // With no room left, one more byte tells "exactly max" from "too large".
            if !self.next_chunk(buf, room.max(1))? {
                return Ok(());
            }
            if buf.len() > max {
                *self.conn_slot = None;
                return Err(AppError::new(
                    AppErrorKind::InvalidResponse,
                    format!("the app's response body is larger than {max} bytes"),
                ));
            }
        }
    }

    fn finish(&mut self) {
        let keep = self.reusable && self.body.connection_reusable();
        match self.conn_slot.as_mut() {
            Some(conn) if keep => conn.served = conn.served.saturating_add(1),
            _ => {
                if let Some(conn) = self.conn_slot.take() {
                    let _ = conn.reader.get_ref().stream.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

impl Drop for AppExchange<'_> {
    fn drop(&mut self) {
        // A body left unread makes the connection unusable for the next request.
        if !self.body.is_done() {
            *self.conn_slot = None;
        }
    }
}
