//! Fuzzes the ipv4 parser; the body is `pila::fuzz::ipv4`, which the test suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::ipv4(data));
