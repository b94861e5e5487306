//! One simulated host: a TCP connection on one end of a [`VirtualWire`](crate::device::VirtualWire),
//! and the framing between them — every segment leaves as real IPv4 + TCP bytes (in an
//! Ethernet frame on an Ethernet wire) and is parsed back, checksums and all, on arrival.

use core::net::{IpAddr, SocketAddr, SocketAddrV4};

use crate::device::{Device, Endpoint, FrameBatch, Medium};
use crate::tcp::{Config, Connection, State};
use crate::time::Instant;
use crate::wire::tcp::{Flags, Repr, SeqNumber};
use crate::wire::{self, Checksums, ethernet, ipv4};

/// The largest IP packet the simulator builds: a TCP segment can never be longer.
const MAX_PACKET: usize = 65_535;
/// The TTL of the packets the simulator sends.
const TTL: u8 = 64;

/// Counters of one simulated host's frames, like a NIC's and the IP layer's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStats {
    /// Frames handed to the wire.
    pub frames_sent: u64,
    /// Frames taken from the wire.
    pub frames_received: u64,
    /// Segments delivered to the connection.
    pub segments_delivered: u64,
    /// Frames dropped because an IPv4 or TCP checksum failed (a corrupted frame).
    pub bad_checksum: u64,
    /// Frames dropped because a header did not parse (bad length, version, option...).
    pub malformed: u64,
    /// Well-formed frames dropped because they were not for this connection (another
    /// MAC, address, protocol or port).
    pub not_ours: u64,
    /// Frames the wire refused because its queue was full (tail drop at our sender).
    pub queue_full: u64,
}

impl HostStats {
    /// Every frame this host dropped on arrival.
    pub const fn dropped(&self) -> u64 {
        self.bad_checksum + self.malformed + self.not_ours
    }
}

/// A segment a host sent, as the simulator saw it (recorded when tracing is on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentSegment {
    /// When it was handed to the wire.
    pub at: Instant,
    /// Its sequence number.
    pub seq: SeqNumber,
    /// Its acknowledgment number, if ACK was set.
    pub ack: Option<SeqNumber>,
    /// Its control bits, ACK included.
    pub flags: Flags,
    /// Its payload length.
    pub len: usize,
    /// Its raw window field.
    pub window: u16,
    /// Its TSval, if it carried timestamps.
    pub tsval: Option<u32>,
    /// How many SACK blocks it carried.
    pub sack_blocks: usize,
}

impl SentSegment {
    fn new(at: Instant, seg: &Repr<'_>) -> Self {
        Self {
            at,
            seq: seg.seq_number,
            ack: seg.ack_number,
            flags: seg.all_flags(),
            len: seg.payload.len(),
            window: seg.window_len,
            tsval: seg.options.timestamp.map(|ts| ts.tsval),
            sack_blocks: seg.options.sack_blocks.len(),
        }
    }
}

/// Why an arriving frame was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drop {
    BadChecksum,
    Malformed,
    NotOurs,
}

impl From<wire::Error> for Drop {
    fn from(e: wire::Error) -> Self {
        match e {
            wire::Error::BadChecksum => Self::BadChecksum,
            _ => Self::Malformed,
        }
    }
}

/// One end of a simulated link: its addresses, its connection and its device.
#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) conn: Connection,
    pub(crate) device: Endpoint,
    pub(crate) local: SocketAddrV4,
    pub(crate) remote: SocketAddrV4,
    mac: ethernet::Address,
    peer_mac: ethernet::Address,
    pub(crate) stats: HostStats,
    /// Segments sent, when tracing.
    pub(crate) trace: Option<Vec<SentSegment>>,
    /// While listening: the ISN and settings with which to accept the first SYN, as a
    /// listener would.
    pub(crate) accept: Option<(SeqNumber, Config)>,
    tx: FrameBatch,
    rx: FrameBatch,
    scratch: Vec<u8>,
}

impl Host {
    pub(crate) fn new(
        conn: Connection,
        device: Endpoint,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        mac: ethernet::Address,
        peer_mac: ethernet::Address,
    ) -> Self {
        let burst = device.capabilities().max_burst.max(1);
        Self {
            conn,
            device,
            local,
            remote,
            mac,
            peer_mac,
            stats: HostStats::default(),
            trace: None,
            accept: None,
            tx: FrameBatch::new(burst),
            rx: FrameBatch::new(burst),
            scratch: vec![0; MAX_PACKET],
        }
    }

