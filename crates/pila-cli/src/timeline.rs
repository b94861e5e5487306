//! The demo's timeline: a device wrapper that keeps a copy of every frame it carries in
//! either direction, and a renderer that decodes them with `pila::wire`, one line each.

use pila::device::{Capabilities, Device, DeviceWaker, FrameBatch, Readiness, WaitDevice};
use pila::time::Instant;
use pila::wire::ethernet::{self, EtherType};
use pila::wire::ip::Protocol;
use pila::wire::ipv6::{self, ext};
use pila::wire::tcp::{self, SeqNumber};
use pila::wire::{Checksums, arp, icmpv4, icmpv6, ipv4, udp};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// One frame the observed host sent or received.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) at: Instant,
    /// `true` for a frame the observed host transmitted.
    pub(crate) outgoing: bool,
    pub(crate) frame: Vec<u8>,
}

/// The frames seen so far, shared with the device.
pub(crate) type Log = Arc<Mutex<Vec<Seen>>>;

/// Wraps a device and records every frame it receives or transmits.
pub(crate) struct Observed<D> {
    inner: D,
    log: Log,
}

impl<D> Observed<D> {
    pub(crate) fn new(inner: D) -> (Self, Log) {
        let log = Log::default();
        (Self { inner, log: Arc::clone(&log) }, log)
    }

    fn record(&self, at: Instant, outgoing: bool, frames: impl Iterator<Item = Vec<u8>>) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.extend(frames.map(|frame| Seen { at, outgoing, frame }));
    }
}

impl<D: Device> Device for Observed<D> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn receive(&mut self, now: Instant, batch: &mut FrameBatch) -> io::Result<usize> {
        let first = batch.len();
        let count = self.inner.receive(now, batch)?;
        self.record(now, false, batch.iter().skip(first).take(count).map(<[u8]>::to_vec));
        Ok(count)
    }

    fn transmit(&mut self, now: Instant, batch: &FrameBatch) -> io::Result<usize> {
        let count = self.inner.transmit(now, batch)?;
        self.record(now, true, batch.iter().take(count).map(<[u8]>::to_vec));
        Ok(count)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }
}

impl<D: WaitDevice> WaitDevice for Observed<D> {
    fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.wait(deadline)
    }

    fn waker(&self) -> DeviceWaker {
        self.inner.waker()
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }
}

/// Up to this many data segments of a connection are shown one by one; the rest of a run
/// of plain data and ACK segments is summed up in one line.
const SHOWN_DATA: usize = 4;

/// Renders the frames as a timeline: relative time, direction, and a tcpdump-like line with
/// TCP sequence numbers relative to each side's initial one.
pub(crate) fn render(seen: &[Seen], name: &str, peer: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(start) = seen.first().map(|s| s.at) else {
        return lines;
    };
    let mut isns: HashMap<(IpAddr, u16), SeqNumber> = HashMap::new();
    let mut shown: HashMap<(u16, u16), usize> = HashMap::new();
    // A run of data/ACK segments not shown: (first time, last time, frames, payload bytes).
    let mut run: Option<(Instant, Instant, usize, usize)> = None;
    let flush = |run: &mut Option<(Instant, Instant, usize, usize)>, lines: &mut Vec<String>| {
        if let Some((from, to, frames, bytes)) = run.take() {
            lines.push(format!(
                "{:>9}  ...  {frames} more data and ACK segments ({bytes} bytes of data) until {}",
                stamp(from - start),
                stamp(to - start)
            ));
        }
    };
    for s in seen {
        let arrow =
            if s.outgoing { format!("{name} > {peer}") } else { format!("{peer} > {name}") };
        let parsed = parse(&s.frame);
        if let Some(Parsed::Tcp { src, dst, repr }) = &parsed {
            // An HTTP request or response starts a segment worth seeing on its own.
            let plain = !repr.flags.intersects(tcp::Flags::SYN | tcp::Flags::FIN | tcp::Flags::RST)
                && http_start(repr.payload).is_none();
            let key = if src.1 < dst.1 { (src.1, dst.1) } else { (dst.1, src.1) };
            let count = shown.entry(key).or_default();
            if plain && *count >= SHOWN_DATA {
                let r = run.get_or_insert((s.at, s.at, 0, 0));
                r.1 = s.at;
                r.2 += 1;
                r.3 += repr.payload.len();
                continue;
            }
            if plain {
                *count += 1;
            }
        }
        flush(&mut run, &mut lines);
        let text = match &parsed {
            Some(p) => describe(p, &mut isns),
            None => format!("{} bytes that do not decode", s.frame.len()),
        };
        lines.push(format!("{:>9}  {arrow}  {text}", stamp(s.at - start)));
    }
    flush(&mut run, &mut lines);
    lines
}

