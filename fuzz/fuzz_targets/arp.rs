//! Fuzzes the arp parser; the body is `pila::fuzz::arp`, which the test suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::arp(data));
