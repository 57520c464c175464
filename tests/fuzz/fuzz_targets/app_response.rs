//! Arbitrary bytes as the app's response to a request of an arbitrary method (`GET`, `HEAD`,
//! lowercase `head`, `POST`...), arriving a few bytes at a time: reading the head and the body
//! must never panic or loop, what is accepted must be consistent, and a connection may only be
//! kept after a response framed to its last byte.
#![no_main]

use std::io::{self, Read};

use lambda_adapter::app::AppRequest;
use lambda_adapter::app::body::BodyReader;
use lambda_adapter::app::buffer::ReadBuffer;
use lambda_adapter::app::request::Prepared;
use lambda_adapter::app::response::{AfterHead, read_head};
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 6] = ["GET", "HEAD", "head", "POST", "get", "PROPFIND"];

/// Gives out the app's bytes `step` at a time, so heads and chunk lines split across reads.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let method = METHODS[selector as usize % METHODS.len()];
    let request = AppRequest {
        method: method.into(),
        target: "/".into(),
        headers: vec![("host".into(), "app".into())],
        body: Vec::new(),
    };
    let Ok((_, Prepared::NoBody(call))) = request.prepare() else {
        panic!("a bodiless {method} request has no response state");
    };
    let step = 1 + (selector as usize / METHODS.len()) % 61;
    let mut input = ReadBuffer::new(Trickle { data, step });
    let Ok((head, after, must_close)) = read_head(&mut input, call) else {
        return;
    };
    assert!(
        (200..=999).contains(&head.status),
        "final status {}",
        head.status
    );
    for (name, value) in &head.headers {
        assert!(!name.is_empty(), "empty header name");
        assert!(
            name.bytes()
                .all(|b| lambda_adapter::config::is_token_byte(b) && !b.is_ascii_uppercase()),
            "name {name:?}"
        );
        assert!(
            !value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0),
            "value {value:?}"
        );
    }
    let mut reader = match after {
        AfterHead::Body(call) => BodyReader::new(call),
        AfterHead::Done { must_close } => BodyReader::done(must_close),
    };
    let mut scratch = [0u8; 7];
    let mut body = Vec::new();
    // Each successful read appends at least one byte, and each fill takes at least one input
    // byte, so this ends within twice the input's length of reads.
    let mut reads = 0;
    let failed = loop {
        reads += 1;
        assert!(
            reads <= 2 * data.len() + 4,
            "the body reader does not make progress"
        );
        let before = body.len();
        match reader.read(&mut input, &mut scratch, &mut body) {
            Ok(true) => assert!(
                body.len() > before && body.len() - before <= scratch.len(),
                "a read of {} bytes",
                body.len() - before
            ),
            Ok(false) => {
                assert_eq!(body.len(), before);
                break false;
            }
            Err(_) => break true,
        }
    };
    assert!(body.len() <= data.len(), "more body than input");
    if method == "HEAD" || head.status == 204 || head.status == 304 {
        assert!(body.is_empty(), "a body for a response that has none");
    }
    if failed {
        assert!(reader.ended().is_none(), "a failed body counts as ended");
        return;
    }
    // Reuse is only ever allowed for a response framed to its last byte: one that declares its
    // length (content-length or chunked) or has no body by rule, and never for one that ends
    // when the app closes or that asked to close.
    let keep = !must_close && reader.ended() == Some(false);
    if keep {
        let framed = method == "HEAD"
            || head.status == 204
            || head.status == 304
            || head.has_header("content-length")
            || head
                .header("transfer-encoding")
                .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        assert!(framed, "a connection kept after an unframed response: {head:?}");
        assert!(!head.close, "a connection kept after `connection: close`: {head:?}");
    }
});
