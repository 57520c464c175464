//! `lambda-emulator`: run the adapter and an app locally behind a Lambda-like front door.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use lambda_adapter::emulator::front_door::FrontDoor;
use lambda_adapter::emulator::lifecycle::Lifecycle;
use lambda_adapter::emulator::process::{self, Supervisor};
use lambda_adapter::emulator::shutdown::{self, Signals};
use lambda_adapter::emulator::{EventFormat, InvokeError, InvokeOptions, RuntimeApi, now_ms};

mod invoke;
use invoke::{EXIT_NO_ANSWER, EXIT_USAGE, Outcome, relay, report};

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
                         lattice    VPC Lattice, Lambda event structure 2.0: a list of values
                                    per header and query key, the Lattice request context
                         lattice-v1 VPC Lattice, event structure 1.0: repeated headers joined
                                    with \", \", the last value of a repeated query key
  --adapter PATH       adapter binary   [lambda-adapter next to the emulator executable]
  --timeout SECS       function timeout (deadline)   [30]
  --snap-start         a SnapStart version: init, snapshot (before-checkpoint hook), every Runtime API
                       connection closed, restore (after-restore hook), then invocations; sets
                       AWS_LAMBDA_INITIALIZATION_TYPE=snap-start for the adapter and the app (that
                       variable in the emulator's environment turns this on too)
  --invoke FILE        instead of a front door: invoke once with this raw event JSON (\"-\" =
                       stdin), then shut down once the function asks for its next event. stdout:
                       the posted response JSON (buffered), or the body as it streams
                       (AWS_LWA_INVOKE_MODE=response_stream). stderr: the status and headers of
                       an HTTP answer, the adapter's and the app's output, and why an invocation
                       failed
  --fail-on-status     with --invoke: exit 4 when the answer's HTTP status is 400 or more
  --no-freeze          do not freeze the adapter and the app between invocations (by default they
                       are stopped, as Lambda freezes the environment, whenever the runtime waits
                       on /next with no event queued; never with AWS_LAMBDA_MAX_CONCURRENCY
                       above 1)
  --max-idle SECS      shut down as Lambda does after SECS without an invocation   [never]

Exit status of --invoke:
  0  the function answered (whatever its HTTP status, unless --fail-on-status)
  1  the function failed: an /error post (its JSON on stderr; App.Timeout when the app is too
     slow for the deadline), or a streamed answer that broke off or ended with error trailers
  2  usage error
  3  no answer: the adapter refused its configuration (or another init error), the adapter or
     the app exited, or nothing came back in time (an app that never became ready)
  4  with --fail-on-status: the HTTP status was 400 or more
Without --invoke the emulator serves until Ctrl-C or SIGTERM (exit 130 or 143) or until
--max-idle (exit 0), or exits 3 when the adapter or the app exits.

Ctrl-C (or SIGTERM) shuts down as Lambda does: SIGTERM to the app, which has 300 ms to exit,
then the SHUTDOWN event to extensions registered for it, SIGKILL to what is left at 2,000 ms.
A second Ctrl-C stops at once. A request still waiting or in flight is answered 503.

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
/// How often the serving loop looks at signals and `--max-idle`.
const TICK: Duration = Duration::from_millis(200);
/// Exit statuses of a shutdown by signal (128 + the signal, as a shell reports it).
const EXIT_CTRL_C: u8 = 130;
const EXIT_SIGTERM: u8 = 143;

struct Args {
    runtime_api: String,
    listen: String,
    source: EventFormat,
    adapter: PathBuf,
    timeout: Duration,
    invoke: Option<String>,
    fail_on_status: bool,
    snap_start: bool,
    freeze: bool,
    max_idle: Option<Duration>,
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
        snap_start: false,
        freeze: true,
        max_idle: None,
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
            "--snap-start" => parsed.snap_start = true,
            "--no-freeze" => parsed.freeze = false,
            "--max-idle" => {
                let v = value("--max-idle")?;
                let secs = v.parse::<f64>().ok().filter(|s| *s > 0.0 && *s <= 86_400.0);
                parsed.max_idle = Some(Duration::from_secs_f64(secs.ok_or_else(|| {
                    format!("--max-idle {v:?}: expected seconds, more than 0 and at most 86400")
                })?));
            }
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
    let mut env = Vec::new();
    let snap_start = args.snap_start
        || std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").is_ok_and(|t| t == "snap-start");
    if snap_start {
        runtime.snap_start().enable();
        env.push(("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"));
    }
    let children = process::spawn_with_env(&args.adapter, &runtime_addr, &args.app, output, &env)?;
    let lifecycle = runtime.lifecycle();
    freeze_between_invocations(args, &lifecycle, &children);
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
        let mut deadline_ms = None;
        let outcome = relay(&mut pending, &mut deadline_ms);
        match (&outcome, deadline_ms) {
            (Outcome::NoAnswer(_), _) | (_, None) => supervisor.stop(),
            (_, Some(deadline_ms)) => {
                // The invocation ends when the runtime asks for the next event (work after
                // the response included); then the environment shuts down as Lambda's would.
                wait_for_next_poll(&lifecycle, &supervisor, deadline_ms);
                let why = "the invocation is done";
                shut_down(&runtime, &lifecycle, &mut supervisor, why);
            }
        }
        return Ok(report(outcome, args.fail_on_status));
    }

    let door = FrontDoor::start(&args.listen, args.source, runtime.invoker(), options)?;
    eprintln!(
        "lambda-emulator: front door http://{} ({}) -> Runtime API {} -> adapter -> app",
        door.addr(),
        args.source,
        runtime_addr
    );
    let signals = Signals::catch()?;
    loop {
        if let Some(reason) = supervisor.exit_within(TICK) {
            door.drain(DRAIN_WAIT);
            eprintln!("lambda-emulator: {}; stopping", gone(&runtime, &reason));
            return Ok(ExitCode::from(EXIT_NO_ANSWER));
        }
        let (why, code) = match signals.received() {
            Some(Signals::INTERRUPT) => ("Ctrl-C".to_string(), EXIT_CTRL_C),
            Some(_) => ("SIGTERM".to_string(), EXIT_SIGTERM),
            None => match lifecycle.idle_for() {
                Some(idle) if args.max_idle.is_some_and(|max| idle >= max) => {
                    let why = format!("idle for {:.1} s (--max-idle)", idle.as_secs_f64());
                    (why, 0)
                }
                _ => continue,
            },
        };
        shut_down(&runtime, &lifecycle, &mut supervisor, &why);
        door.drain(DRAIN_WAIT);
        return Ok(ExitCode::from(code));
    }
}

