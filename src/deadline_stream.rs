//! A TCP stream whose every read and write ends by a deadline: the app connection and the
//! streaming connection to the Runtime API both use it, so no peer can pin a worker past the
//! invocation's deadline.
//!
//! The socket timeouts are set lazily. Setting them costs a system call per direction, and a
//! streamed body is read and written in many pieces, so a timeout set at most
//! [`REARM_AFTER`] ago for the same deadline is kept. A read started later than the moment
//! the timeout was set can then end at most `REARM_AFTER` past the deadline, which the
//! deadlines already leave room for (the app's is 100 ms before Lambda's).

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a socket timeout, once set, serves later reads or writes for the same deadline.
pub const REARM_AFTER: Duration = Duration::from_millis(10);

pub struct DeadlineStream {
    pub stream: TcpStream,
    deadline: Instant,
    /// Who is on the other end, for the timeout messages ("the app").
    peer: &'static str,
    read_armed: Option<Armed>,
    write_armed: Option<Armed>,
}

/// A socket timeout in force: when it was set and for which deadline.
#[derive(Clone, Copy)]
struct Armed {
    at: Instant,
    deadline: Instant,
}

#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

impl DeadlineStream {
    pub fn new(stream: TcpStream, deadline: Instant, peer: &'static str) -> DeadlineStream {
        DeadlineStream {
            stream,
            deadline,
            peer,
            read_armed: None,
            write_armed: None,
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Later reads and writes end by `deadline` (the socket timeouts follow on next use).
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    fn arm(&mut self, direction: Direction) -> io::Result<()> {
        let now = Instant::now();
        let left = self.deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the invocation deadline passed",
            ));
        }
        let armed = match direction {
            Direction::Read => &mut self.read_armed,
            Direction::Write => &mut self.write_armed,
        };
        let fresh = armed.is_some_and(|a| {
            a.deadline == self.deadline && now.saturating_duration_since(a.at) < REARM_AFTER
        });
        if fresh {
            return Ok(());
        }
        // Forgotten first: if setting fails, the next call tries again.
        *armed = None;
        match direction {
            Direction::Read => self.stream.set_read_timeout(Some(left))?,
            Direction::Write => self.stream.set_write_timeout(Some(left))?,
        }
        *armed = Some(Armed {
            at: now,
            deadline: self.deadline,
        });
        Ok(())
    }

    /// A socket timeout surfaces as `WouldBlock` on Linux; name it for what it is.
    fn timed_out(&self, e: io::Error, direction: Direction) -> io::Error {
        if e.kind() != io::ErrorKind::WouldBlock {
            return e;
        }
        let what = match direction {
            Direction::Read => "sent nothing more",
            Direction::Write => "took no more data",
        };
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{} {what} before the invocation deadline", self.peer),
        )
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm(Direction::Read)?;
        self.stream
            .read(buf)
            .map_err(|e| self.timed_out(e, Direction::Read))
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm(Direction::Write)?;
        self.stream
            .write(buf)
            .map_err(|e| self.timed_out(e, Direction::Write))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.arm(Direction::Write)?;
        self.stream
            .write_vectored(bufs)
            .map_err(|e| self.timed_out(e, Direction::Write))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A non-blocking peek finds neither data nor the end of the stream: the peer has not closed
/// the connection and has sent nothing unasked since its last answer, so a kept connection can
/// carry the next request.
pub fn is_idle(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut probe = [0u8; 1];
    let idle = matches!(stream.peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && idle
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_silent_peer_times_out_at_the_deadline_with_a_named_error() {
        let (client, _server) = pair();
        let started = Instant::now();
        let mut stream =
            DeadlineStream::new(client, started + Duration::from_millis(50), "the app");
        let e = stream.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            e.to_string(),
            "the app sent nothing more before the invocation deadline"
        );
        // Once the deadline has passed, nothing waits at all.
        let e = stream.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.to_string(), "the invocation deadline passed");
    }

    #[test]
    fn vectored_writes_go_out_in_one_call() {
        // Posts write their head and body with one writev; the default `write_vectored`
        // would write only the head and leave the body to a second system call.
        let (client, mut server) = pair();
        let mut stream = DeadlineStream::new(
            client,
            Instant::now() + Duration::from_secs(60),
            "the Runtime API",
        );
        let written = stream
            .write_vectored(&[IoSlice::new(b"HEAD\r\n\r\n"), IoSlice::new(b"body")])
            .unwrap();
        assert_eq!(written, 12);
        let mut got = [0u8; 12];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"HEAD\r\n\r\nbody");
    }

    #[test]
    fn a_moved_deadline_is_armed_again() {
        let (client, mut server) = pair();
        let far = Instant::now() + Duration::from_secs(60);
        let mut stream = DeadlineStream::new(client, far, "the app");
        server.write_all(b"x").unwrap();
        assert_eq!(stream.read(&mut [0u8; 8]).unwrap(), 1);
        // The same deadline within REARM_AFTER would keep the 60 s timeout; a new one must
        // not: this read has to give up after about 50 ms, not 60 s.
        stream.set_deadline(Instant::now() + Duration::from_millis(50));
        let e = stream.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
