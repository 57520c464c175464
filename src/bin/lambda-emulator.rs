//! `lambda-emulator`: run the adapter and an app locally behind a Lambda-like front door.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lambda_adapter::emulator::front_door::FrontDoor;
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
                       printing the error JSON to stderr)

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
    let mut children = process::spawn(&args.adapter, &runtime_addr, &args.app)?;
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
        children.stop();
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
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(exited) = children.exited() {
            for error in runtime.init_errors() {
                eprintln!("lambda-emulator: reported init error: {}", error.body);
            }
            return Err(format!("{exited}; stopping"));
        }
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
