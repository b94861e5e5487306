//! TCP (RFC 9293): one connection's state machine and the parts it is built from.

pub(crate) mod assembler;
pub(crate) mod buffer;
