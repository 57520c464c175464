//! `lambda-emulator`: run the adapter and an app locally behind a Lambda-like front door.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lambda_adapter::emulator::front_door::FrontDoor;
use lambda_adapter::emulator::process::{self, Supervisor};
use lambda_adapter::emulator::{EventFormat, InvokeError, InvokeOptions, RuntimeApi};

mod invoke;
use invoke::{EXIT_NO_ANSWER, EXIT_USAGE, relay, report};

const USAGE: &str = "\
lambda-emulator: run lambda-adapter and a web app locally, as Lambda would.

Usage: lambda-emulator [OPTIONS] -- APP_COMMAND [ARGS...]

  --runtime-api ADDR   where to serve the Runtime + Extensions API   [127.0.0.1:9001]
  --listen ADDR        front door: plain HTTP in, events out          [127.0.0.1:3000]
  --source SRC         event format the front door produces             [v2]
                         v2         API Gateway HTTP API (payload 2.0)
                         url        Lambda Function URL
                         v1         API Gateway REST API (payload 1.0)
                         alb        ALB target group as created (multi-value headers off):
                                    headers and queryStringParameters, the last value of a
                                    repeated header or query key
                         alb-multi  ALB target group with lambda.multi_value_headers.enabled:
                                    multiValueHeaders and multiValueQueryStringParameters,
                                    every value
  --adapter PATH       adapter binary   [lambda-adapter next to the emulator executable]
  --timeout SECS       function timeout (deadline)   [30]
  --invoke FILE        instead of a front door: invoke once with this raw event JSON (\"-\" =
                       stdin), then stop. stdout: the posted response JSON (buffered), or the
                       body as it streams (AWS_LWA_INVOKE_MODE=response_stream). stderr: the
                       status and headers of an HTTP answer, the adapter's and the app's output,
                       and why an invocation failed
  --fail-on-status     with --invoke: exit 4 when the answer's HTTP status is 400 or more

Exit status of --invoke:
  0  the function answered (whatever its HTTP status, unless --fail-on-status)
  1  the function failed: an /error post (its JSON on stderr; App.Timeout when the app is too
     slow for the deadline), or a streamed answer that broke off or ended with error trailers
  2  usage error
  3  no answer: the adapter refused its configuration (or another init error), the adapter or
     the app exited, or nothing came back in time (an app that never became ready)
  4  with --fail-on-status: the HTTP status was 400 or more
Without --invoke the emulator serves until Ctrl-C, or exits 3 when the adapter or the app exits.

Timing: an invocation may wait 10 s (Lambda's init limit) plus the timeout for the function to
take it, then has the timeout from then on. The front door answers 504 once that passes (with
the reason in the body), 502 for an invocation error, a malformed answer or a failed init.

The adapter gets AWS_LAMBDA_RUNTIME_API=ADDR and function defaults; every AWS_LWA_* and
AWS_LAMBDA_* variable of the emulator's environment passes through to it (and to the app).
";

/// How long Lambda lets the init phase run before it gives up on it.
const INIT_LIMIT: Duration = Duration::from_secs(10);
/// How long answers already decided get to reach their clients when the function is gone.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

struct Args {
    runtime_api: String,
    listen: String,
    source: EventFormat,
    adapter: PathBuf,
    timeout: Duration,
    invoke: Option<String>,
    fail_on_status: bool,
    app: Vec<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let default_adapter = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("lambda-adapter")))
        .unwrap_or_else(|| PathBuf::from("lambda-adapter"));
    let mut parsed = Args {
        runtime_api: "127.0.0.1:9001".into(),
        listen: "127.0.0.1:3000".into(),
        source: EventFormat::V2,
        adapter: default_adapter,
        timeout: Duration::from_secs(30),
        invoke: None,
        fail_on_status: false,
        app: Vec::new(),
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--" => {
                parsed.app = args.collect();
                break;
            }
            "--runtime-api" => parsed.runtime_api = value("--runtime-api")?,
            "--listen" => parsed.listen = value("--listen")?,
            "--source" => parsed.source = value("--source")?.parse()?,
            "--adapter" => parsed.adapter = PathBuf::from(value("--adapter")?),
            "--timeout" => {
                let v = value("--timeout")?;
                let secs = v.parse::<f64>().ok().filter(|s| *s > 0.0 && *s <= 900.0);
                parsed.timeout =
                    Duration::from_secs_f64(secs.ok_or_else(|| {
                        format!("--timeout {v:?}: expected seconds from 1 to 900")
                    })?);
            }
            "--invoke" => parsed.invoke = Some(value("--invoke")?),
            "--fail-on-status" => parsed.fail_on_status = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if parsed.app.is_empty() {
        return Err(
            "missing the app command: lambda-emulator [OPTIONS] -- APP_COMMAND [ARGS...]".into(),
        );
    }
    if parsed.fail_on_status && parsed.invoke.is_none() {
        return Err("--fail-on-status goes with --invoke".into());
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().is_some_and(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse_args(raw.into_iter()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("lambda-emulator: {e}\n\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lambda-emulator: {e}");
            ExitCode::from(EXIT_NO_ANSWER)
        }
    }
}

fn run(args: &Args) -> Result<ExitCode, String> {
    // Read first: a missing event file should not start the app.
    let event = args.invoke.as_deref().map(read_event).transpose()?;
    let runtime = RuntimeApi::start(&args.runtime_api)?;
    let runtime_addr = runtime.addr().to_string();
    // With --invoke, stdout is the result alone: the children's output goes to stderr.
    let output = match args.invoke {
        Some(_) => process::ChildOutput::Stderr,
        None => process::ChildOutput::Inherit,
    };
    let children = process::spawn(&args.adapter, &runtime_addr, &args.app, output)?;
    // A child that exits ends every invocation at once, waiting or in flight.
    let invoker = runtime.invoker();
    let mut supervisor = Supervisor::start(children, move |reason| {
        invoker.fail(InvokeError::Exited(reason.to_string()));
    })?;
    let options = InvokeOptions {
        timeout: args.timeout,
        queue_wait: INIT_LIMIT + args.timeout,
        ..InvokeOptions::default()
    };

    if let Some(event) = event {
        let mut pending = runtime.submit(event, options);
        let outcome = relay(&mut pending);
        supervisor.stop();
        return Ok(report(outcome, args.fail_on_status));
    }

    let door = FrontDoor::start(&args.listen, args.source, runtime.invoker(), options)?;
    eprintln!(
        "lambda-emulator: front door http://{} ({}) -> Runtime API {} -> adapter -> app",
        door.addr(),
        args.source,
        runtime_addr
    );
    let reason = supervisor.wait_exit();
    door.drain(DRAIN_WAIT);
    eprintln!("lambda-emulator: {}; stopping", gone(&runtime, &reason));
    Ok(ExitCode::from(EXIT_NO_ANSWER))
}

/// Why the function is gone, in one line. An init error's message is not repeated: the
/// adapter has printed it already.
fn gone(runtime: &RuntimeApi, exit: &str) -> String {
    match runtime.failure() {
        Some(InvokeError::InitFailed { error_type, .. }) => {
            format!("init failed with {error_type} (the adapter's message is above); {exit}")
        }
        _ => exit.to_string(),
    }
}

fn read_event(file: &str) -> Result<Vec<u8>, String> {
    let mut event = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut event)
            .map_err(|e| format!("reading the event from stdin failed: {e}"))?;
    } else {
        event = std::fs::read(file).map_err(|e| format!("reading the event {file} failed: {e}"))?;
    }
    Ok(event)
}
