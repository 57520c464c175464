//! `lambda-emulator --invoke`: one invocation from the command line. The answer goes to stdout
//! as it arrives (a stream chunk by chunk), the status and headers of an HTTP answer to stderr,
//! and the exit status says how the invocation ended (see USAGE in `main.rs`).

use std::io::Write;
use std::process::ExitCode;

use lambda_adapter::emulator::function_response::{HttpResponse, http_response, prelude_response};
use lambda_adapter::emulator::http_head;
use lambda_adapter::emulator::{
    Delivery, EventFormat, InvokeError, Pending, PostKind, split_prelude,
};

/// Exit statuses of `--invoke` (see USAGE).
pub const EXIT_FUNCTION_ERROR: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_NO_ANSWER: u8 = 3;
pub const EXIT_STATUS: u8 = 4;

/// How one `--invoke` ended.
pub enum Outcome {
    /// A buffered response, already printed.
    Answered {
        status: Option<u16>,
    },
    /// A complete stream, already printed.
    Streamed {
        status: Option<u16>,
    },
    /// An `/error` post, or a stream that broke off.
    FunctionError(String),
    NoAnswer(InvokeError),
}

/// Follows the invocation: a buffered answer is printed when complete, a stream as it arrives.
/// `deadline` is set once a `/next` poll hands the invocation out.
pub fn relay(pending: &mut Pending, deadline: &mut Option<u64>) -> Outcome {
    let mut kind = PostKind::Response;
    let mut body = Vec::new();
    let mut stream: Option<StreamOutput> = None;
    loop {
        match pending.next_delivery() {
            Ok(Delivery::Started { deadline_ms }) => *deadline = Some(deadline_ms),
            Ok(Delivery::Head { kind: k, .. }) => {
                kind = k;
                if kind == PostKind::Streamed {
                    stream = Some(StreamOutput::default());
                }
            }
            Ok(Delivery::Chunk(data)) => match stream.as_mut() {
                Some(stream) => stream.push(&data),
                None => body.extend_from_slice(&data),
            },
            Ok(Delivery::End) => break,
            Ok(Delivery::Failed(why)) => {
                if let Some(stream) = stream.as_mut() {
                    stream.finish();
                }
                return Outcome::FunctionError(why);
            }
            Err(e) => return Outcome::NoAnswer(e),
        }
    }
    if let Some(mut stream) = stream {
        stream.finish();
        return Outcome::Streamed {
            status: stream.status,
        };
    }
    if kind == PostKind::Error {
        return Outcome::FunctionError(String::from_utf8_lossy(&body).to_string());
    }
    // The format of a raw event is not known: a document with a statusCode is read as an HTTP
    // answer, anything else (a pass-through answer) is printed as it is.
    let head = http_response(EventFormat::V1, &body).ok();
    if let Some(head) = &head {
        print_head(head, "buffered");
    }
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(&body)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    Outcome::Answered {
        status: head.map(|h| h.status),
    }
}

/// A streamed answer on its way to stdout: the prelude is held until complete, then its status
/// and headers go to stderr and the body to stdout as it arrives.
#[derive(Default)]
struct StreamOutput {
    prelude: Vec<u8>,
    started: bool,
    status: Option<u16>,
}

impl StreamOutput {
    fn push(&mut self, data: &[u8]) {
        if self.started {
            return write_stdout(data);
        }
        self.prelude.extend_from_slice(data);
        let Some((prelude, rest)) = split_prelude(&self.prelude) else {
            return;
        };
        self.started = true;
        if let Ok(head) = prelude_response(prelude) {
            print_head(&head, "streamed");
            self.status = Some(head.status);
        }
        let rest = rest.to_vec();
        self.prelude.clear();
        write_stdout(&rest);
    }

    /// The end of the stream: without a prelude separator, everything was body.
    fn finish(&mut self) {
        if !self.started {
            self.started = true;
            write_stdout(&std::mem::take(&mut self.prelude));
        }
    }
}

fn write_stdout(data: &[u8]) {
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(data).and_then(|()| stdout.flush());
}

/// The status line and headers of an HTTP answer, on stderr.
fn print_head(head: &HttpResponse, how: &str) {
    let reason = http_head::reason(head.status);
    let mut text = format!("lambda-emulator: status {} {reason} ({how})\n", head.status);
    for (name, value) in &head.headers {
        text.push_str(&format!("  {name}: {value}\n"));
    }
    eprint!("{text}");
}

/// Prints why an invocation failed and gives its exit status.
pub fn report(outcome: Outcome, fail_on_status: bool) -> ExitCode {
    let status = match outcome {
        Outcome::Answered { status } | Outcome::Streamed { status } => status,
        Outcome::FunctionError(why) => {
            eprintln!("lambda-emulator: the function failed: {why}");
            return ExitCode::from(EXIT_FUNCTION_ERROR);
        }
        Outcome::NoAnswer(InvokeError::InitFailed { error_type, .. }) => {
            eprintln!(
                "lambda-emulator: no answer: init failed with {error_type} (the adapter's message is above); the app is stopped"
            );
            return ExitCode::from(EXIT_NO_ANSWER);
        }
        Outcome::NoAnswer(e) => {
            eprintln!("lambda-emulator: no answer: {e}; the adapter and the app are stopped");
            return ExitCode::from(EXIT_NO_ANSWER);
        }
    };
    match status {
        Some(status) if fail_on_status && status >= 400 => {
            eprintln!("lambda-emulator: --fail-on-status: the answer's status is {status}");
            ExitCode::from(EXIT_STATUS)
        }
        _ => ExitCode::SUCCESS,
    }
}