/// Freezing is on unless `--no-freeze`, and never with concurrent invocations (Lambda
/// Managed Instances do not freeze).
fn freeze_between_invocations(args: &Args, lifecycle: &Lifecycle, children: &process::Children) {
    let concurrency = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1);
    if !args.freeze || concurrency > 1 {
        return;
    }
    // The app first, so at a thaw its expired timers run no later than the adapter does, as
    // when the whole environment thaws at once.
    lifecycle
        .freezer
        .attach(&[children.app.id(), children.adapter.id()]);
    eprintln!(
        "lambda-emulator: the adapter and the app are frozen between invocations, as on Lambda (--no-freeze to keep them running)"
    );
}

/// Waits until the runtime asks for its next event, at most until the invocation's deadline
/// or until the adapter or the app exits (said on stderr: the answer stands, the exit status
/// is still the invocation's).
fn wait_for_next_poll(lifecycle: &Lifecycle, supervisor: &Supervisor, deadline_ms: u64) {
    while lifecycle.idle_for().is_none() && now_ms() < deadline_ms {
        if let Some(reason) = supervisor.exit_within(Duration::from_millis(5)) {
            eprintln!("lambda-emulator: {reason} after answering");
            return;
        }
    }
}

/// Lambda's shutdown phase (see `shutdown.rs`), run by the supervisor so that the children it
/// ends are not reported as failed. Nothing is handed out meanwhile: an invocation still
/// waiting or in flight ends at once ([`InvokeError::Closed`]).
fn shut_down(
    runtime: &RuntimeApi,
    lifecycle: &Arc<Lifecycle>,
    supervisor: &mut Supervisor,
    why: &str,
) {
    runtime.fail(InvokeError::Closed);
    let lifecycle = lifecycle.clone();
    let why = why.to_string();
    supervisor.stop_with(move |children| {
        shutdown::shut_down(
            &lifecycle.freezer,
            &lifecycle.shutdown,
            children,
            &why,
            "spindown",
        );
    });
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
