//! Configuration: every environment variable the adapter reads, parsed once at start-up into
//! one typed [`Config`].
//!
//! Names, fallbacks and defaults match upstream LWA so users can swap adapters without touching
//! their settings. Where upstream silently falls back to a default on a bad value, we refuse to
//! start and name the variable, the value and what is accepted (DECISIONS 20).

mod endpoint;
mod error;
mod hook_path;
mod lifecycle;
mod values;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use endpoint::{ApiEndpoint, parse_api_endpoints};
pub use error::ConfigError;
use error::invalid;
pub use hook_path::{HookPath, SnapStartHooks};
pub use lifecycle::{DEFAULT_METRICS_NAMESPACE, MetricsConfig};
pub use values::{
    is_token_byte, literal_ip, malformed_escape, parse_bool, parse_seconds, parse_status_list,
};
use values::{
    parse_header_list, parse_pass_through_path, parse_port, parse_readiness_path, resolve_host,
};

/// How the app's response goes back to Lambda.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvokeMode {
    /// Read the whole response, then post one JSON document.
    Buffered,
    /// Post the response as it arrives (HTTP integration streaming format).
    ResponseStream,
}

/// How readiness of the app is checked at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadinessProtocol {
    /// `GET http://host:port/path`, ready when the status is in the healthy list.
    Http,
    /// Ready as soon as a TCP connection is accepted.
    Tcp,
}

/// The function's identity as Lambda describes it in the environment; it ends up in the
/// `x-amzn-lambda-context` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionEnv {
    pub function_name: String,
    pub memory: i32,
    pub version: String,
    pub log_stream: String,
    pub log_group: String,
}

