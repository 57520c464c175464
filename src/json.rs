//! Small JSON writing helpers for the hot path: responses are written straight into one
//! buffer instead of building a `serde_json::Value` first. Output is byte-identical to
//! `serde_json`'s compact form (same escapes), so it matches upstream's JSON.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The text of a JSON buffer built from `&str` pieces: taken over without a copy, as it is
/// valid UTF-8 (anything else is replaced, never a panic).
pub fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Bodies are mostly plain text: skip 8 bytes at a time while none needs escaping.
        if let Some(word) = bytes.get(i..i + 8) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            if !needs_escape(u64::from_le_bytes(eight)) {
                i += 8;
                continue;
            }
        }
        let Some(&b) = bytes.get(i) else { break };
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `v` as a JSON string, or `null`.
pub fn push_opt(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(v) => push_str(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// Whether any of the 8 bytes in `word` is a control byte, `"` or `\\` (SWAR: a byte-wise
/// "less than 0x20" and two "equals" tests on all eight lanes at once).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    below_space | has_zero(word ^ (ONES * b'"' as u64)) | has_zero(word ^ (ONES * b'\\' as u64))
        != 0
}

/// Appends `bytes` base64-encoded (standard alphabet, padded) as a JSON string literal.
pub fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let at = out.len();
    let encoded_len = bytes.len().div_ceil(3) * 4;
    out.resize(at + encoded_len, 0);
    // The buffer was sized for the encoding, so this cannot fail; stay panic-free anyway.
    if let Ok(n) = STANDARD.encode_slice(bytes, &mut out[at..]) {
        out.truncate(at + n);
    } else {
        out.truncate(at);
        out.extend_from_slice(STANDARD.encode(bytes).as_bytes());
    }
    out.push(b'"');
}

/// Appends a JSON string for a header value: UTF-8 as is, anything else decoded lossily.
pub fn push_lossy(out: &mut Vec<u8>, bytes: &[u8]) {
    push_str(out, &String::from_utf8_lossy(bytes));
}

/// Appends the compact form of the JSON text `raw` (insignificant whitespace removed, key
/// order and number spelling kept as the event had them).
pub fn push_minified(out: &mut Vec<u8>, raw: &str) {
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw.as_bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn into_string_takes_valid_text_and_replaces_the_rest() {
        assert_eq!(
            into_string(b"{\"a\":\"\xc3\xa9\"}".to_vec()),
            "{\"a\":\"\u{e9}\"}"
        );
        assert_eq!(into_string(b"x\xffy".to_vec()), "x\u{fffd}y");
    }

    use super::*;

    #[test]
    fn escapes_match_serde_json() {
        for s in [
            "plain",
            "q\"b\\s",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}",
            "héllo ✓ /",
            "",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn every_byte_at_every_position_escapes_like_serde_json() {
        for special in (0u8..0x80).map(char::from).chain(['é', '✓', '\u{10FFFF}']) {
            for at in 0..20 {
                let s: String = (0..20)
                    .map(|i| if i == at { special } else { 'a' })
                    .collect();
                let mut out = Vec::new();
                push_str(&mut out, &s);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(&s).unwrap(),
                    "{special:?} at {at}"
                );
            }
        }
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..10 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
            let mut out = Vec::new();
            push_base64(&mut out, &data);
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text, format!("\"{}\"", STANDARD.encode(&data)));
        }
    }

    #[test]
    fn minify_keeps_strings_and_order() {
        let mut out = Vec::new();
        push_minified(&mut out, "{ \"b\" : [1, 2],\n \"a\": \"x y\\\" z\" }");
        assert_eq!(out, br#"{"b":[1,2],"a":"x y\" z"}"#);
    }
}
