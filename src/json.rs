//! Small JSON writing helpers for the hot path: responses are written straight into one
//! buffer instead of building a `serde_json::Value` first. Output is byte-identical to
//! `serde_json`'s compact form (same escapes), so it matches upstream's JSON.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
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
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
