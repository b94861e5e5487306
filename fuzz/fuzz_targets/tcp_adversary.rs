//! Fuzzes a live TCP connection between two stacks through an adversary on the wire; the
//! body is `pila::fuzz::tcp_adversary`, which the test suite's soak also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pila::fuzz::tcp_adversary(data);
});
