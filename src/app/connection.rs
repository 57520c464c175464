//! One TCP connection to the app: its socket (every wait bounded by the exchange's deadline),
//! the input not used yet, and what decides whether it may carry another request.

use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::app::buffer::ReadBuffer;
use crate::app::error::{AppError, AppErrorKind};
use crate::deadline_stream::{DeadlineStream, is_idle};

pub struct Connection {
    pub input: ReadBuffer<DeadlineStream>,
    /// When the last exchange on it ended.
    idle_since: Instant,
}

/// Why a kept connection is not used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Idle longer than `AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS`.
    IdleTooLong,
    /// The app closed it, reset it, or sent bytes nobody asked for.
    NotIdle,
}

impl Connection {
    /// Connects within `connect_timeout` and before `deadline`.
    pub fn connect(
        addr: SocketAddr,
        connect_timeout: Duration,
        deadline: Instant,
    ) -> Result<Connection, AppError> {
        let timeout = connect_timeout.min(deadline.saturating_duration_since(Instant::now()));
        if timeout.is_zero() {
            return Err(AppError::new(
                AppErrorKind::Timeout,
                "no time left before the invocation deadline to connect to the app",
            ));
        }
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
            let mut err = AppError::from_io(&e, &format!("connecting to the app at {addr}"));
            if err.kind == AppErrorKind::ConnectionRefused {
                err.message = format!("the app is not listening on {addr} (connection refused)");
            }
            err
        })?;
        // Requests and responses are written whole; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            input: ReadBuffer::new(DeadlineStream::new(stream, deadline, "the app")),
            idle_since: Instant::now(),
        })
    }

    pub fn stream(&self) -> &TcpStream {
        &self.input.get_ref().stream
    }

    pub fn deadline(&self) -> Instant {
        self.input.get_ref().deadline()
    }

    /// Later reads and writes end by `deadline`.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.input.get_mut().set_deadline(deadline);
    }

    /// Marks the end of an exchange whose every byte was read.
    pub fn park(&mut self) {
        self.idle_since = Instant::now();
    }

    /// Whether the connection may carry the next request: idle for less than `idle_timeout`,
    /// nothing left over from the last response, and the app has neither closed it nor sent
    /// anything since (a non-blocking peek).
    pub fn check_reusable(&self, idle_timeout: Duration) -> Result<(), Stale> {
        if self.idle_since.elapsed() >= idle_timeout {
            return Err(Stale::IdleTooLong);
        }
        if self.has_input() {
            return Err(Stale::NotIdle);
        }
        Ok(())
    }

    /// Whether the app has sent something (or closed): a non-blocking look.
    pub fn has_input(&self) -> bool {
        !self.input.buffered().is_empty() || !is_idle(self.stream())
    }

    /// Closes both directions now, so the app sees the end at once.
    pub fn close(self) {
        let _ = self.stream().shutdown(Shutdown::Both);
    }
}
