//! The headers the app receives: validated, framing and hop-by-hop ones dropped (DECISIONS 9),
//! the context headers the adapter's own (DECISIONS 10, 33).

use crate::config::{Config, is_token_byte};
use crate::event::maps::{EventHeaders, EventMap, merge_multi};
use crate::lambda::invocation::Invocation;

/// Headers an event may not set: the adapter frames the request itself, so an event can
/// neither truncate, hang nor smuggle a request (DECISIONS 9). The context headers are
/// always the adapter's own (DECISIONS 10), and so are the event-field headers, whether
/// `AWS_LWA_EVENT_FIELDS_AS_HEADERS` is on or off (DECISIONS 33).
const DROPPED_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "x-amzn-request-context",
    "x-amzn-lambda-context",
    "x-amz-tenant-id",
    PATH_PARAMETERS_HEADER,
    STAGE_VARIABLES_HEADER,
];

/// An API Gateway event's `pathParameters`, as JSON (`AWS_LWA_EVENT_FIELDS_AS_HEADERS`).
pub const PATH_PARAMETERS_HEADER: &str = "x-amzn-path-parameters";
/// An API Gateway event's `stageVariables`, as JSON (`AWS_LWA_EVENT_FIELDS_AS_HEADERS`).
pub const STAGE_VARIABLES_HEADER: &str = "x-amzn-stage-variables";

/// Builds the header list the app receives.
#[derive(Debug, Default)]
pub struct Headers {
    pub list: Vec<(String, String)>,
}

impl Headers {
    pub fn with_capacity(n: usize) -> Headers {
        Headers {
            list: Vec::with_capacity(n + 4),
        }
    }

    /// The headers of a REST v1 or ALB event: every value of `multiValueHeaders`, then the
    /// names only in `headers` (DECISIONS 6), validated as `push` does.
    pub fn from_multi(multi: &EventMap, single: &EventMap) -> Result<Headers, String> {
        let mut headers = Headers::with_capacity(multi.0.len().max(single.0.len()));
        for (name, values) in merge_multi(multi, single, true) {
            for value in values {
                headers.push(name, value)?;
            }
        }
        Ok(headers)
    }

    /// Adds one event header after validating it. Framing, hop-by-hop and context headers
    /// are dropped here.
    pub fn push(&mut self, name: &str, value: &str) -> Result<(), String> {
        if let Some(name) = checked_name(name, value)? {
            // HTTP allows one Host; with the multi-value maps winning (DECISIONS 6) an event
            // could list several, so the first is kept.
            if name == "host" && self.get("host").is_some() {
                return Ok(());
            }
            self.list.push((name, value.to_string()));
        }
        Ok(())
    }

    /// Like `push`, but replaces every value `name` already has, in the place of the first
    /// (as upstream's `HeaderMap::insert`), or appends.
    pub fn replace(&mut self, name: &str, value: &str) -> Result<(), String> {
        if let Some(name) = checked_name(name, value)? {
            self.set(&name, value.to_string());
        }
        Ok(())
    }

    /// Adds every value of every header of an event header map.
    pub fn extend(&mut self, headers: &EventHeaders) -> Result<(), String> {
        for (name, values) in &headers.0 {
            for value in values {
                self.push(name, value)?;
            }
        }
        Ok(())
    }

    /// Removes every value of `name` (lowercase).
    pub fn remove(&mut self, name: &str) {
        self.list.retain(|(n, _)| n != name);
    }

