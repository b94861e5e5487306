//! What socket calls return and how sockets are named: the stack's [`Error`] and the
//! handles of its TCP connections, listeners and UDP sockets.

use super::slab::Key;
use core::fmt;

/// What a socket call failed with. Converts to [`std::io::Error`] with the kind
/// `std::net` would give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Nothing to do now: no data, no connection to accept, a full buffer.
    WouldBlock,
    /// The local address and port are taken.
    AddrInUse,
    /// The local address is not one of ours, or no ephemeral port is free.
    AddrNotAvailable,
    /// A bad argument: a zero port, an IPv6 address, a stale handle.
    InvalidInput,
    /// The socket is not connected.
    NotConnected,
    /// The peer refused: RST to our SYN, or ICMP port unreachable.
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The connection was aborted locally.
    ConnectionAborted,
    /// The peer stopped answering.
    TimedOut,
    /// The next hop never answered ARP, or ICMP said the host is unreachable.
    HostUnreachable,
    /// No route to the destination.
    NetworkUnreachable,
    /// The sending direction is closed.
    BrokenPipe,
    /// The datagram is larger than UDP allows.
    MessageTooLong,
    /// A queue is full.
    NoBufferSpace,
}

impl Error {
    /// The [`std::io::ErrorKind`] `std::net` uses for this error.
    pub fn kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            Self::WouldBlock => K::WouldBlock,
            Self::AddrInUse => K::AddrInUse,
            Self::AddrNotAvailable => K::AddrNotAvailable,
            Self::InvalidInput | Self::MessageTooLong => K::InvalidInput,
            Self::NotConnected => K::NotConnected,
            Self::ConnectionRefused => K::ConnectionRefused,
            Self::ConnectionReset => K::ConnectionReset,
            Self::ConnectionAborted => K::ConnectionAborted,
            Self::TimedOut => K::TimedOut,
            Self::HostUnreachable => K::HostUnreachable,
            Self::NetworkUnreachable => K::NetworkUnreachable,
            Self::BrokenPipe => K::BrokenPipe,
            Self::NoBufferSpace => K::OutOfMemory,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WouldBlock => "operation would block",
            Self::AddrInUse => "address in use",
            Self::AddrNotAvailable => "address not available",
            Self::InvalidInput => "invalid argument",
            Self::NotConnected => "not connected",
            Self::ConnectionRefused => "connection refused",
            Self::ConnectionReset => "connection reset by peer",
            Self::ConnectionAborted => "connection aborted",
            Self::TimedOut => "connection timed out",
            Self::HostUnreachable => "host unreachable",
            Self::NetworkUnreachable => "network unreachable",
            Self::BrokenPipe => "broken pipe",
            Self::MessageTooLong => "message too long",
            Self::NoBufferSpace => "no buffer space available",
        })
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        Self::new(e.kind(), e)
    }
}

macro_rules! handle {
    ($(#[doc = $doc:literal])* $name:ident) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(super) Key);
    };
}

handle!(
    /// A TCP connection of a [`Stack`](super::Stack): a slot index and its generation.
    TcpHandle
);
handle!(
    /// A TCP listener of a [`Stack`](super::Stack).
    ListenerHandle
);
handle!(
    /// A UDP socket of a [`Stack`](super::Stack).
    UdpHandle
);

/// Any socket, as [`Stack::poll_wake`](super::Stack::poll_wake) names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketHandle {
    /// A TCP connection.
    Tcp(TcpHandle),
    /// A TCP listener.
    Listener(ListenerHandle),
    /// A UDP socket.
    Udp(UdpHandle),
}
