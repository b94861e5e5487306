//! Fuzzes the icmpv4 parser; the body is `pila::fuzz::icmpv4`, which the test suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::icmpv4(data));
