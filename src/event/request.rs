//! Request rules shared by every event source: method, path and query encoding, header
//! validation and filtering, the context headers, and the body.
//!
//! Every rule that can reject input returns `Err(message)`; the caller answers it with a 400
//! in the event's own response format (DECISIONS 2).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::app::AppRequest;
use crate::config::{Config, is_token_byte};
use crate::json;
use crate::lambda::invocation::Invocation;

/// Headers an event may not set: the adapter frames the request itself, so an event can
/// neither truncate, hang nor smuggle a request (DECISIONS 9). The context headers are
/// always the adapter's own (DECISIONS 10).
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
];

/// A map of an event (headers, query parameters) in the event's own key order:
/// `name -> value` or `name -> [values]`; `null` is empty. (`serde_json::Value` would sort
/// the keys, and upstream's `HashMap` order is random: event order keeps the request
/// deterministic, DECISIONS 7.)
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventMap(pub Vec<(String, Vec<String>)>);

/// An event's headers (`headers` or `multiValueHeaders`).
pub type EventHeaders = EventMap;

impl EventMap {
    /// The values of `name` when it has at least one (exact or ASCII-case-insensitive match).
    fn has_values(&self, name: &str, ignore_case: bool) -> bool {
        self.0.iter().any(|(n, values)| {
            !values.is_empty()
                && if ignore_case {
                    n.eq_ignore_ascii_case(name)
                } else {
                    n == name
                }
        })
    }
}

impl<'de> Deserialize<'de> for EventMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = EventMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of names to strings or arrays of strings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<EventMap, E> {
                Ok(EventMap::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<EventMap, E> {
                Ok(EventMap::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<EventMap, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventMap, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let values = map.next_value::<StringOrList>()?.0;
                    out.push((name, values));
                }
                Ok(EventMap(out))
            }
        }
        deserializer.deserialize_option(MapVisitor)
    }
}

/// REST v1 and ALB carry each map twice, single-value and multi-value. The multi-value entry
/// wins for a name in both, so the app sees every value; names only in the single-value map
/// are added after (DECISIONS 6). Both keep the event's order (DECISIONS 7). Header names
/// compare case-insensitively, query names exactly.
pub fn merge_multi<'a>(
    multi: &'a EventMap,
    single: &'a EventMap,
    ignore_case: bool,
) -> Vec<(&'a str, &'a [String])> {
    let mut out: Vec<(&str, &[String])> = Vec::with_capacity(multi.0.len().max(single.0.len()));
    for (name, values) in &multi.0 {
        if !values.is_empty() {
            out.push((name, values));
        }
    }
    for (name, values) in &single.0 {
        if !multi.has_values(name, ignore_case) {
            out.push((name, values));
        }
    }
    out
}

/// Appends `s` `application/x-www-form-urlencoded`, as upstream's `form_urlencoded`
/// serialiser does (§3.5): space is `+`, bytes other than `A-Za-z0-9*-._` are `%XX`.
pub fn push_form_encoded(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            _ => push_pct(out, b),
        }
    }
}

/// A form-encoded query string from decoded `(name, value)` pairs; `None` when there are none.
pub fn form_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        push_form_encoded(&mut out, name);
        out.push('=');
        push_form_encoded(&mut out, value);
    }
    (!out.is_empty()).then_some(out)
}

/// Parses `application/x-www-form-urlencoded` text as upstream's `form_urlencoded::parse`:
/// `&`-separated (empty pieces skipped), split at the first `=`, `+` is a space, `%XX` is a
/// byte (a bad escape stays as typed), and the bytes are read as UTF-8 lossily.
pub fn form_parse(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |at: usize| b.get(at).and_then(|&h| (h as char).to_digit(16));
        match c {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(c),
        }
        i += 1;
    }
    json::into_string(out)
}

