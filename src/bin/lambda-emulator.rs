//! `lambda-emulator`: run the adapter and an app locally behind a Lambda-like front door.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lambda_adapter::emulator::front_door::FrontDoor;
use lambda_adapter::emulator::lifecycle::Lifecycle;
use lambda_adapter::emulator::shutdown::{self, Signals};
use lambda_adapter::emulator::{EventFormat, InvokeOptions, PostKind, RuntimeApi, process};

const USAGE: &str = "\
lambda-emulator: run lambda-adapter and a web app locally, as Lambda would.

Usage: lambda-emulator [OPTIONS] -- APP_COMMAND [ARGS...]

  --runtime-api ADDR   where to serve the Runtime + Extensions API   [127.0.0.1:9001]
  --listen ADDR        front door: plain HTTP in, events out          [127.0.0.1:3000]
  --source SRC         event format the front door produces: v2 | url | v1 | alb   [v2]
  --adapter PATH       adapter binary   [lambda-adapter next to the emulator executable]
  --timeout SECS       function timeout (deadline)   [30]
  --invoke FILE        instead of a front door: invoke once with this raw event JSON (\"-\" = stdin),
                       print the posted Lambda response body to stdout, exit 0 (1 on an /error post,
                       printing the error JSON to stderr); the adapter's and the app's own output
                       goes to stderr
  --no-freeze          do not freeze the adapter and the app between invocations (by default they
                       are stopped, as Lambda freezes the environment, whenever the runtime waits on
                       /next with no event queued; never with AWS_LAMBDA_MAX_CONCURRENCY above 1)
  --max-idle SECS      shut down as Lambda does after SECS without an invocation   [never]

Ctrl-C (or SIGTERM) shuts down as Lambda does: SIGTERM to the app, which has 300 ms to exit,
then the SHUTDOWN event to extensions registered for it, SIGKILL to what is left at 2,000 ms.
A second Ctrl-C stops at once.

The adapter gets AWS_LAMBDA_RUNTIME_API=ADDR and function defaults; every AWS_LWA_* and
AWS_LAMBDA_* variable of the emulator's environment passes through to it (and to the app).
";

/// How long the invocation of `--invoke` may wait for the adapter and the app to start.
const INIT_WAIT: Duration = Duration::from_secs(60);

struct Args {
    runtime_api: String,
    listen: String,
    source: EventFormat,
    adapter: PathBuf,
    timeout: Duration,
    invoke: Option<String>,
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
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lambda-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<ExitCode, String> {
    let runtime = RuntimeApi::start(&args.runtime_api)?;
    let runtime_addr = runtime.addr().to_string();
    // With --invoke, stdout is the result alone: the children's output goes to stderr.
    let output = match args.invoke {
        Some(_) => process::ChildOutput::Stderr,
        None => process::ChildOutput::Inherit,
    };
    let mut children = process::spawn(&args.adapter, &runtime_addr, &args.app, output)?;
    let lifecycle = runtime.lifecycle();
    freeze_between_invocations(args, &lifecycle, &children);
    let options = InvokeOptions {
        timeout: args.timeout,
        ..InvokeOptions::default()
    };

    if let Some(file) = &args.invoke {
        let event = read_event(file)?;
        let posted = runtime
            .invoke(
                &event,
                InvokeOptions {
                    queue_wait: INIT_WAIT,
                    ..options
                },
            )
            .map_err(|e| {
                let mut message = e.to_string();
                if let Some(exited) = children.exited() {
                    message.push_str(&format!(" ({exited})"));
                }
                message
            })?;
        // The invocation ends when the runtime asks for the next event (work after the
        // response included); then the environment shuts down as Lambda's would.
        wait_for_next_poll(&lifecycle, &mut children, posted.deadline_ms);
        shut_down(&lifecycle, &mut children, "the invocation is done");
        let mut stdout = std::io::stdout();
        return Ok(match posted.kind {
            PostKind::Error => {
                eprintln!("{}", String::from_utf8_lossy(&posted.body));
                ExitCode::FAILURE
            }
            PostKind::Response => {
                let _ = stdout
                    .write_all(&posted.body)
                    .and_then(|()| stdout.write_all(b"\n"));
                ExitCode::SUCCESS
            }
            PostKind::Streamed => {
                let body = posted
                    .stream_parts()
                    .map_or(&posted.body[..], |(_, body)| body);
                let _ = stdout.write_all(body);
                if let Some(failure) = &posted.stream_failure {
                    eprintln!("{failure}");
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
        });
    }

    // Requests may queue while the app starts; give them the init time plus the timeout.
    let door_options = InvokeOptions {
        queue_wait: INIT_WAIT + args.timeout,
        ..options
    };
    let door = FrontDoor::start(&args.listen, args.source, runtime.invoker(), door_options)?;
    eprintln!(
        "lambda-emulator: front door http://{} ({:?} events) -> Runtime API {} -> adapter -> app",
        door.addr(),
        args.source,
        runtime_addr
    );
    let signals = Signals::catch()?;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(signal) = signals.received() {
            let (why, code) = match signal {
                2 => ("Ctrl-C", 130),
                _ => ("SIGTERM", 143),
            };
            shut_down(&lifecycle, &mut children, why);
            return Ok(ExitCode::from(code));
        }
        let idle = lifecycle.idle_for().unwrap_or_default();
        if args.max_idle.is_some_and(|max| idle >= max) {
            let why = format!("idle for {:.1} s (--max-idle)", idle.as_secs_f64());
            shut_down(&lifecycle, &mut children, &why);
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(exited) = children.exited() {
            for error in runtime.init_errors() {
                eprintln!("lambda-emulator: reported init error: {}", error.body);
            }
            return Err(format!("{exited}; stopping"));
        }
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

/// Waits until the runtime asks for its next event, at most until the invocation's deadline.
fn wait_for_next_poll(lifecycle: &Lifecycle, children: &mut process::Children, deadline_ms: u64) {
    while lifecycle.idle_for().is_none()
        && lambda_adapter::emulator::now_ms() < deadline_ms
        && children.exited().is_none()
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn shut_down(lifecycle: &Lifecycle, children: &mut process::Children, why: &str) {
    shutdown::shut_down(
        &lifecycle.freezer,
        &lifecycle.shutdown,
        children,
        why,
        "spindown",
    );
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
