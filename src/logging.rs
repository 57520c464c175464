//! Logging to stdout with `log` + `env_logger`, the way Lambda users expect (DECISIONS 22):
//! `AWS_LAMBDA_LOG_LEVEL` wins over `RUST_LOG`, `FATAL` means errors only, and
//! `AWS_LAMBDA_LOG_FORMAT=JSON` writes one JSON object per line. Inside an invocation every
//! line carries the request id, and the X-Ray trace id and tenant id when Lambda gave them, as
//! upstream's lines do (each worker is one thread, so a thread-local holds them).
//!
//! The level is the adapter's own: at DEBUG it tells each invocation's story, and the
//! dependencies' internals (ureq's pool, ureq-proto's state machine) stay at INFO at most
//! unless a `RUST_LOG` directive names them (`RUST_LOG=ureq=debug`, `ureq_proto=trace`).

use std::cell::RefCell;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use log::LevelFilter;

/// Where the adapter's own lines come from: the library and the binary share the crate name.
const OWN_TARGET: &str = "lambda_adapter";

thread_local! {
    static INVOCATION: RefCell<Option<InvocationIds>> = const { RefCell::new(None) };
}

/// What identifies the invocation a thread works on, in its log lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvocationIds {
    pub request_id: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
}

/// Marks the current thread as working on an invocation (or on nothing).
pub fn set_invocation(ids: Option<InvocationIds>) {
    INVOCATION.with(|current| *current.borrow_mut() = ids);
}

/// Marks the current thread as working on `request_id` alone (or on nothing).
pub fn set_request_id(request_id: Option<&str>) {
    set_invocation(request_id.map(|id| InvocationIds {
        request_id: id.to_string(),
        ..InvocationIds::default()
    }));
}

/// The request id the current thread works on.
pub fn request_id() -> Option<String> {
    INVOCATION.with(|current| current.borrow().as_ref().map(|ids| ids.request_id.clone()))
}

/// Upstream's span on a text line: `Lambda runtime invoke{requestId="…" xrayTraceId="…"}: `.
fn text_prefix(ids: &InvocationIds) -> String {
    let mut prefix = format!("Lambda runtime invoke{{requestId={:?}", ids.request_id);
    if let Some(trace) = &ids.trace_id {
        prefix.push_str(&format!(" xrayTraceId={trace:?}"));
    }
    if let Some(tenant) = &ids.tenant_id {
        prefix.push_str(&format!(" tenantId={tenant:?}"));
    }
    prefix.push_str("}: ");
    prefix
}

/// The invocation's fields of a JSON line: `,"requestId":…,"xrayTraceId":…,"tenantId":…`.
fn push_json_fields(line: &mut Vec<u8>, ids: &InvocationIds) {
    line.extend_from_slice(b",\"requestId\":");
    crate::json::push_str(line, &ids.request_id);
    if let Some(trace) = &ids.trace_id {
        line.extend_from_slice(b",\"xrayTraceId\":");
        crate::json::push_str(line, trace);
    }
    if let Some(tenant) = &ids.tenant_id {
        line.extend_from_slice(b",\"tenantId\":");
        crate::json::push_str(line, tenant);
    }
}

fn with_invocation<T>(f: impl FnOnce(Option<&InvocationIds>) -> T) -> T {
    INVOCATION.with(|current| f(current.borrow().as_ref()))
}

/// Maps a Lambda log level name to a filter; `None` if it is not one.
pub fn lambda_level(value: &str) -> Option<LevelFilter> {
    match value.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(LevelFilter::Trace),
        "DEBUG" => Some(LevelFilter::Debug),
        "INFO" => Some(LevelFilter::Info),
        "WARN" | "WARNING" => Some(LevelFilter::Warn),
        "ERROR" | "FATAL" => Some(LevelFilter::Error),
        "OFF" => Some(LevelFilter::Off),
        _ => None,
    }
}

/// Installs the logger. Safe to call more than once (later calls do nothing).
pub fn init() {
    let mut builder = env_logger::Builder::new();
    builder.target(env_logger::Target::Stdout);
    builder.parse_filters(&filter_directives(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    ));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        builder.format(|buf, record| {
            let mut line = Vec::with_capacity(128);
            line.extend_from_slice(b"{\"timestamp\":\"");
            line.extend_from_slice(rfc3339_now().as_bytes());
            line.extend_from_slice(b"\",\"level\":\"");
            line.extend_from_slice(record.level().as_str().as_bytes());
            line.extend_from_slice(b"\",\"message\":");
            crate::json::push_str(&mut line, &record.args().to_string());
            with_invocation(|ids| {
                if let Some(ids) = ids {
                    push_json_fields(&mut line, ids);
                }
            });
            line.extend_from_slice(b"}\n");
            buf.write_all(&line)
        });
    } else {
        builder.format(|buf, record| {
            let prefix = with_invocation(|ids| ids.map(text_prefix).unwrap_or_default());
            writeln!(buf, "{:>5} {prefix}{}", record.level(), record.args())
        });
    }
    let _ = builder.try_init();
}