/// A JSON string, an array of strings, or null (no values).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StringOrList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOrList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringOrList, E> {
                Ok(StringOrList(vec![v.to_string()]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<StringOrList, E> {
                Ok(StringOrList(vec![v]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringOrList, E> {
                Ok(StringOrList(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringOrList, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    out.push(v);
                }
                Ok(StringOrList(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `null` and absent both mean `false`.
pub fn null_as_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// The method: empty means GET (as upstream); case is kept; anything but a token is rejected.
pub fn method(raw: Option<&str>) -> Result<String, String> {
    match raw.unwrap_or("") {
        "" => Ok("GET".to_string()),
        m if m.len() <= 64 && m.bytes().all(is_token_byte) => Ok(m.to_string()),
        m => Err(format!("invalid HTTP method {m:?}")),
    }
}

/// Strips `AWS_LWA_REMOVE_BASE_PATH` once, at a segment boundary (DECISIONS 8).
pub fn strip_base_path<'a>(path: &'a str, base: Option<&str>) -> &'a str {
    let Some(base) = base else { return path };
    match path.strip_prefix(base) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    }
}

/// The request path for an event path: `AWS_LWA_REMOVE_BASE_PATH` stripped, then encoded.
pub fn path(raw: Option<&str>, config: &Config, stray: StrayPercent) -> Result<String, String> {
    let path = strip_base_path(raw.unwrap_or(""), config.remove_base_path.as_deref());
    encode_path(path, stray)
}

/// How a `%` that does not start a valid escape is treated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StrayPercent {
    /// The path or query is raw (as the client sent it): a bad escape is a malformed request.
    Reject,
    /// Forward it unchanged, as upstream does.
    Keep,
}

/// Turns a path into the request target's path, as the `url` crate's `set_path` does for
/// `http:` URLs (upstream §3.3): percent-encodes space `"` `#` `<` `>` `?` `` ` `` `{` `}`,
/// controls and non-ASCII; `\` becomes `/`; dot segments (also `%2e` spelled) are resolved;
/// an empty path is `/`.
pub fn encode_path(raw: &str, stray: StrayPercent) -> Result<String, String> {
    if stray == StrayPercent::Reject {
        check_percent_escapes(raw)
            .map_err(|at| format!("invalid percent-encoding in the path at byte {at}"))?;
    }
    let mut encoded = String::with_capacity(raw.len() + 1);
    if !raw.starts_with('/') && !raw.starts_with('\\') {
        encoded.push('/');
    }
    for &b in raw.as_bytes() {
        match b {
            b'\\' => encoded.push('/'),
            b' '
            | b'"'
            | b'#'
            | b'<'
            | b'>'
            | b'?'
            | b'`'
            | b'{'
            | b'}'
            | 0..=0x1f
            | 0x7f..=0xff => push_pct(&mut encoded, b),
            _ => encoded.push(b as char),
        }
    }
    if !encoded.contains("/.") && !encoded.to_ascii_lowercase().contains("%2e") {
        return Ok(encoded);
    }
    Ok(remove_dot_segments(&encoded))
}

fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let last = parts.len().saturating_sub(1);
    for (i, seg) in parts.iter().enumerate() {
        let lower = seg.to_ascii_lowercase();
        let is_last = i == last;
        match lower.as_str() {
            ".." | ".%2e" | "%2e." | "%2e%2e" => {
                segments.pop();
                if is_last {
                    segments.push("");
                }
            }
            "." | "%2e" => {
                if is_last {
                    segments.push("");
                }
            }
            _ => segments.push(seg),
        }
    }
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&segments.join("/"));
    out
}

fn push_pct(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 0xf) as usize] as char);
}

/// `Err(index)` of the first `%` not followed by two hex digits.
fn check_percent_escapes(s: &str) -> Result<(), usize> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(i);
            }
        }
    }
    Ok(())
}

/// A raw query string as the client sent it (v2 `rawQueryString`), encoded as the `url`
/// crate's `set_query` does: `'` and non-ASCII are percent-encoded, a `#` ends it. Spaces,
/// `"`, `<`, `>`, controls and bad escapes are malformed (DECISIONS 2). `None` when empty.
pub fn encode_raw_query(raw: &str) -> Result<Option<String>, String> {
    let raw = raw.split('#').next().unwrap_or_default();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Some(b) = raw
        .bytes()
        .find(|&b| matches!(b, b' ' | b'"' | b'<' | b'>' | 0..=0x1f | 0x7f))
    {
        return Err(format!(
            "invalid character {:?} in the query string",
            b as char
        ));
    }
    check_percent_escapes(raw)
        .map_err(|at| format!("invalid percent-encoding in the query string at byte {at}"))?;
    let mut out = String::with_capacity(raw.len());
    for &b in raw.as_bytes() {
        match b {
            b'\'' | 0x80..=0xff => push_pct(&mut out, b),
            _ => out.push(b as char),
        }
    }
    Ok(Some(out))
}

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
            let host = if config.app_port == 80 {
                config.app_host.clone()
            } else {
                config.app_authority()
            };
            self.list.push(("host".into(), host));
        }
        self.list
    }
}

/// JSON carried in a header value. DEL may stand raw inside a JSON string, but HTTP forbids
/// it in a field value (DECISIONS 9), so it is written as `\u007f`: the same JSON, safe bytes.
/// (JSON allows no other raw control byte, and DEL cannot appear outside a string.)
fn header_safe_json(json: String) -> String {
    if json.contains('\u{7f}') {
        json.replace('\u{7f}', "\\u007f")
    } else {
        json
    }
}