    /// Takes every frame that has arrived by `now` and feeds the connection the segments,
    /// one at a time, sending what each one calls for before the next (as a host that
    /// handles a packet per interrupt does: a receiver then ACKs every second segment even
    /// when a whole window arrives at once).
    pub(crate) fn receive(&mut self, now: Instant) {
        let caps = self.device.capabilities();
        let remote = SocketAddr::V4(self.remote);
        let mut rx = core::mem::take(&mut self.rx);
        loop {
            rx.clear();
            if self.device.receive(now, &mut rx).unwrap_or(0) == 0 {
                break;
            }
            for frame in rx.iter() {
                self.stats.frames_received += 1;
                match parse(caps.medium, &caps.checksums, self.mac, self.local, self.remote, frame)
                {
                    Ok(seg) => {
                        self.stats.segments_delivered += 1;
                        self.deliver(now, remote, &seg);
                        self.transmit(now);
                    }
                    Err(Drop::BadChecksum) => self.stats.bad_checksum += 1,
                    Err(Drop::Malformed) => self.stats.malformed += 1,
                    Err(Drop::NotOurs) => self.stats.not_ours += 1,
                }
            }
        }
        self.rx = rx;
    }

    /// Hands one segment to the connection, or, while listening for an accept, makes the
    /// connection from it.
    fn deliver(&mut self, now: Instant, remote: SocketAddr, seg: &Repr<'_>) {
        if self.conn.state() == State::Listen && is_initial_syn(seg) {
            if let Some((isn, config)) = self.accept.take() {
                let local = SocketAddr::V4(self.local);
                self.conn = Connection::accept(now, local, remote, seg, isn, &config);
                return;
            }
        }
        self.conn.handle_segment(now, remote, seg);
    }

