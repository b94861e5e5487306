//! Fuzzes the ethernet parser; the body is `pila::fuzz::ethernet`, which the test suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::ethernet(data));
