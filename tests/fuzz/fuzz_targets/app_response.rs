//! Arbitrary bytes as the app's response: `read_head` and `BodyReader` must never panic or
//! loop, and what they accept must be consistent.
#![no_main]

use std::io::{BufReader, Cursor};

use lambda_adapter::app::response::{BodyReader, read_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head_only = data.first().is_some_and(|b| b & 1 == 1);
    // A small buffer so heads and chunk lines split across reads.
    let capacity = 1 + data.len() % 61;
    let mut reader = BufReader::with_capacity(capacity, Cursor::new(data));
    let Ok(head) = read_head(&mut reader) else {
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
    let mut body_reader = BodyReader::new(&head, head_only);
    let mut body = Vec::new();
    // Each successful read appends at least one byte, so this ends within data.len() + 1 reads.
    let mut reads = 0;
    loop {
        reads += 1;
        assert!(
            reads <= data.len() + 2,
            "the body reader does not make progress"
        );
        let before = body.len();
        match body_reader.read_chunk(&mut reader, &mut body, 7) {
            Ok(true) => assert!(
                body.len() > before && body.len() - before <= 7,
                "a read of {} bytes",
                body.len() - before
            ),
            Ok(false) => {
                assert_eq!(body.len(), before);
                break;
            }
            Err(_) => {
                assert!(
                    !body_reader.connection_reusable(),
                    "a failed body leaves the connection reusable"
                );
                break;
            }
        }
    }
    assert!(body.len() <= data.len(), "more body than input");
    if head_only || head.status == 204 || head.status == 304 {
        assert!(body.is_empty(), "a body for a response that has none");
    }
});
