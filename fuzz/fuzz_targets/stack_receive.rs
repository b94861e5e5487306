//! Fuzzes `Stack::receive`; the body is `pila::fuzz::stack_receive`, which the test suite
//! also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pila::fuzz::stack_receive(data));
