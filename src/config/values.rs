//! Parsers for single configuration values: ports, booleans, durations, paths, status lists,
//! hosts.
//! Each names the variable in its error (DECISIONS 20).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::error::{ConfigError, invalid};

pub(crate) fn parse_port(var: &str, value: &str) -> Result<u16, ConfigError> {
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(invalid(
            var,
            value,
            "expected a TCP port number from 1 to 65535",
        )),
    }
}

/// A duration in seconds, fractions allowed (`0.5`), from 0 up to `max` seconds.
pub fn parse_seconds(var: &str, value: &str, max: f64) -> Result<Duration, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..=max).contains(&secs) => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(invalid(
            var,
            value,
            &format!("expected seconds from 0 to {max}, fractions allowed (such as 4 or 0.5)"),
        )),
    }
}

/// Booleans accept `true/false/1/0/yes/no/on/off` in any case (DECISIONS 20).
pub fn parse_bool(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            var,
            value,
            "expected true/false, 1/0, yes/no or on/off",
        )),
    }
}

/// A comma-separated list of header names (`server, x-powered-by`), lowercased; empty means
/// none. An empty item or a name that is not an HTTP token is an error.
pub(crate) fn parse_header_list(var: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|name| {
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(invalid(
                    var,
                    value,
                    "expected header names separated by commas, such as 'server, x-powered-by'",
                ));
            }
            Ok(name.to_ascii_lowercase())
        })
        .collect()
}

pub(crate) fn parse_readiness_path(var: &str, value: String) -> Result<String, ConfigError> {
    if !value.starts_with('/') {
        return Err(invalid(
            var,
            &value,
            "expected a path starting with '/', such as '/health'",
        ));
    }
    if value.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'#') {
        return Err(invalid(
            var,
            &value,
            "expected a path without spaces, control characters or '#'",
        ));
    }
    request_target(var, &value, encode_non_ascii(&value))
}

/// `path` if an HTTP/1.1 request line can carry it as it is (no `<`, `>` or `` ` ``, which
/// must be percent-encoded first).
fn request_target(var: &str, value: &str, path: String) -> Result<String, ConfigError> {
    match ureq_proto::http::uri::PathAndQuery::try_from(path.as_str()) {
        Ok(_) => Ok(path),
        Err(_) => Err(invalid(
            var,
            value,
            "expected a path an HTTP request line can carry: percent-encode '<', '>', '`' and '\"' (e.g. %3C)",
        )),
    }
}

pub(crate) fn parse_pass_through_path(value: &str) -> Result<String, ConfigError> {
    if value
        .bytes()
        .any(|b| b <= b' ' || b == 0x7f || b == b'?' || b == b'#')
    {
        return Err(invalid(
            "AWS_LWA_PASS_THROUGH_PATH",
            value,
            "expected a path without spaces, control characters, '?' or '#'",
        ));
    }
    let path = encode_non_ascii(value);
    Ok(if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    })
    .and_then(|path| request_target("AWS_LWA_PASS_THROUGH_PATH", value, path))
}

/// Percent-encodes non-ASCII bytes, as upstream's URL handling does, so a configured path
/// goes into the request line as ASCII.
fn encode_non_ascii(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses `500,502-504, 422` into `[500, 502, 503, 504, 422]`, keeping order. Unlike
/// upstream, a part that is not a code or an ascending range is an error, not a warning.
pub fn parse_status_list(var: &str, value: &str) -> Result<Vec<u16>, ConfigError> {
    let expected = "expected HTTP status codes (100-599) and ranges separated by commas, such as '500,502-504'";
    let mut codes = Vec::new();
    for part in value.split(',').map(str::trim) {
        if part.is_empty() {
            continue;
        }
        let parse_code = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        match part.split_once('-') {
            Some((start, end)) => match (parse_code(start), parse_code(end)) {
                (Some(start), Some(end)) if start <= end => codes.extend(start..=end),
                _ => return Err(invalid(var, value, expected)),
            },
            None => match parse_code(part) {
                Some(code) => codes.push(code),
                None => return Err(invalid(var, value, expected)),
            },
        }
    }
    Ok(codes)
}

pub(crate) fn resolve_host(var: &str, host: &str, port: u16) -> Result<SocketAddr, ConfigError> {
    // Host names other than localhost would need the system resolver (NSS), which a static
    // binary cannot rely on; the app runs in the same environment, so an IP always serves.
    literal_ip(host)
        .map(|ip| SocketAddr::new(ip, port))
        .ok_or_else(|| {
            invalid(
                var,
                host,
                "expected an IP address (such as 127.0.0.1 or [::1]) or localhost",
            )
        })
}

/// The IP of a host that is an IP literal (IPv6 with or without brackets) or `localhost`,
/// resolved without the system resolver.
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    bare.parse().ok()
}

/// The index of the first `%` not followed by two hex digits (a malformed percent-escape).
pub fn malformed_escape(bytes: &[u8]) -> Option<usize> {
    bytes.iter().enumerate().find_map(|(i, &b)| {
        let valid = || {
            bytes
                .get(i + 1..i + 3)
                .is_some_and(|escape| escape.iter().all(u8::is_ascii_hexdigit))
        };
        (b == b'%' && !valid()).then_some(i)
    })
}

/// RFC 9110 token characters (header names, methods).
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
