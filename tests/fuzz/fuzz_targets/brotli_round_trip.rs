//! The adapter's brotli encoder on arbitrary bytes: the `brotli` crate's decoder must give
//! back exactly the input, and output never grows more than a stored meta-block's few bytes.
//! The first byte, when the input has more, repeats the rest up to 64 times, so long matches,
//! runs and inputs over the 64 KiB window come up too.
#![no_main]

use std::io::Read;

use lambda_adapter::brotli_encoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = match data.split_first() {
        Some((&repeat, rest)) if !rest.is_empty() => rest.repeat(usize::from(repeat % 64) + 1),
        _ => data.to_vec(),
    };
    let compressed = brotli_encoder::compress(&input);
    let mut decoded = Vec::new();
    if let Err(e) = brotli::Decompressor::new(&compressed[..], 4096).read_to_end(&mut decoded) {
        panic!(
            "{} input bytes: the stream does not decode: {e}",
            input.len()
        );
    }
    assert!(
        decoded == input,
        "{} input bytes decode differently",
        input.len()
    );
    assert!(
        compressed.len() <= input.len() + 8,
        "{} bytes grew to {}",
        input.len(),
        compressed.len()
    );
});
