//! The request target: method, path and query, encoded as upstream's `url` crate encodes them
//! (§3.3, §3.5), with a malformed escape or character answered as a 400 (DECISIONS 2).

use crate::config::{Config, is_token_byte, malformed_escape};
use crate::json;

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
        if let Some(at) = malformed_escape(raw.as_bytes()) {
            return Err(format!("invalid percent-encoding in the path at byte {at}"));
        }
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
    if let Some(at) = malformed_escape(raw.as_bytes()) {
        return Err(format!(
            "invalid percent-encoding in the query string at byte {at}"
        ));
    }
    let mut out = String::with_capacity(raw.len());
    for &b in raw.as_bytes() {
        match b {
            b'\'' | 0x80..=0xff => push_pct(&mut out, b),
            _ => out.push(b as char),
        }
    }
    Ok(Some(out))
}
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
}