    /// Sets `name` to `value`: replaces the first occurrence in place and removes the rest,
    /// or appends.
    pub fn set(&mut self, name: &str, value: String) {
        match self.list.iter().position(|(n, _)| n == name) {
            Some(i) => {
                self.list[i].1 = value;
                let mut seen = false;
                self.list.retain(|(n, _)| {
                    if n != name {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.list.push((name.to_string(), value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Adds what the adapter itself contributes, in upstream's order: the trace id, the two
    /// context headers, the tenant id, the authorization move, and `host` when missing.
    pub fn finish(
        mut self,
        config: &Config,
        invocation: &Invocation,
        request_context: &str,
    ) -> Vec<(String, String)> {
        if let Some(trace) = &invocation.trace_id {
            if is_valid_value(trace) {
                self.set("x-amzn-trace-id", trace.clone());
            }
        }
        self.list.push((
            "x-amzn-request-context".into(),
            header_safe_json(request_context.to_string()),
        ));
        self.list.push((
            "x-amzn-lambda-context".into(),
            header_safe_json(invocation.lambda_context_json(&config.function)),
        ));
        if let Some(tenant) = &invocation.tenant_id {
            if is_valid_value(tenant) {
                log::debug!("propagating tenant_id header");
                self.list.push(("x-amz-tenant-id".into(), tenant.clone()));
            } else {
                log::warn!(
                    "tenant_id contains invalid header characters, skipping tenant_id={tenant:?}"
                );
            }
        }
        if let Some(source) = &config.authorization_source {
            match self.get(source).map(str::to_string) {
                Some(value) => {
                    self.remove(source);
                    self.set("authorization", value);
                }
                None => log::warn!("\"{source}\" header not found in request headers"),
            }
        }
        if self.get("host").is_none() {
            self.list
                .push(("host".into(), config.default_host_header()));
        }
        self.list
    }
}

/// JSON carried in a header value. HTTP forbids control bytes in a field value
/// (DECISIONS 9); as upstream since 1.0.1, every control byte but TAB is removed. (The JSON
/// writers escape every control byte below 0x20, so only DEL, which JSON lets stand raw in a
/// string, is ever found.)
pub fn header_safe_json(mut json: String) -> String {
    if json.bytes().any(forbidden_in_value) {
        json.retain(|c| !(c.is_ascii_control() && c != '\t'));
    }
    json
}

/// Validates one event header; `Ok(None)` for a header the adapter drops, else the lowercase name.
fn checked_name(name: &str, value: &str) -> Result<Option<String>, String> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!("invalid header name {name:?}"));
    }
    if let Some(b) = value.bytes().find(|&b| forbidden_in_value(b)) {
        return Err(format!(
            "invalid character {:?} in the value of header {name:?}",
            b as char
        ));
    }
    let name = name.to_ascii_lowercase();
    if name == "host" && !is_valid_host(value) {
        return Err(format!("invalid Host header {value:?}"));
    }
    Ok((!DROPPED_HEADERS.contains(&name.as_str())).then_some(name))
}

fn is_valid_value(v: &str) -> bool {
    !v.bytes().any(forbidden_in_value)
}

/// A byte HTTP forbids in a field value: a control byte other than TAB (DECISIONS 9).
fn forbidden_in_value(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// A Host header value upstream can parse as a URL authority (it aborts on the rest, §9.1):
/// empty, or `host[:port]` / `[ipv6][:port]` where the host has none of the URL standard's
/// forbidden host code points (space, `#`, `%`, `/`, `<`, `>`, `?`, `@`, `[`, `\`, `]`, `^`,
/// `|`, controls) and the port is at most 65535. Placeholders such as AWS's sample
/// `1234567890.execute-api.{dns_suffix}` are accepted, as upstream does.
fn is_valid_host(v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    let (host, port) = if let Some(rest) = v.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        if inside.is_empty()
            || !inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after {
            "" => ("x", None),
            _ => match after.strip_prefix(':') {
                Some(port) => ("x", Some(port)),
                None => return false,
            },
        }
    } else {
        match v.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (v, None),
        }
    };
    let host_ok = !host.is_empty()
        && !host
            .bytes()
            .any(|b| b <= 0x20 || b == 0x7f || b"#%/<>?@[\\]^|".contains(&b));
    let port_ok = port.is_none_or(|p| {
        p.is_empty() || (p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok())
    });
    host_ok && port_ok
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_validated_and_filtered() {
        let mut h = Headers::default();
        h.push("X-Custom", "v").unwrap();
        h.push("Content-Length", "999").unwrap();
        h.push("Transfer-Encoding", "chunked").unwrap();
        h.push("Connection", "close").unwrap();
        h.push("x-amzn-lambda-context", "spoofed").unwrap();
        h.push("x-amz-tenant-id", "spoofed").unwrap();
        h.push("Host", "example.com:443").unwrap();
        assert_eq!(
            h.list,
            vec![
                ("x-custom".into(), "v".into()),
                ("host".into(), "example.com:443".into())
            ]
        );
        assert!(h.push("bad name", "v").is_err());
        assert!(h.push("x", "a\r\nInjected: 1").is_err());
        assert!(h.push("x", "nul\0").is_err());
        assert!(h.push("host", "bad host").is_err());
        assert!(h.push("x", "tab\tis fine, ünïcode too").is_ok());
    }

    #[test]
    fn hosts_that_a_url_authority_can_hold() {
        for ok in [
            "",
            "example.com",
            "example.com:443",
            "example.com:",
            "1234567890.execute-api.{dns_suffix}",
            "*.execute-api.eu-central-1.amazonaws.com",
            "[::1]",
            "[::1]:8080",
            "bücher.example",
        ] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "bad host", "a/b", "a@b", "a?b", "a#b", "h:99999", "h:8x", "h:1:2", ":80", "[::1",
            "[zz]", "a%41", "a|b", "a^b",
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn first_host_wins_and_replace_keeps_the_place() {
        let mut h = Headers::default();
        h.push("Host", "a.example").unwrap();
        h.push("cookie", "x=1").unwrap();
        h.push("host", "b.example").unwrap();
        h.push("cookie", "y=2").unwrap();
        h.replace("Cookie", "z=3").unwrap();
        assert_eq!(
            h.list,
            vec![
                ("host".into(), "a.example".into()),
                ("cookie".into(), "z=3".into())
            ]
        );
        assert!(h.replace("cookie", "bad\n").is_err());
    }

    #[test]
    fn multi_value_maps_win_and_keep_event_order() {
        let map = |pairs: &[(&str, &[&str])]| {
            EventMap(
                pairs
                    .iter()
                    .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
                    .collect(),
            )
        };
        let multi = map(&[("B", &["1", "2"]), ("empty", &[]), ("a", &["3"])]);
        let single = map(&[
            ("b", &["2"]),
            ("c", &["4"]),
            ("empty", &["5"]),
            ("A", &["x"]),
        ]);
        let names = |ignore_case| -> Vec<(String, Vec<String>)> {
            merge_multi(&multi, &single, ignore_case)
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.to_vec()))
                .collect()
        };
        assert_eq!(
            names(true),
            map(&[
                ("B", &["1", "2"]),
                ("a", &["3"]),
                ("c", &["4"]),
                ("empty", &["5"])
            ])
            .0
        );
        assert_eq!(
            names(false),
            map(&[
                ("B", &["1", "2"]),
                ("a", &["3"]),
                ("b", &["2"]),
                ("c", &["4"]),
                ("empty", &["5"]),
                ("A", &["x"])
            ])
            .0
        );
        let parsed: EventMap = serde_json::from_str(r#"{"z":"1","a":["2","3"],"m":null}"#).unwrap();
        assert_eq!(
            parsed,
            map(&[("z", &["1"]), ("a", &["2", "3"]), ("m", &[])])
        );
        assert_eq!(
            serde_json::from_str::<EventMap>("null").unwrap(),
            EventMap::default()
        );
        assert!(serde_json::from_str::<EventMap>(r#"{"a":1}"#).is_err());
    }
}