fn stamp(d: pila::time::Duration) -> String {
    format!("{:.3}ms", d.total_micros() as f64 / 1e3)
}

/// A frame, decoded as far as the timeline cares.
enum Parsed<'a> {
    Arp(arp::Repr),
    Icmp(icmpv4::Repr<'a>),
    Icmp6(icmpv6::Repr<'a>),
    Udp { src: (IpAddr, u16), dst: (IpAddr, u16), len: usize },
    Tcp { src: (IpAddr, u16), dst: (IpAddr, u16), repr: tcp::Repr<'a> },
    Fragment { src: IpAddr, dst: IpAddr, offset: usize, len: usize },
    Other(String),
}

fn parse(frame: &[u8]) -> Option<Parsed<'_>> {
    let checks = Checksums::SOFTWARE;
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    let eth_repr = ethernet::Repr::parse(&eth).ok()?;
    let payload = eth.payload();
    match eth_repr.ethertype {
        EtherType::Arp => {
            Some(Parsed::Arp(arp::Repr::parse(&arp::Packet::new_checked(payload).ok()?).ok()?))
        }
        EtherType::Ipv4 => {
            let packet = ipv4::Packet::new_checked(payload).ok()?;
            let ip = ipv4::Repr::parse(&packet, &checks).ok()?;
            let body = packet.payload();
            let (src, dst) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
            if ip.more_frags || ip.frag_offset > 0 {
                let offset = usize::from(ip.frag_offset);
                return Some(Parsed::Fragment { src, dst, offset, len: body.len() });
            }
            if ip.protocol == Protocol::Icmp {
                let packet = icmpv4::Packet::new_checked(body).ok()?;
                return Some(Parsed::Icmp(icmpv4::Repr::parse(&packet, &checks).ok()?));
            }
            transport(ip.protocol, src, dst, body).or_else(|| Some(Parsed::Other(ip.to_string())))
        }
        EtherType::Ipv6 => {
            let packet = ipv6::Packet::new_checked(payload).ok()?;
            let ip = ipv6::Repr::parse(&packet).ok()?;
            let body = packet.payload();
            let chain = ext::walk(ip.next_header, body, ipv6::HEADER_LEN, true, false).ok()?;
            let (src, dst) = (IpAddr::V6(ip.src_addr), IpAddr::V6(ip.dst_addr));
            let upper = &body[chain.start..];
            if let Some(f) = chain.fragment.filter(|f| !f.is_atomic()) {
                let offset = usize::from(f.offset);
                return Some(Parsed::Fragment { src, dst, offset, len: upper.len() });
            }
            if chain.protocol == Protocol::Icmpv6 {
                let packet = icmpv6::Packet::new_checked(upper).ok()?;
                let repr = icmpv6::Repr::parse(&packet, ip.src_addr, ip.dst_addr, &checks).ok()?;
                return Some(Parsed::Icmp6(repr));
            }
            transport(chain.protocol, src, dst, upper)
                .or_else(|| Some(Parsed::Other(ip.to_string())))
        }
        other => Some(Parsed::Other(format!("ethertype {other}"))),
    }
}

/// A UDP datagram or TCP segment from `src` to `dst`, of either family.
fn transport<'a>(
    protocol: Protocol,
    src: IpAddr,
    dst: IpAddr,
    body: &'a [u8],
) -> Option<Parsed<'a>> {
    let checks = Checksums::SOFTWARE;
    match protocol {
        Protocol::Udp => {
            let packet = udp::Packet::new_checked(body).ok()?;
            let repr = udp::Repr::parse(&packet, src, dst, &checks).ok()?;
            let len = packet.payload().len();
            Some(Parsed::Udp { src: (src, repr.src_port), dst: (dst, repr.dst_port), len })
        }
        Protocol::Tcp => {
            let packet = tcp::Packet::new_checked(body).ok()?;
            let repr = tcp::Repr::parse(&packet, src, dst, &checks).ok()?;
            Some(Parsed::Tcp { src: (src, repr.src_port), dst: (dst, repr.dst_port), repr })
        }
        _ => None,
    }
}