/// The `env_logger` directives for `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG`: the adapter's level
/// is `AWS_LAMBDA_LOG_LEVEL` (DECISIONS 22), else a bare level in `RUST_LOG`, else INFO; other
/// crates log at that level but never below INFO; `RUST_LOG` directives naming a crate or
/// module apply as written (those naming the adapter only without `AWS_LAMBDA_LOG_LEVEL`).
pub fn filter_directives(lambda_log_level: Option<&str>, rust_log: Option<&str>) -> String {
    let rust_log = rust_log.unwrap_or_default();
    // env_logger's `directives/filter` form: the filter applies to the message, kept as is.
    let (directives, message_filter) = match rust_log.split_once('/') {
        Some((directives, filter)) => (directives, Some(filter)),
        None => (rust_log, None),
    };
    let mut own = None;
    let mut named = Vec::new();
    for directive in directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        match directive.parse::<LevelFilter>() {
            Ok(level) if !directive.contains('=') => own = Some(level),
            _ => named.push(directive),
        }
    }
    if let Some(level) = lambda_log_level.and_then(lambda_level) {
        own = Some(level);
        named.retain(|d| !d.starts_with(OWN_TARGET));
    }
    let own = own.unwrap_or(LevelFilter::Info);
    let others = own.min(LevelFilter::Info);
    let mut out = format!("{others},{OWN_TARGET}={own}").to_ascii_lowercase();
    for directive in named {
        out.push(',');
        out.push_str(directive);
    }
    if let Some(filter) = message_filter {
        out.push('/');
        out.push_str(filter);
    }
    out
}

/// The current UTC time as `2026-11-21T23:39:12.345Z`.
pub fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(lambda_level("fatal"), Some(LevelFilter::Error));
        assert_eq!(lambda_level("WARN"), Some(LevelFilter::Warn));
        assert_eq!(lambda_level("verbose"), None);
    }

    #[test]
    fn debug_is_the_adapters_own_story() {
        assert_eq!(
            filter_directives(Some("debug"), None),
            "info,lambda_adapter=debug"
        );
        assert_eq!(filter_directives(None, None), "info,lambda_adapter=info");
        assert_eq!(
            filter_directives(None, Some("trace")),
            "info,lambda_adapter=trace"
        );
        assert_eq!(
            filter_directives(Some("fatal"), None),
            "error,lambda_adapter=error"
        );
        // Dependencies only when named; AWS_LAMBDA_LOG_LEVEL still sets the adapter's level.
        assert_eq!(
            filter_directives(Some("debug"), Some("ureq=debug,lambda_adapter=off")),
            "info,lambda_adapter=debug,ureq=debug"
        );
        assert_eq!(
            filter_directives(
                None,
                Some("warn,ureq_proto=trace,lambda_adapter::worker=debug")
            ),
            "warn,lambda_adapter=warn,ureq_proto=trace,lambda_adapter::worker=debug"
        );
        assert_eq!(
            filter_directives(Some("verbose"), Some("debug/next")),
            "info,lambda_adapter=debug/next"
        );
    }

    #[test]
    fn invocation_fields_as_upstream_writes_them() {
        let mut ids = InvocationIds {
            request_id: "rid-1".into(),
            trace_id: Some("Root=1-2;Sampled=1".into()),
            tenant_id: None,
        };
        assert_eq!(
            text_prefix(&ids),
            r#"Lambda runtime invoke{requestId="rid-1" xrayTraceId="Root=1-2;Sampled=1"}: "#
        );
        let mut line = Vec::new();
        push_json_fields(&mut line, &ids);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            r#","requestId":"rid-1","xrayTraceId":"Root=1-2;Sampled=1""#
        );
        ids.tenant_id = Some("t\"1".into());
        ids.trace_id = None;
        assert_eq!(
            text_prefix(&ids),
            r#"Lambda runtime invoke{requestId="rid-1" tenantId="t\"1"}: "#
        );
        set_request_id(Some("rid-2"));
        assert_eq!(request_id().as_deref(), Some("rid-2"));
        set_invocation(None);
        assert_eq!(request_id(), None);
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_778), (2026, 11, 21));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
