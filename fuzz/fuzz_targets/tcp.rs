//! Fuzzes the tcp parser; the body is `pila::fuzz::tcp`, which the test suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::tcp(data));
