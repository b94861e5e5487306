//! Wire formats: zero-copy views over packet bytes and owned representations.
//!
//! Every protocol follows one pattern:
//!
//! * a view, `Packet<T: AsRef<[u8]>>` (or `Frame` for Ethernet), wraps a buffer without
//!   copying. `new_unchecked` wraps anything; `new_checked` first calls `check_len`, and
//!   **after `new_checked` succeeds no getter panics**, whatever the bytes say. Getters need
//!   `T: AsRef<[u8]>`, setters `T: AsMut<[u8]>`. Field offsets live in a private `mod field`.
//! * an owned `Repr` with `parse`, which validates lengths, versions and checksums and turns
//!   the view into plain values, `buffer_len`, the bytes `emit` will write, and `emit`, which
//!   **never panics when given a buffer of at least `buffer_len()` bytes**.
//!
//! A malformed buffer yields an [`Error`]; it never panics and never reads out of bounds.
//! Checksums are computed and verified according to [`Checksums`], so a device that
//! offloads them to hardware can say so.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;
pub mod virtio;

use core::fmt;

pub use core::net::Ipv4Addr;

/// Why a buffer was not accepted as a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the header, or than a length field says.
    Truncated,
    /// A length field is impossible: smaller than the header it covers, or an option whose
    /// length runs past its end.
    BadLength,
    /// The checksum does not match the contents.
    BadChecksum,
    /// A version, type or code that this format does not allow.
    Malformed,
    /// A well-formed packet of a kind pila does not handle (e.g. ARP for another hardware type).
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated packet",
            Self::BadLength => "length field out of range",
            Self::BadChecksum => "checksum mismatch",
            Self::Malformed => "malformed packet",
            Self::Unsupported => "unsupported packet",
        })
    }
}

impl std::error::Error for Error {}

/// The result of parsing a wire format.
pub type Result<T> = core::result::Result<T, Error>;

/// Who handles one checksum: software on both paths, or hardware on one or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Checksum {
    /// Software computes it on transmit and verifies it on receive.
    #[default]
    Both,
    /// Software verifies it on receive only; the device fills it in on transmit.
    Rx,
    /// Software computes it on transmit only; the device has verified it on receive.
    Tx,
    /// The device handles it both ways.
    None,
}

impl Checksum {
    /// Whether software must verify this checksum on received packets.
    pub const fn verify(self) -> bool {
        matches!(self, Self::Both | Self::Rx)
    }

    /// Whether software must compute this checksum on packets it sends.
    pub const fn compute(self) -> bool {
        matches!(self, Self::Both | Self::Tx)
    }
}

/// Which checksums software handles, per protocol; a device reports this in its capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Checksums {
    /// The IPv4 header checksum.
    pub ipv4: Checksum,
    /// The TCP checksum.
    pub tcp: Checksum,
    /// The UDP checksum.
    pub udp: Checksum,
    /// The ICMPv4 checksum.
    pub icmpv4: Checksum,
    /// The ICMPv6 checksum.
    pub icmpv6: Checksum,
}

impl Checksums {
    /// Software handles every checksum: the right choice for any device that does not say
    /// otherwise.
    pub const SOFTWARE: Self = Self {
        ipv4: Checksum::Both,
        tcp: Checksum::Both,
        udp: Checksum::Both,
        icmpv4: Checksum::Both,
        icmpv6: Checksum::Both,
    };
}

/// Big-endian fields of a packet's bytes, read by the zero-copy views. A view has checked
/// its buffer's length before any getter runs, so the fields are in range.
pub(crate) trait Fields: AsRef<[u8]> {
    /// The `u16` in the two bytes at `field`.
    fn read_u16(&self, field: core::ops::Range<usize>) -> u16 {
        let data = self.as_ref();
        u16::from_be_bytes([data[field.start], data[field.start + 1]])
    }

    /// The `u32` in the four bytes at `field`.
    fn read_u32(&self, field: core::ops::Range<usize>) -> u32 {
        let data = self.as_ref();
        let at = field.start;
        u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
    }
}

impl<T: AsRef<[u8]> + ?Sized> Fields for T {}

/// Big-endian fields of a packet's bytes, written by the views' setters.
pub(crate) trait FieldsMut: AsMut<[u8]> {
    /// Writes `value` into the two bytes at `field`.
    fn write_u16(&mut self, field: core::ops::Range<usize>, value: u16) {
        self.as_mut()[field].copy_from_slice(&value.to_be_bytes());
    }

    /// Writes `value` into the four bytes at `field`.
    fn write_u32(&mut self, field: core::ops::Range<usize>, value: u32) {
        self.as_mut()[field].copy_from_slice(&value.to_be_bytes());
    }
}

impl<T: AsMut<[u8]> + ?Sized> FieldsMut for T {}
