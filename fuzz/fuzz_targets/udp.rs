//! Fuzzes the udp parser; the body is `pila::fuzz::udp`, which the test suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::udp(data));
