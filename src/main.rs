//! The `lambda-adapter` extension binary: start-up in order, then the workers.
//!
//! 1. configuration from the environment (a bad value is reported and ends the process);
//! 2. extension registration, in the background, so it overlaps the readiness check;
//! 3. readiness of the app (bounded to 9.8 s with async init, or by
//!    `AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS`, whose expiry fails init), with a Runtime API
//!    connection already open for the first `/next`;
//! 4. under SnapStart, the checkpoint and the restore (see `snap_start`);
//! 5. the Runtime API loop, on `AWS_LAMBDA_MAX_CONCURRENCY` workers.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use lambda_adapter::app::readiness::Readiness;
use lambda_adapter::config::{self, Config, ConfigError};
use lambda_adapter::lambda::registration::Registration;
use lambda_adapter::lambda::{self, ExtensionClient};
use lambda_adapter::lifecycle::metrics::Metrics;
use lambda_adapter::{logging, snap_start, worker};

/// How long async init waits for the app before taking invocations anyway (as upstream).
const ASYNC_INIT_BUDGET: Duration = Duration::from_millis(9_800);

const HELP: &str = "\
lambda-adapter: run any HTTP/1.1 web app on AWS Lambda.

It runs as a Lambda extension (/opt/extensions/lambda-adapter) beside the app, forwards
each Lambda event to the app as an HTTP request and returns the app's response to Lambda.
It is configured only through environment variables:

  AWS_LWA_PORT (or PORT)                       app port                        [8080]
  AWS_LWA_HOST                                 app host                        [127.0.0.1]
  AWS_LWA_READINESS_CHECK_PORT                 readiness check port            [the app port]
  AWS_LWA_READINESS_CHECK_PATH                 readiness check path            [/]
  AWS_LWA_READINESS_CHECK_PROTOCOL             http or tcp                     [http]
  AWS_LWA_READINESS_CHECK_HEALTHY_STATUS       healthy statuses, e.g. 200-399  [100-499]
  AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS      fail init if not ready in time, e.g. 2.5 [0: no limit]
  AWS_LWA_ASYNC_INIT                           start after 9.8 s even if not ready [false]
  AWS_LWA_REMOVE_BASE_PATH                     path prefix to strip            [none]
  AWS_LWA_PASS_THROUGH_PATH                    path for non-HTTP events        [/events]
  AWS_LWA_INVOKE_MODE                          buffered or response_stream     [buffered]
  AWS_LWA_ENABLE_COMPRESSION                   gzip/br for buffered responses  [false]
  AWS_LWA_AUTHORIZATION_SOURCE                 header to move to Authorization [none]
  AWS_LWA_ERROR_STATUS_CODES                   statuses reported as errors, e.g. 500-599 [none]
  AWS_LWA_LAMBDA_RUNTIME_API_PROXY             host:port to reach the Runtime API through [none]
  AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS            idle app connection kept this long, 0 = never [4]
  AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH     SnapStart: app path POSTed before the snapshot [none]
  AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH         SnapStart: app path POSTed after a restore [none]
  AWS_LWA_IDLE_CHECK_PATH                      after each response, GET this path until the app
                                               answers 2xx (503 = busy) before the next event [none]
  AWS_LWA_ENABLE_METRICS                       EMF metric lines on stdout (cold start, invocation) [false]
  AWS_LWA_METRICS_NAMESPACE                    CloudWatch namespace of those metrics [LambdaAdapter]
  AWS_LWA_REMOVE_RESPONSE_HEADERS              more response headers to drop, e.g. server,x-powered-by [none]
  AWS_LWA_EVENT_FIELDS_AS_HEADERS              API Gateway path parameters and stage variables as
                                               x-amzn-path-parameters / x-amzn-stage-variables JSON [false]
  AWS_LAMBDA_LOG_LEVEL / RUST_LOG              log level                       [INFO]
  AWS_LAMBDA_LOG_FORMAT                        Text or JSON                    [Text]

Set by Lambda: AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION,
AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_MAX_CONCURRENCY, AWS_LAMBDA_INITIALIZATION_TYPE.
Booleans accept true/false, 1/0, yes/no, on/off. Deprecated names without the AWS_LWA_
prefix (HOST, READINESS_CHECK_PORT, ...) still work and log a warning.

