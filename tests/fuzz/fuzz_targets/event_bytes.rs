//! Arbitrary bytes as a Lambda event: `event::to_request` must never panic, a request it
//! produces must be well-formed on the wire, and a 400 must be valid response JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The configuration variant comes from the length so seeds stay plain JSON files.
    fuzz_checks::check_event(data, data.len());
});