/// Validates one event header; `Ok(None)` for a header the adapter drops, else the lowercase name.
fn checked_name(name: &str, value: &str) -> Result<Option<String>, String> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!("invalid header name {name:?}"));
    }
    if let Some(b) = value
        .bytes()
        .find(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
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
    !v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
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

/// The request body: the event's text as UTF-8 bytes, or decoded from base64 (standard
/// alphabet, canonical padding).
pub fn body(body: Option<&str>, is_base64: bool) -> Result<Vec<u8>, String> {
    match body {
        None => Ok(Vec::new()),
        Some(text) if is_base64 => STANDARD
            .decode(text)
            .map_err(|e| format!("isBase64Encoded is true but the body is not valid base64 ({e})")),
        Some(text) => Ok(text.as_bytes().to_vec()),
    }
}

/// Assembles the request. `target` is the encoded path plus `?query` when there is one.
pub fn app_request(
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> AppRequest {
    let target = match query {
        Some(q) if !q.is_empty() => {
            let mut t = path;
            t.push('?');
            t.push_str(&q);
            t
        }
        _ => path,
    };
    AppRequest {
        method,
        target,
        headers,
        body,
    }
}

/// Borrowed when the event's JSON string had no escapes (bodies usually don't).
pub type Text<'a> = Cow<'a, str>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_like_upstream() {
        let cases = [
            ("/Año_1234", "/A%C3%B1o_1234"),
            ("/é", "/%C3%A9"),
            ("/a b\"<>`{}", "/a%20b%22%3C%3E%60%7B%7D"),
            ("/keep'|^[];=:@~%2F%00", "/keep'|^[];=:@~%2F%00"),
            ("/a/../b/./c", "/b/c"),
            ("/a/%2e%2e/b", "/b"),
            ("/a\\b", "/a/b"),
            ("//a//b", "//a//b"),
            ("", "/"),
            ("/a/..", "/"),
            ("x", "/x"),
            ("/h#frag", "/h%23frag"),
            ("/a?b", "/a%3Fb"),
        ];
        for (raw, want) in cases {
            assert_eq!(
                encode_path(raw, StrayPercent::Reject).unwrap(),
                want,
                "{raw}"
            );
        }
        assert!(encode_path("/100%", StrayPercent::Reject).is_err());
        assert_eq!(encode_path("/100%", StrayPercent::Keep).unwrap(), "/100%");
    }

    #[test]
    fn base_path_is_segment_aware_and_applied_once() {
        let base = Some("/api");
        assert_eq!(strip_base_path("/api/x", base), "/x");
        assert_eq!(strip_base_path("/api", base), "");
        assert_eq!(strip_base_path("/apiary", base), "/apiary");
        assert_eq!(strip_base_path("/api/api/x", base), "/api/x");
        assert_eq!(strip_base_path("/other", base), "/other");
    }

    #[test]
    fn raw_queries() {
        assert_eq!(
            encode_raw_query("a=1&b=%20x+y&c&=d&e=").unwrap().unwrap(),
            "a=1&b=%20x+y&c&=d&e="
        );
        assert_eq!(encode_raw_query("a=?b").unwrap().unwrap(), "a=?b");
        assert_eq!(encode_raw_query("&").unwrap().unwrap(), "&");
        assert_eq!(
            encode_raw_query("q='é'").unwrap().unwrap(),
            "q=%27%C3%A9%27"
        );
        assert_eq!(encode_raw_query("a=#frag").unwrap().unwrap(), "a=");
        assert_eq!(encode_raw_query("").unwrap(), None);
        for bad in ["a b", "a=\"", "a=<", "a=>", "a=%zz", "a=%"] {
            assert!(encode_raw_query(bad).is_err(), "{bad}");
        }
    }

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

    #[test]
    fn form_encoding_as_upstream() {
        assert_eq!(
            form_query([("a b", "1&2"), ("é", "*-._~+")]).unwrap(),
            "a+b=1%262&%C3%A9=*-._%7E%2B"
        );
        assert_eq!(form_query([]), None);
        assert_eq!(
            form_parse("a=1&&b=x+y%20z&c&=d&e=%zz%4&f=%C3%A9%FF&g=h=i"),
            [
                ("a", "1"),
                ("b", "x y z"),
                ("c", ""),
                ("", "d"),
                ("e", "%zz%4"),
                ("f", "é\u{fffd}"),
                ("g", "h=i")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn methods() {
        assert_eq!(method(None).unwrap(), "GET");
        assert_eq!(method(Some("get")).unwrap(), "get");
        assert_eq!(method(Some("PURGE")).unwrap(), "PURGE");
        assert!(method(Some("G ET")).is_err());
    }

    #[test]
    fn bodies() {
        assert_eq!(body(Some("aGk="), true).unwrap(), b"hi");
        assert!(body(Some("aGk"), true).is_err(), "unpadded");
        assert!(body(Some("a G k="), true).is_err());
        assert_eq!(body(Some("héllo"), false).unwrap(), "héllo".as_bytes());
        assert_eq!(body(None, true).unwrap(), b"");
    }
}
