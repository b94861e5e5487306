//! TCP (RFC 9293): one connection's state machine and the parts it is built from.

pub(crate) mod assembler;
pub(crate) mod buffer;
pub mod congestion;
// The sender (tcp/send.rs) drives the scoreboard; until it is in, only the tests do.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod sack;
