//! Fuzzes the ICMPv6, neighbour discovery and MLD parsers; the body is `pila::fuzz::icmpv6`,
//! which the test suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::icmpv6(data));