/// `addr:port` as it is written: an IPv6 address in brackets.
fn endpoint((addr, port): (IpAddr, u16)) -> String {
    std::net::SocketAddr::new(addr, port).to_string()
}

/// One line, in the manner of tcpdump. `isns` remembers each TCP endpoint's initial
/// sequence number, so numbers are shown relative to it (the SYN is seq 0).
fn describe(parsed: &Parsed<'_>, isns: &mut HashMap<(IpAddr, u16), SeqNumber>) -> String {
    match parsed {
        Parsed::Arp(arp) => arp.to_string(),
        Parsed::Icmp(icmp) => icmp.to_string(),
        Parsed::Icmp6(icmp) => icmp.to_string(),
        Parsed::Udp { src, dst, len } => {
            format!("UDP {} > {} length {len}", endpoint(*src), endpoint(*dst))
        }
        Parsed::Fragment { src, dst, offset, len } => {
            let family = if src.is_ipv6() { "IPv6" } else { "IPv4" };
            format!("{family} fragment {src} > {dst} offset {offset} length {len}")
        }
        Parsed::Tcp { src, dst, repr } => {
            let (from, to) = (*src, *dst);
            if repr.flags.contains(tcp::Flags::SYN) {
                isns.insert(from, repr.seq_number);
            }
            let rel = |isn: Option<&SeqNumber>, n: SeqNumber| match isn {
                Some(isn) => n.wrapping_sub(*isn).to_string(),
                None => n.0.to_string(),
            };
            let mut line = format!(
                "TCP {} > {} {} seq {}",
                endpoint(from),
                endpoint(to),
                repr.all_flags(),
                rel(isns.get(&from), repr.seq_number)
            );
            if let Some(ack) = repr.ack_number {
                let _ = write!(line, " ack {}", rel(isns.get(&to), ack));
            }
            let _ = write!(line, " win {}", repr.window_len);
            if repr.options != tcp::Options::NONE {
                let _ = write!(line, " <{}>", repr.options);
            }
            if !repr.payload.is_empty() {
                let _ = write!(line, " length {}", repr.payload.len());
            }
            if let Some(start) = http_start(repr.payload) {
                let _ = write!(line, " HTTP {start:?}");
            }
            line
        }
        Parsed::Other(text) => text.clone(),
    }
}

/// The first line of an HTTP/1 request or response that `payload` starts, if it starts one.
fn http_start(payload: &[u8]) -> Option<&str> {
    const STARTS: [&[u8]; 5] = [b"GET ", b"HEAD ", b"POST ", b"PUT ", b"HTTP/1."];
    if !STARTS.iter().any(|start| payload.starts_with(start)) {
        return None;
    }
    let line = payload.split(|&b| b == b'\r' || b == b'\n').next()?;
    std::str::from_utf8(line.get(..line.len().min(72))?).ok()
}
