//! The `lambda-adapter` extension binary: start-up in order, then the workers.
//!
//! 1. configuration from the environment (a bad value is reported and ends the process);
//! 2. extension registration, in the background, so it overlaps the readiness check;
//! 3. readiness of the app (bounded to 9.8 s with async init), with a Runtime API connection
//!    already open for the first `/next`;
//! 4. the Runtime API loop, on `AWS_LAMBDA_MAX_CONCURRENCY` workers.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use lambda_adapter::app::readiness::Readiness;
use lambda_adapter::config::{self, Config, ConfigError};
use lambda_adapter::lambda::{self, ExtensionClient};
use lambda_adapter::lifecycle::metrics::Metrics;
use lambda_adapter::{logging, worker};

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
  AWS_LWA_ASYNC_INIT                           start after 9.8 s even if not ready [false]
  AWS_LWA_REMOVE_BASE_PATH                     path prefix to strip            [none]
  AWS_LWA_PASS_THROUGH_PATH                    path for non-HTTP events        [/events]
  AWS_LWA_INVOKE_MODE                          buffered or response_stream     [buffered]
  AWS_LWA_ENABLE_COMPRESSION                   gzip/br for buffered responses  [false]
  AWS_LWA_AUTHORIZATION_SOURCE                 header to move to Authorization [none]
  AWS_LWA_ERROR_STATUS_CODES                   statuses reported as errors, e.g. 500-599 [none]
  AWS_LWA_LAMBDA_RUNTIME_API_PROXY             host:port to reach the Runtime API through [none]
  AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS            idle app connection kept this long, 0 = never [4]
  AWS_LWA_IDLE_CHECK_PATH                      after each response, GET this path until the app
                                               answers 2xx (503 = busy) before the next event [none]
  AWS_LWA_ENABLE_METRICS                       EMF metric lines on stdout (cold start, invocation) [false]
  AWS_LWA_METRICS_NAMESPACE                    CloudWatch namespace of those metrics [LambdaAdapter]
  AWS_LAMBDA_LOG_LEVEL / RUST_LOG              log level                       [INFO]
  AWS_LAMBDA_LOG_FORMAT                        Text or JSON                    [Text]

Set by Lambda: AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION,
AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_MAX_CONCURRENCY, AWS_LAMBDA_INITIALIZATION_TYPE.
Booleans accept true/false, 1/0, yes/no, on/off. Deprecated names without the AWS_LWA_
prefix (HOST, READINESS_CHECK_PORT, ...) still work and log a warning.

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

    let extensions = ExtensionClient::new(config.extension_api.clone());
    let spawned = std::thread::Builder::new()
        .name("extension".into())
        .spawn(move || {
            let id = match extensions.register() {
                Ok(id) => id,
                Err(e) => {
                    log::error!("Extension registration failed - terminating process error={e}");
                    std::process::exit(1);
                }
            };
            // With no events subscribed this call only signals that init is done; it returns at
            // shutdown at the earliest, and its outcome does not affect serving invocations.
            match extensions.next_event(&id) {
                Ok(status) => log::debug!("extension event/next returned status {status}"),
                Err(e) => log::debug!("extension event/next ended: {e}"),
            }
        });
    if let Err(e) = spawned {
        log::error!("could not start the extension thread: {e}");
        return ExitCode::FAILURE;
    }

    // Opened now so the first /next need not wait for a connection once the app is ready.
    let warm = lambda::connect_ahead(&config.runtime_api);
    let budget = config.async_init.then_some(ASYNC_INIT_BUDGET);
    let ready = Readiness::new(&config).wait(budget);
    if !ready {
        log::info!(
            "async init: the app is not ready after {} ms; taking invocations anyway",
            ASYNC_INIT_BUDGET.as_millis()
        );
    }
    if let Some(metrics) = Metrics::new(&config) {
        metrics.cold_start(ready.then(|| started.elapsed()), config.async_init);
    }
    worker::run(&config, ready, warm);
    ExitCode::FAILURE
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