Responses: hop-by-hop headers (connection, keep-alive, transfer-encoding, ...) never reach
Lambda. An app's x-lambda-http-content-encoding: binary header sends the body as base64 and
is not passed on; 'text' sends it as text, as upstream. VPC Lattice events (1.0 and 2.0) are
converted like API Gateway and ALB events.

Options: --help, --version. Documentation: README.md.
";

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--version" | "-V") => {
            println!("lambda-adapter {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!(
                "lambda-adapter: unknown argument {other:?}; it is configured by environment variables (see --help)"
            );
            return ExitCode::from(2);
        }
        None => {}
    }
    let started = Instant::now();
    logging::init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return report_config_error(&e),
    };
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    for notice in &config.notices {
        log::info!("{notice}");
    }

    let registration = match Registration::start(config.extension_api.clone()) {
        Ok(registration) => registration,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };

    // Opened now so the first /next need not wait for a connection once the app is ready; not
    // under SnapStart, where it would be captured in the snapshot and dead after a restore.
    let warm = if config.snap_start {
        None
    } else {
        lambda::connect_ahead(&config.runtime_api)
    };
    let readiness = Readiness::new(&config);
    let ready = if config.async_init {
        let ready = readiness.wait(Some(ASYNC_INIT_BUDGET));
        if !ready {
            log::info!(
                "async init: the app is not ready after {} ms; taking invocations anyway",
                ASYNC_INIT_BUDGET.as_millis()
            );
        }
        ready
    } else if readiness.wait(config.readiness_check_timeout) {
        true
    } else {
        let seconds = config
            .readiness_check_timeout
            .unwrap_or_default()
            .as_secs_f64();
        let message = format!(
            "the app was not ready within AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS ({seconds} s); check that it listens on {} and answers the readiness check",
            config.readiness_addr()
        );
        return fail_init(registration, "Extension.AppNotReady", &message);
    };

    if config.snap_start {
        if let Err(failure) = snap_start::before_checkpoint(&config) {
            return fail_init(registration, failure.error_type, &failure.message);
        }
        registration.init_done();
        if let Err(failure) = snap_start::restore(&config) {
            print_error(&failure.message);
            return ExitCode::FAILURE;
        }
    } else {
        registration.init_done();
    }
    if let Some(metrics) = Metrics::new(&config) {
        metrics.cold_start(ready.then(|| started.elapsed()), config.async_init);
    }
    worker::run(&config, ready, warm);
    ExitCode::FAILURE
}

/// Reports a failed init to `/extension/init/error` so the console shows it, prints it, and
/// exits 1 without taking invocations.
fn fail_init(registration: Registration, error_type: &str, message: &str) -> ExitCode {
    print_error(message);
    if let Err(e) = registration.fail(error_type, message) {
        log::error!("could not report the failed init to the Extensions API: {e}");
    }
    ExitCode::FAILURE
}

/// Why the adapter stops, printed once: logged, or on stderr when logging is off.
fn print_error(message: &str) {
    if log::log_enabled!(log::Level::Error) {
        log::error!("{message}");
    } else {
        eprintln!("lambda-adapter: {message}");
    }
}

/// Prints the error once (the function's log shows it), then registers and reports it to
/// `/extension/init/error` so Lambda fails the init with it, and exits 1 without ever polling
/// `/next` (DECISIONS 20). The report is best effort: its failure (the adapter run by hand,
/// without a Runtime API) is logged at debug level only.
fn report_config_error(e: &ConfigError) -> ExitCode {
    let message = format!("lambda-adapter cannot start: {e}");
    // Printed even with logging turned off: this is why the function does not start.
    if log::log_enabled!(log::Level::Error) {
        log::error!("{message}");
    } else {
        eprintln!("{message}");
    }
    let reported = config::parse_api_endpoints(&|name| std::env::var(name).ok())
        .map_err(|api| api.to_string())
        .and_then(|(extension_api, _)| {
            let client = ExtensionClient::new(extension_api);
            client
                .register()
                .and_then(|id| client.init_error(&id, "Extension.ConfigInvalid", &message))
                .map_err(|e| e.to_string())
        });
    if let Err(why) = reported {
        log::debug!("the configuration error was not reported to the Extensions API: {why}");
    }
    ExitCode::FAILURE
}
