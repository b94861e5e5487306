//! The virtio-net header (`struct virtio_net_hdr`, VIRTIO 1.x §5.1.6; linux/virtio_net.h)
//! that a TAP or TUN device opened with `IFF_VNET_HDR` puts before every frame, in both
//! directions. It carries the offloads: a packet whose transport checksum is still to be
//! filled in (`NEEDS_CSUM`, with where the sum starts and where it goes), one the device
//! already checked (`DATA_VALID`), and a TCP segment larger than the MTU that the receiver
//! of the frame cuts into `gso_size`-byte pieces (TSO/GSO), or that the kernel built by
//! coalescing such pieces (GRO).
//!
//! The fields are little-endian: pila asks the device for that byte order
//! (`TUNSETVNETLE`), which is also the native one of every host it runs on.

use super::{Error, Result};

/// The header's length: 10 bytes.
pub const HEADER_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` holds only
/// the pseudo-header's sum; the rest is to be added from `csum_start` to the end.
pub const FLAG_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the device verified the transport checksum.
pub const FLAG_DATA_VALID: u8 = 2;

/// What kind of large segment a frame is (`gso_type`), if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gso {
    /// An ordinary frame (`VIRTIO_NET_HDR_GSO_NONE`).
    None,
    /// A TCP over IPv4 segment to be cut into `gso_size`-byte pieces
    /// (`VIRTIO_NET_HDR_GSO_TCPV4`).
    TcpV4,
    /// A TCP over IPv6 segment (`VIRTIO_NET_HDR_GSO_TCPV6`).
    TcpV6,
    /// A UDP datagram to fragment (`VIRTIO_NET_HDR_GSO_UDP`).
    Udp,
}

impl Gso {
    const fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::TcpV4 => 1,
            Self::Udp => 3,
            Self::TcpV6 => 4,
        }
    }
}

/// One virtio-net header, as plain values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// `FLAG_NEEDS_CSUM`, `FLAG_DATA_VALID`.
    pub flags: u8,
    /// The kind of large segment.
    pub gso: Gso,
    /// ECN: the segment's pieces carry CWR as the original did (`VIRTIO_NET_HDR_GSO_ECN`).
    pub ecn: bool,
    /// Bytes of headers (link, IP, transport) before the payload of a large segment.
    pub hdr_len: u16,
    /// Payload bytes in each piece of a large segment.
    pub gso_size: u16,
    /// Where the checksummed part starts, from the start of the frame.
    pub csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: u16,
}

impl Repr {
    /// The header of an ordinary frame whose checksums are all filled in.
    pub const PLAIN: Self = Self {
        flags: 0,
        gso: Gso::None,
        ecn: false,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// Reads the header at the start of `frame`.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `frame` is shorter than [`HEADER_LEN`]; [`Error::Unsupported`]
    /// for a GSO type pila does not know.
    pub fn parse(frame: &[u8]) -> Result<Self> {
        let h = frame.get(..HEADER_LEN).ok_or(Error::Truncated)?;
        let le = |at: usize| u16::from_le_bytes([h[at], h[at + 1]]);
        let gso = match h[1] & 0x7f {
            0 => Gso::None,
            1 => Gso::TcpV4,
            3 => Gso::Udp,
            4 => Gso::TcpV6,
            _ => return Err(Error::Unsupported),
        };
        Ok(Self {
            flags: h[0],
            gso,
            ecn: h[1] & 0x80 != 0,
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `buf`.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is shorter than [`HEADER_LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let h = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        h[0] = self.flags;
        h[1] = self.gso.code() | if self.ecn { 0x80 } else { 0 };
        for (at, v) in
            [(2, self.hdr_len), (4, self.gso_size), (6, self.csum_start), (8, self.csum_offset)]
        {
            h[at..at + 2].copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }

    /// Whether the frame's transport checksum needs no check by software: the device
    /// verified it, or the sender left it to be filled in (a packet from the kernel itself).
    pub const fn checksum_trusted(&self) -> bool {
        self.flags & (FLAG_NEEDS_CSUM | FLAG_DATA_VALID) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_in_little_endian() {
        let repr = Repr {
            flags: FLAG_NEEDS_CSUM,
            gso: Gso::TcpV4,
            ecn: true,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut buf = [0u8; HEADER_LEN];
        repr.emit(&mut buf).unwrap();
        assert_eq!(buf, [1, 0x81, 66, 0, 0xa8, 0x05, 34, 0, 16, 0]);
        assert_eq!(Repr::parse(&buf), Ok(repr));
        assert!(repr.checksum_trusted());
        assert!(!Repr::PLAIN.checksum_trusted());
    }

    #[test]
    fn short_or_unknown_headers_are_refused() {
        assert_eq!(Repr::parse(&[0; 9]), Err(Error::Truncated));
        let mut buf = [0u8; HEADER_LEN];
        buf[1] = 5; // VIRTIO_NET_HDR_GSO_UDP_L4, which pila never asks for
        assert_eq!(Repr::parse(&buf), Err(Error::Unsupported));
        assert_eq!(Repr::PLAIN.emit(&mut [0; 4]), Err(Error::Truncated));
    }
}
