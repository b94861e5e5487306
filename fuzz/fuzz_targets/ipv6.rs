//! Fuzzes the IPv6 header and extension-header walk; the body is `pila::fuzz::ipv6`, which
//! the test suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::ipv6(data));