/// Everything the adapter needs to know, read once at start-up. Shared read-only by workers.
#[derive(Clone, Debug)]
pub struct Config {
    /// `AWS_LWA_HOST` as given (used for the `Host` header when the event has none).
    pub app_host: String,
    pub app_port: u16,
    /// The resolved address of the app.
    pub app_addr: SocketAddr,
    pub readiness_port: u16,
    pub readiness_path: String,
    pub readiness_protocol: ReadinessProtocol,
    pub readiness_healthy_status: Vec<u16>,
    /// `AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS`: how long init (and a SnapStart restore) may
    /// wait for the app; `None` waits as long as Lambda lets it.
    pub readiness_check_timeout: Option<Duration>,
    pub remove_base_path: Option<String>,
    pub pass_through_path: String,
    pub async_init: bool,
    pub compression: bool,
    pub invoke_mode: InvokeMode,
    /// Lowercase header name to move into `authorization`.
    pub authorization_source: Option<String>,
    /// `None`: feature off.
    pub error_status_codes: Option<Vec<u16>>,
    /// Where `/runtime/invocation/*` goes (the proxy, when set).
    pub runtime_api: ApiEndpoint,
    /// Where `/extension/*` goes (never the proxy, DECISIONS 21).
    pub extension_api: ApiEndpoint,
    pub function: FunctionEnv,
    /// Number of workers (Lambda Managed Instances); 1 outside LMI.
    pub max_concurrency: usize,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`: the adapter plays the checkpoint and
    /// restore lifecycle before it takes invocations (see `snap_start`).
    pub snap_start: bool,
    /// How long a connection to the app may stay idle and still be reused
    /// (`AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS`); `None`: a new connection per request.
    pub pool_idle_timeout: Option<Duration>,
    /// The SnapStart hook paths; events aimed at them are refused whenever they are set.
    pub snap_start_hooks: SnapStartHooks,
    /// `AWS_LWA_IDLE_CHECK_PATH`: polled after each response until the app is idle.
    pub idle_check_path: Option<String>,
    /// `AWS_LWA_ENABLE_METRICS`: `None` when off.
    pub metrics: Option<MetricsConfig>,
    /// `AWS_LWA_REMOVE_RESPONSE_HEADERS`: more response headers to drop (lowercase names),
    /// besides the hop-by-hop ones that never reach Lambda (DECISIONS 23).
    pub remove_response_headers: Vec<String>,
    /// `AWS_LWA_EVENT_FIELDS_AS_HEADERS`: API Gateway path parameters and stage variables as
    /// `x-amzn-path-parameters` / `x-amzn-stage-variables` JSON request headers.
    pub event_fields_as_headers: bool,
    /// Non-fatal findings to log once logging is up (deprecated names, defaults used).
    pub warnings: Vec<String>,
    /// Settings taken differently than written, logged at INFO once logging is up.
    pub notices: Vec<String>,
}

/// Default app port, as upstream.
pub const DEFAULT_PORT: u16 = 8080;
/// How long an idle app connection is kept, as upstream's pool.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut env = Env {
            lookup: &lookup,
            warnings: Vec::new(),
        };

        let port = match env.with_fallback("AWS_LWA_PORT", "PORT", false) {
            Some((value, var)) => parse_port(var, &value)?,
            None => DEFAULT_PORT,
        };
        let app_host = env
            .with_fallback("AWS_LWA_HOST", "HOST", true)
            .map(|(v, _)| v)
            .unwrap_or_else(|| "127.0.0.1".to_string());
        let host_var = if lookup("AWS_LWA_HOST").is_some() {
            "AWS_LWA_HOST"
        } else {
            "HOST"
        };
        let app_addr = resolve_host(host_var, &app_host, port)?;
        // `app_host` becomes the Host header's host (`host:port`) when the event has none: an
        // IPv6 literal must be bracketed there (`[::1]:8080`, not `::1:8080`), an IPv4 one not.
        let app_host = match app_addr.ip() {
            _ if app_host.eq_ignore_ascii_case("localhost") => app_host,
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };

        let readiness_port =
            match env.with_fallback("AWS_LWA_READINESS_CHECK_PORT", "READINESS_CHECK_PORT", true) {
                Some((value, var)) => parse_port(var, &value)?,
                None => port,
            };
        let readiness_path =
            match env.with_fallback("AWS_LWA_READINESS_CHECK_PATH", "READINESS_CHECK_PATH", true) {
                Some((value, var)) => parse_readiness_path(var, value)?,
                None => "/".to_string(),
            };
        let readiness_protocol = match env.with_fallback(
            "AWS_LWA_READINESS_CHECK_PROTOCOL",
            "READINESS_CHECK_PROTOCOL",
            true,
        ) {
            Some((value, var)) => match value.to_ascii_lowercase().as_str() {
                "http" => ReadinessProtocol::Http,
                "tcp" => ReadinessProtocol::Tcp,
                _ => return Err(invalid(var, &value, "expected 'http' or 'tcp'")),
            },
            None => ReadinessProtocol::Http,
        };
        let readiness_healthy_status = match lookup("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS") {
            Some(value) => {
                let list = parse_status_list("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", &value)?;
                if list.is_empty() {
                    return Err(invalid(
                        "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS",
                        &value,
                        "an empty list would never report the app healthy; expected codes and ranges such as '200-399,404'",
                    ));
                }
                list
            }
            None => (100..=499).collect(),
        };
        // 0 (or unset) waits as long as Lambda lets init run, as upstream.
        let readiness_check_timeout = match lookup("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS") {
            Some(value) => {
                let timeout =
                    parse_seconds("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", &value, 3600.0)?;
                (!timeout.is_zero()).then_some(timeout)
            }
            None => None,
        };
        let remove_base_path = env
            .with_fallback("AWS_LWA_REMOVE_BASE_PATH", "REMOVE_BASE_PATH", true)
            .map(|(v, _)| v.trim_end_matches('/').to_string())
            .filter(|v| !v.is_empty());
        let pass_through_path = match lookup("AWS_LWA_PASS_THROUGH_PATH") {
            Some(value) => parse_pass_through_path(&value)?,
            None => "/events".to_string(),
        };
        let mut async_init = match env.with_fallback("AWS_LWA_ASYNC_INIT", "ASYNC_INIT", true) {
            Some((value, var)) => parse_bool(var, &value)?,
            None => false,
        };
        let invoke_mode = match lookup("AWS_LWA_INVOKE_MODE") {
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "buffered" => InvokeMode::Buffered,
                "response_stream" => InvokeMode::ResponseStream,
                _ => {
                    return Err(invalid(
                        "AWS_LWA_INVOKE_MODE",
                        &value,
                        "expected 'buffered' or 'response_stream'",
                    ));
                }
            },
            None => InvokeMode::Buffered,
        };
        let mut compression = match lookup("AWS_LWA_ENABLE_COMPRESSION") {
            Some(value) => parse_bool("AWS_LWA_ENABLE_COMPRESSION", &value)?,
            None => false,
        };
        if compression && invoke_mode == InvokeMode::ResponseStream {
            env.warnings.push(
                "Compression is not supported with response streaming. Disabling compression."
                    .to_string(),
            );
            compression = false;
        }
        let authorization_source = match lookup("AWS_LWA_AUTHORIZATION_SOURCE") {
            Some(value) => {
                if value.is_empty() || !value.bytes().all(is_token_byte) {
                    return Err(invalid(
                        "AWS_LWA_AUTHORIZATION_SOURCE",
                        &value,
                        "expected an HTTP header name such as 'x-auth-token'",
                    ));
                }
                Some(value.to_ascii_lowercase())
            }
            None => None,
        };
        let error_status_codes = match lookup("AWS_LWA_ERROR_STATUS_CODES") {
            Some(value) => Some(parse_status_list("AWS_LWA_ERROR_STATUS_CODES", &value)?),
            None => None,
        };
        if lookup("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS").is_some() {
            env.warnings.push(
                "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS is no longer supported and is ignored; use AWS_LWA_READINESS_CHECK_HEALTHY_STATUS".to_string(),
            );
        }

        let (extension_api, runtime_api) = parse_api_endpoints(&lookup)?;
        let function = function_env(&lookup, &mut env.warnings);
        let max_concurrency = match lookup("AWS_LAMBDA_MAX_CONCURRENCY") {
            Some(value) => match value.parse::<u32>() {
                Ok(n) if n >= 1 => n as usize,
                _ => {
                    env.warnings.push(format!(
                        "AWS_LAMBDA_MAX_CONCURRENCY={value:?} is not a positive integer; serving one invocation at a time"
                    ));
                    1
                }
            },
            None => 1,
        };
        let initialization_type = lookup("AWS_LAMBDA_INITIALIZATION_TYPE").unwrap_or_default();
        let snap_start = initialization_type == "snap-start";
        let mut notices = Vec::new();
        // Finishing init before the app is ready would snapshot (or pre-warm) an app that is
        // still booting, so these initialization types always wait for it (as upstream).
        if async_init && (snap_start || initialization_type == "provisioned-concurrency") {
            notices.push(format!(
                "AWS_LWA_ASYNC_INIT is ignored under AWS_LAMBDA_INITIALIZATION_TYPE={initialization_type}: init waits until the app is ready (bound it with AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS)"
            ));
            async_init = false;
        }
        let snap_start_hooks = SnapStartHooks {
            before_checkpoint: HookPath::parse(
                "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH",
                lookup("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"),
            )?,
            after_restore: HookPath::parse(
                "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH",
                lookup("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"),
            )?,
        };
        if let Some(hook) = snap_start_hooks.guarding(&pass_through_path) {
            return Err(invalid(
                hook.variable,
                &hook.path,
                &format!(
                    "it is the route of AWS_LWA_PASS_THROUGH_PATH={pass_through_path}, so every non-HTTP event would be refused; use a dedicated path"
                ),
            ));
        }
        let pool_idle_timeout = match lookup("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS") {
            Some(value) => parse_seconds("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", &value, 3600.0)?,
            None => DEFAULT_POOL_IDLE_TIMEOUT,
        };
        // Under SnapStart every connection may outlive the snapshot's sockets (as upstream).
        let pool_idle_timeout =
            (!snap_start && !pool_idle_timeout.is_zero()).then_some(pool_idle_timeout);
        let idle_check_path =
            lifecycle::idle_check_path(&lookup, max_concurrency, &mut env.warnings)?;
        let metrics = lifecycle::metrics(&lookup)?;
        let remove_response_headers = match lookup("AWS_LWA_REMOVE_RESPONSE_HEADERS") {
            Some(value) => parse_header_list("AWS_LWA_REMOVE_RESPONSE_HEADERS", &value)?,
            None => Vec::new(),
        };
        let event_fields_as_headers = match lookup("AWS_LWA_EVENT_FIELDS_AS_HEADERS") {
            Some(value) => parse_bool("AWS_LWA_EVENT_FIELDS_AS_HEADERS", &value)?,
            None => false,
        };

        Ok(Config {
            app_host,
            app_port: port,
            app_addr,
            readiness_port,
            readiness_path,
            readiness_protocol,
            readiness_healthy_status,
            readiness_check_timeout,
            remove_base_path,
            pass_through_path,
            async_init,
            compression,
            invoke_mode,
            authorization_source,
            error_status_codes,
            runtime_api,
            extension_api,
            function,
            max_concurrency,
            snap_start,
            pool_idle_timeout,
            snap_start_hooks,
            idle_check_path,
            metrics,
            remove_response_headers,
            event_fields_as_headers,
            warnings: env.warnings,
            notices,
        })
    }

    /// The address of the readiness check (same host as the app, its own port).
    pub fn readiness_addr(&self) -> SocketAddr {
        SocketAddr::new(self.app_addr.ip(), self.readiness_port)
    }

    /// `host:port` of the app.
    pub fn app_authority(&self) -> String {
        format!("{}:{}", self.app_host, self.app_port)
    }

    /// The `Host` header the adapter sends the app when an event carries none: `host:port`,
    /// or the host alone on port 80.
    pub fn default_host_header(&self) -> String {
        if self.app_port == 80 {
            self.app_host.clone()
        } else {
            self.app_authority()
        }
    }

    /// How long to wait for a TCP connection to the app.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(2)
    }
}

struct Env<'a, F: Fn(&str) -> Option<String>> {
    lookup: &'a F,
    warnings: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    /// The namespaced variable if present at all, else the older name (with a deprecation
    /// warning when `deprecated`), as upstream's precedence.
    fn with_fallback(
        &mut self,
        name: &'static str,
        old: &'static str,
        deprecated: bool,
    ) -> Option<(String, &'static str)> {
        if let Some(value) = (self.lookup)(name) {
            return Some((value, name));
        }
        let value = (self.lookup)(old)?;
        if deprecated {
            self.warnings.push(format!(
                "Environment variable '{old}' is deprecated and will be removed in version 2.0. Please use '{name}' instead."
            ));
        }
        Some((value, old))
    }
}

fn function_env(
    lookup: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> FunctionEnv {
    let mut required = |name: &str, default: &str| match lookup(name) {
        Some(value) => value,
        None => {
            warnings.push(format!(
                "{name} is not set; using {default:?} in x-amzn-lambda-context"
            ));
            default.to_string()
        }
    };
    let function_name = required("AWS_LAMBDA_FUNCTION_NAME", "");
    let version = required("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    let memory_text = required("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
    let memory = memory_text.parse::<i32>().unwrap_or_else(|_| {
        warnings.push(format!(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE={memory_text:?} is not an integer; using 128 in x-amzn-lambda-context"
        ));
        128
    });
    FunctionEnv {
        function_name,
        memory,
        version,
        log_stream: lookup("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default(),
        log_group: lookup("AWS_LAMBDA_LOG_GROUP_NAME").unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("AWS_LAMBDA_RUNTIME_API".into())
            .or_insert_with(|| "127.0.0.1:9001".into());
        Config::from_lookup(move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_upstream() {
        let c = config(&[]).unwrap();
        assert_eq!(c.app_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.readiness_port, 8080);
        assert_eq!(c.readiness_path, "/");
        assert_eq!(c.readiness_protocol, ReadinessProtocol::Http);
        assert_eq!(c.readiness_healthy_status, (100..=499).collect::<Vec<_>>());
        assert_eq!(c.pass_through_path, "/events");
        assert_eq!(c.invoke_mode, InvokeMode::Buffered);
        assert!(!c.async_init && !c.compression);
        assert_eq!(c.error_status_codes, None);
        assert_eq!(c.max_concurrency, 1);
        assert!(c.remove_response_headers.is_empty() && !c.event_fields_as_headers);
    }

    #[test]
    fn response_headers_to_remove_are_lowercase_names() {
        let c = config(&[(
            "AWS_LWA_REMOVE_RESPONSE_HEADERS",
            " Server, X-Powered-By ,via",
        )])
        .unwrap();
        assert_eq!(c.remove_response_headers, ["server", "x-powered-by", "via"]);
        let c = config(&[("AWS_LWA_REMOVE_RESPONSE_HEADERS", "")]).unwrap();
        assert!(c.remove_response_headers.is_empty());
    }

    #[test]
    fn namespaced_wins_over_fallback_and_deprecated_names_warn() {
        let c = config(&[
            ("AWS_LWA_PORT", "3000"),
            ("PORT", "9"),
            ("HOST", "127.0.0.2"),
        ])
        .unwrap();
        assert_eq!(c.app_port, 3000);
        assert_eq!(c.readiness_port, 3000);
        assert_eq!(c.app_addr, "127.0.0.2:3000".parse().unwrap());
        let deprecations: Vec<_> = c
            .warnings
            .iter()
            .filter(|w| w.contains("deprecated"))
            .collect();
        assert_eq!(deprecations.len(), 1, "{:?}", c.warnings);
        assert!(deprecations[0].contains("'HOST' is deprecated"));
        let c = config(&[("PORT", "9090")]).unwrap();
        assert_eq!(c.app_port, 9090);
        assert!(
            !c.warnings.iter().any(|w| w.contains("deprecated")),
            "PORT is not deprecated"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("AWS_LWA_PORT", "80a"),
            ("AWS_LWA_PORT", ""),
            ("AWS_LWA_PORT", "70000"),
            ("AWS_LWA_INVOKE_MODE", "stream"),
            ("AWS_LWA_READINESS_CHECK_PROTOCOL", "udp"),
            ("AWS_LWA_ASYNC_INIT", "maybe"),
            ("AWS_LWA_ENABLE_COMPRESSION", "enabled"),
            ("AWS_LWA_ERROR_STATUS_CODES", "500-"),
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "-1"),
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "soon"),
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "inf"),
            ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", "/.."),
            ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "/x%"),
            ("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", ""),
            ("AWS_LWA_READINESS_CHECK_PATH", "health"),
            ("AWS_LWA_READINESS_CHECK_PATH", "/<health>"),
            ("AWS_LWA_PASS_THROUGH_PATH", "/ev`ents"),
            ("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "-1"),
            ("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "4s"),
            ("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "NaN"),
            ("AWS_LWA_AUTHORIZATION_SOURCE", "bad header"),
            ("AWS_LWA_REMOVE_RESPONSE_HEADERS", "server, x powered"),
            ("AWS_LWA_REMOVE_RESPONSE_HEADERS", "server,,x-powered-by"),
            ("AWS_LWA_EVENT_FIELDS_AS_HEADERS", "sometimes"),
            ("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "https://x:1"),
            ("AWS_LWA_HOST", "app.internal"),
            ("AWS_LAMBDA_RUNTIME_API", "nohostport"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
            assert_eq!(err.value, value);
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn pool_idle_timeout_as_upstream() {
        use std::time::Duration;
        assert_eq!(
            config(&[]).unwrap().pool_idle_timeout,
            Some(Duration::from_secs(4))
        );
        let half = config(&[("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "0.5")]).unwrap();
        assert_eq!(half.pool_idle_timeout, Some(Duration::from_millis(500)));
        let off = config(&[("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "0")]).unwrap();
        assert_eq!(
            off.pool_idle_timeout, None,
            "0: a new connection per request"
        );
        let snap = config(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")]).unwrap();
        assert_eq!(snap.pool_idle_timeout, None, "never reused under SnapStart");
    }

    #[test]
    fn booleans_accept_common_spellings() {
        for (v, want) in [
            ("TRUE", true),
            ("1", true),
            ("Yes", true),
            ("on", true),
            ("0", false),
            ("Off", false),
        ] {
            assert_eq!(parse_bool("X", v).unwrap(), want);
        }
    }

    #[test]
    fn status_lists() {
        assert_eq!(
            parse_status_list("X", "500,502-504,422").unwrap(),
            vec![500, 502, 503, 504, 422]
        );
        assert_eq!(
            parse_status_list("X", "500, 502-504, 422").unwrap(),
            vec![500, 502, 503, 504, 422]
        );
        assert_eq!(parse_status_list("X", "").unwrap(), Vec::<u16>::new());
        for bad in [
            "invalid",
            "500-invalid",
            "504-500",
            "200-300-400",
            "9x",
            "600",
            "-5",
        ] {
            assert!(parse_status_list("X", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn runtime_api_forms_and_proxy() {
        let c = config(&[("AWS_LAMBDA_RUNTIME_API", "http://127.0.0.1:9/.rt/")]).unwrap();
        assert_eq!(c.runtime_api.url("/x"), "http://127.0.0.1:9/.rt/x");
        let c = config(&[("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "http://127.0.0.1:9002")]).unwrap();
        assert_eq!(c.runtime_api.url("/x"), "http://127.0.0.1:9002/x");
        assert_eq!(c.extension_api.url("/x"), "http://127.0.0.1:9001/x");
    }

    #[test]
    fn compression_is_off_with_streaming() {
        let c = config(&[
            ("AWS_LWA_ENABLE_COMPRESSION", "true"),
            ("AWS_LWA_INVOKE_MODE", "RESPONSE_STREAM"),
        ])
        .unwrap();
        assert!(!c.compression);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("Compression is not supported"))
        );
    }

    #[test]
    fn configured_paths_are_sent_as_ascii() {
        let c = config(&[
            ("AWS_LWA_PASS_THROUGH_PATH", "événements"),
            ("AWS_LWA_READINESS_CHECK_PATH", "/santé"),
        ])
        .unwrap();
        assert_eq!(c.pass_through_path, "/%C3%A9v%C3%A9nements");
        assert_eq!(c.readiness_path, "/sant%C3%A9");
    }

    #[test]
    fn readiness_timeout_is_fractional_and_zero_means_unbounded() {
        let timeout = |v: &str| {
            config(&[("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", v)])
                .unwrap()
                .readiness_check_timeout
        };
        assert_eq!(timeout("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(timeout(" 10 "), Some(Duration::from_secs(10)));
        assert_eq!(timeout("0"), None);
        assert_eq!(timeout("0.0"), None);
        assert_eq!(config(&[]).unwrap().readiness_check_timeout, None);
    }

    #[test]
    fn async_init_is_ignored_where_init_must_finish_ready() {
        for kind in ["snap-start", "provisioned-concurrency"] {
            let c = config(&[
                ("AWS_LWA_ASYNC_INIT", "true"),
                ("AWS_LAMBDA_INITIALIZATION_TYPE", kind),
            ])
            .unwrap();
            assert!(!c.async_init, "{kind}");
            assert_eq!(c.notices.len(), 1, "{kind}");
            assert!(c.notices[0].contains(kind), "{:?}", c.notices);
        }
        let c = config(&[
            ("AWS_LWA_ASYNC_INIT", "true"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ])
        .unwrap();
        assert!(c.async_init && c.notices.is_empty());
        let c = config(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")]).unwrap();
        assert!(c.snap_start && c.notices.is_empty());
    }

    #[test]
    fn a_hook_on_the_pass_through_route_is_refused() {
        let err = config(&[
            ("AWS_LWA_PASS_THROUGH_PATH", "/Events"),
            ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "/events/"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH");
        let c = config(&[
            (
                "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH",
                "/snapstart/before",
            ),
            ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", ""),
        ])
        .unwrap();
        assert!(c.snap_start_hooks.before_checkpoint.is_some());
        assert!(c.snap_start_hooks.after_restore.is_none());
    }

    #[test]
    fn max_concurrency() {
        assert_eq!(
            config(&[("AWS_LAMBDA_MAX_CONCURRENCY", "8")])
                .unwrap()
                .max_concurrency,
            8
        );
        assert_eq!(
            config(&[("AWS_LAMBDA_MAX_CONCURRENCY", "0")])
                .unwrap()
                .max_concurrency,
            1
        );
    }
}
