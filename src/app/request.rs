//! The request the app receives, as the event conversion decided it.

/// What to send to the app. Built by the event conversion; header names are lowercase and
/// no name or value contains a byte HTTP forbids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppRequest {
    pub method: String,
    /// Origin-form target: `/path` or `/path?query`, already percent-encoded.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl AppRequest {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The request head and body as written on the wire.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        self.write_head(&mut out);
        out.extend_from_slice(&self.body);
        out
    }

    fn write_head(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(self.body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    }
}
