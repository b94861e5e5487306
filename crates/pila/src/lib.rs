//! pila: a TCP/IP stack in user space.
//!
//! The layers, from the bytes up (see DESIGN.md in the repository):
//!
//! * [`wire`]: zero-copy views and owned representations of Ethernet, ARP, IPv4, ICMPv4,
//!   IPv6 with its extension headers, ICMPv6 with neighbour discovery and MLD, UDP and TCP,
//!   with the Internet checksum.
//! * [`device`]: the [`device::Device`] trait, an in-memory [`device::VirtualWire`] with
//!   reproducible impairments, and (feature `pcap`) a capture wrapper.
//! * [`time`]: the [`time::Instant`] and [`time::Duration`] the core is handed, and the
//!   simulator's [`time::VirtualClock`].
//! * [`tcp`]: one connection's RFC 9293 state machine, Sans-IO.
//! * [`sim`]: the simulator: two stacks on a virtual wire under a virtual clock.
//! * [`net`]: blocking, `std::net`-shaped sockets on a stack driven by a thread.
//! * `tokio` (feature `tokio`): async, `tokio::net`-shaped sockets on the same stack.
//!
//! The protocol core never does I/O, never reads a clock and never touches a global random
//! source: time and frames come in as arguments, so the same code runs on a real clock and
//! on a virtual one.

pub mod device;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
pub mod net;
pub mod rand;
mod runtime;
pub mod sim;
pub mod stack;
pub mod tcp;
pub mod time;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod wire;

/// Internal building blocks exposed for the micro-benchmarks in `benches/` and the fuzz
/// targets. Not part of the public API: no stability promise.
#[doc(hidden)]
pub mod internals {
    pub use crate::tcp::assembler::{Assembler, TooManyHoles};
    pub use crate::tcp::buffer::RingBuffer;
}