    /// Runs the connection's timers if any is due.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
    }

    /// Sends every segment the connection has for the wire.
    pub(crate) fn transmit(&mut self, now: Instant) {
        let framing = self.framing();
        while let Some(seg) = self.conn.poll_transmit(now, &mut self.scratch) {
            if let Some(trace) = self.trace.as_mut() {
                trace.push(SentSegment::new(now, &seg));
            }
            framing.push(&mut self.tx, &seg);
            if self.tx.is_full() {
                self.flush(now);
            }
        }
        self.flush(now);
    }

    /// Frames `seg` as if this host's connection had sent it, and puts it on the wire.
    pub(crate) fn transmit_raw(&mut self, now: Instant, seg: &Repr<'_>) {
        self.framing().push(&mut self.tx, seg);
        self.flush(now);
    }

    /// How this host frames what it sends.
    fn framing(&self) -> Framing {
        let caps = self.device.capabilities();
        Framing {
            medium: caps.medium,
            checksums: caps.checksums,
            mac: self.mac,
            peer_mac: self.peer_mac,
            src: self.local,
            dst: self.remote,
        }
    }

    fn flush(&mut self, now: Instant) {
        if self.tx.is_empty() {
            return;
        }
        let taken = self.device.transmit(now, &self.tx).unwrap_or(0);
        self.stats.frames_sent += self.tx.len() as u64;
        self.stats.queue_full += (self.tx.len() - taken.min(self.tx.len())) as u64;
        self.tx.clear();
    }

    /// The earliest instant this host has work: a timer or an arriving frame.
    pub(crate) fn poll_at(&self) -> Option<Instant> {
        match (self.conn.poll_timeout(), self.device.poll_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Whether `seg` opens a connection: SYN without ACK or RST.
fn is_initial_syn(seg: &Repr<'_>) -> bool {
    seg.flags.contains(Flags::SYN) && !seg.flags.contains(Flags::RST) && seg.ack_number.is_none()
}

/// How one host frames its segments: the wire's medium and checksums, and both ends' addresses.
#[derive(Clone, Copy)]
struct Framing {
    medium: Medium,
    checksums: Checksums,
    mac: ethernet::Address,
    peer_mac: ethernet::Address,
    src: SocketAddrV4,
    dst: SocketAddrV4,
}

impl Framing {
    /// Appends the frame carrying `seg` to `tx`. A segment that cannot be framed is not sent,
    /// and nothing is added for it.
    fn push(&self, tx: &mut FrameBatch, seg: &Repr<'_>) {
        // A segment `emit` rejects (one too long for an IPv4 packet) is dropped, as a NIC
        // drops what it cannot send; a full batch is the caller's to flush first.
        let _framed = tx.try_push_with(self.frame_len(seg), |buf| self.emit(seg, buf));
    }

    /// The length of the frame carrying `seg`.
    fn frame_len(&self, seg: &Repr<'_>) -> usize {
        let link = match self.medium {
            Medium::Ethernet => ethernet::HEADER_LEN,
            Medium::Ip => 0,
        };
        link + ipv4::HEADER_LEN + seg.buffer_len()
    }

    /// Writes `seg` as a frame into `buf` (at least [`Self::frame_len`] bytes); returns the
    /// frame's length.
    fn emit(&self, seg: &Repr<'_>, buf: &mut [u8]) -> wire::Result<usize> {
        let link = match self.medium {
            Medium::Ethernet => {
                let eth = ethernet::Repr {
                    src_addr: self.mac,
                    dst_addr: self.peer_mac,
                    ethertype: ethernet::EtherType::Ipv4,
                    vlan: None,
                };
                let header = buf.get_mut(..eth.header_len()).ok_or(wire::Error::Truncated)?;
                eth.emit(&mut ethernet::Frame::new_unchecked(header));
                eth.header_len()
            }
            Medium::Ip => 0,
        };
        let (src, dst) = (*self.src.ip(), *self.dst.ip());
        let ip = ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: wire::ip::Protocol::Tcp,
            payload_len: seg.buffer_len(),
            ttl: TTL,
            tos: 0,
            ident: 0,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let packet = buf.get_mut(link..link + ip.buffer_len()).ok_or(wire::Error::Truncated)?;
        let payload = packet.get_mut(ip.header_len()..).ok_or(wire::Error::Truncated)?;
        let mut segment = wire::tcp::Packet::new_unchecked(payload);
        seg.emit(&mut segment, IpAddr::V4(src), IpAddr::V4(dst), &self.checksums)?;
        // The IPv4 emitter writes the header (and its checksum) and leaves the payload alone.
        ip.emit(&mut ipv4::Packet::new_unchecked(packet), &self.checksums);
        Ok(link + ip.buffer_len())
    }
}

/// Parses a frame addressed to `local` from `remote` into a segment.
fn parse<'a>(
    medium: Medium,
    checksums: &Checksums,
    mac: ethernet::Address,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    frame: &'a [u8],
) -> Result<Repr<'a>, Drop> {
    let packet: &'a [u8] = match medium {
        Medium::Ethernet => {
            let eth = ethernet::Frame::new_checked(frame)?;
            let repr = ethernet::Repr::parse(&eth)?;
            if repr.dst_addr != mac || repr.ethertype != ethernet::EtherType::Ipv4 {
                return Err(Drop::NotOurs);
            }
            eth.payload()
        }
        Medium::Ip => frame,
    };
    let ip = ipv4::Packet::new_checked(packet)?;
    let ip_repr = ipv4::Repr::parse(&ip, checksums)?;
    if ip_repr.dst_addr != *local.ip()
        || ip_repr.src_addr != *remote.ip()
        || ip_repr.protocol != wire::ip::Protocol::Tcp
        || ip_repr.more_frags
        || ip_repr.frag_offset != 0
    {
        return Err(Drop::NotOurs);
    }
    let tcp = wire::tcp::Packet::new_checked(ip.payload())?;
    let seg =
        Repr::parse(&tcp, IpAddr::V4(ip_repr.src_addr), IpAddr::V4(ip_repr.dst_addr), checksums)?;
    if seg.dst_port != local.port() || seg.src_port != remote.port() {
        return Err(Drop::NotOurs);
    }
    Ok(seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing(medium: Medium) -> Framing {
        Framing {
            medium,
            checksums: Checksums::default(),
            mac: ethernet::Address([2, 0, 0, 0, 0, 1]),
            peer_mac: ethernet::Address([2, 0, 0, 0, 0, 2]),
            src: SocketAddrV4::new([10, 0, 0, 1].into(), 1000),
            dst: SocketAddrV4::new([10, 0, 0, 2].into(), 2000),
        }
    }

    #[test]
    fn a_segment_that_cannot_be_framed_puts_nothing_on_the_wire() {
        let mut tx = FrameBatch::new(4);
        let big = vec![0u8; MAX_PACKET];
        let seg = Repr { payload: &big, ..Repr::TEMPLATE };
        framing(Medium::Ip).push(&mut tx, &seg);
        assert!(tx.is_empty());

        let seg = Repr { payload: b"hi", ..Repr::TEMPLATE };
        for medium in [Medium::Ip, Medium::Ethernet] {
            let f = framing(medium);
            f.push(&mut tx, &seg);
            let frame = tx.get(tx.len() - 1).unwrap();
            assert_eq!(frame.len(), f.frame_len(&seg));
            let link = if medium == Medium::Ethernet { ethernet::HEADER_LEN } else { 0 };
            assert_eq!(frame.len(), link + ipv4::HEADER_LEN + wire::tcp::HEADER_LEN + 2);
        }
        assert_eq!(tx.len(), 2);
    }
}
