//! The stateful TCP target: two real stacks with a live connection, and an adversary on
//! the wire between them whose every action the input chooses.
//!
//! Every frame either host sends is held on the adversary's wire instead of crossing it.
//! The input, read as a list of [`Action`]s, delivers, drops, duplicates, reorders or
//! corrupts held frames; injects segments built from the live connection's numbers (in
//! and out of window, old and future ACKs, any flags, odd options, overlapping and
//! conflicting data); sends ICMP errors quoting what a host sent; lets time pass or jump;
//! and acts as both applications (writes, reads, half-closes). Then the wire is cleared
//! and the connection runs clean for a while.
//!
//! What must hold, checked after every action and at the end (a violation panics, which is
//! what libFuzzer reports and the soak test fails on):
//! - bytes read by each application are exactly the start of what the other wrote: never
//!   corrupted, reordered or invented (the applications write a known pattern; forged data
//!   carries that pattern too, except where it lies wholly inside what the receiver has
//!   already read, where it conflicts on purpose);
//! - each connection's queues stay within its configured buffers;
//! - each connection is in a state RFC 9293 allows given what its application did: no
//!   FIN-WAIT, CLOSING, LAST-ACK or TIME-WAIT without its own close;
//! - when the adversary forged no RST, FIN or SYN and neither end failed, once the wire is
//!   clean everything written arrives.

use arbitrary::{Arbitrary, Unstructured};
use core::net::IpAddr;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::NO_VERIFY;
use crate::sim::{CLIENT_MAC, Family, PairConfig, RunError, SERVER_MAC, Side, TcpPair, Verdict};
use crate::tcp::{self, State};
use crate::time::Duration;
use crate::wire::tcp::{Flags, Options, Repr, SeqNumber, Timestamp};
use crate::wire::{Checksums, ethernet, icmpv4, icmpv6, ip::Protocol, ipv4, ipv6};

/// The most actions one input runs.
const MAX_ACTIONS: usize = 256;
/// The most frames the adversary's wire holds; the oldest is dropped beyond it.
const MAX_HELD: usize = 256;
/// Each connection's buffers: small, so windows fill and close.
const SEND_BUFFER: usize = 16 << 10;
const RECV_BUFFER: usize = 8 << 10;

/// One move of the adversary or of an application.
#[derive(Arbitrary, Debug)]
pub enum Action {
    /// Delivers every held frame, oldest first.
    DeliverAll,
    /// Delivers one held frame (picked modulo how many are held).
    Deliver(u8),
    /// Drops one held frame.
    Drop(u8),
    /// Delivers a copy of one held frame and keeps it held.
    Duplicate(u8),
    /// Moves one held frame behind the others.
    Delay(u8),
    /// Flips bits of one held frame at an offset, then delivers it.
    Corrupt { pick: u8, at: u16, xor: u8 },
    /// Injects a forged segment.
    Forge(Forge),
    /// Sends the host that sent a held frame an ICMP error quoting it.
    Icmp(IcmpError),
    /// Lets the clock run for some milliseconds (timers fire, frames stay held).
    Wait(u16),
    /// Moves the clock on by some seconds at once.
    Jump(u8),
    /// An application writes up to `len` bytes.
    Write { client: bool, len: u16 },
    /// An application reads up to `len` bytes.
    Read { client: bool, len: u16 },
    /// An application half-closes (shuts its sending side).
    Shutdown { client: bool },
}

/// A forged segment, as if from one end to the other, numbered from the live connection.
#[derive(Arbitrary, Debug)]
pub struct Forge {
    /// Toward the client (from the server's address) or toward the server.
    pub to_client: bool,
    /// The sequence number.
    pub seq: Around,
    /// The acknowledgment number, or none (no ACK flag).
    pub ack: Option<Around>,
    /// PSH, URG, ECE, CWR in its low bits.
    pub flags: u8,
    /// SYN, FIN and RST (its low three bits) when below 32: one forgery in eight.
    pub control: u8,
    /// The raw window field.
    pub window: u16,
    /// The urgent pointer.
    pub urgent: u16,
    /// Payload bytes asked for.
    pub len: u16,
    /// Options.
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// SACK blocks: a start relative to the receiver's oldest unacknowledged byte, a length.
    pub sack: Vec<(i16, u16)>,
    pub timestamp: Stamp,
    /// Payload that differs from what was sent, where the receiver has already read it all.
    pub conflicting: bool,
}

/// A sequence or acknowledgment number.
#[derive(Arbitrary, Debug)]
pub enum Around {
    /// So many bytes from the next byte expected (for a sequence number: the receiver's
    /// next expected; for an ACK: the receiver's next to send).
    Next(i16),
    /// So many bytes from the receiver's oldest unacknowledged byte (for an ACK) or from
    /// the start of the sender's stream (for a sequence number).
    Start(i16),
    /// Any number at all.
    Any(u32),
}

/// A forged segment's timestamps option.
#[derive(Arbitrary, Debug)]
pub enum Stamp {
    None,
    /// The sender's last TSval moved by so many ticks, echoing the receiver's last.
    Fresh(i16),
    /// A TSval older than the sender's last by up to 2^31 ticks, any TSecr.
    Old(u32, u32),
    /// Any TSval and TSecr. One far ahead of the sender's clock, in a segment the receiver
    /// takes, poisons its TS.Recent (RFC 7323 §5.3): the real sender's segments fail PAWS
    /// from then on, as they would on any TCP, so the run no longer expects delivery.
    Any(u32, u32),
}

/// An ICMP error about a held frame, to the host that sent it.
#[derive(Arbitrary, Debug)]
pub struct IcmpError {
    pub pick: u8,
    /// Which error: fragmentation needed or packet too big (with `mtu`), port, host or
    /// protocol unreachable, time exceeded, parameter problem.
    pub kind: u8,
    pub mtu: u16,
    /// Flips bits of the quoted datagram first (its TCP header, at offset 20 on).
    pub tamper: Option<(u8, u8)>,
}

/// What a run did, for a soak to see that its inputs reach deep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Actions run.
    pub actions: usize,
    /// Frames delivered, forged ones included.
    pub delivered: usize,
    /// Forged segments and ICMP errors delivered.
    pub forged: usize,
    /// Whether both ends reached ESTABLISHED.
    pub established: bool,
    /// Bytes each application read (client, server).
    pub read: [u64; 2],
    /// Whether the clean run at the end checked that everything written arrived.
    pub checked_delivery: bool,
}

/// What one end's application has done and seen.
#[derive(Default, Debug)]
struct App {
    written: u64,
    read: u64,
    shut: bool,
    /// The most of the stream its connection has sent (SND.NXT at its highest).
    sent: u64,
}

/// The byte at `offset` of what `side`'s application writes.
fn pattern(side: Side, offset: u64) -> u8 {
    let salt = if side == Side::Client { 0x9e37_79b9_7f4a_7c15 } else { 0xc2b2_ae3d_27d4_eb4f };
    (offset.wrapping_mul(salt).rotate_left(29) >> 56) as u8
}

/// The held frames, each with the host that sent it, and the last TSval each host sent.
#[derive(Default)]
struct Wire {
    held: VecDeque<(Side, Vec<u8>)>,
    tsval: [Option<u32>; 2],
}

/// The IP packet inside an Ethernet frame.
fn ip_of(frame: &[u8]) -> Option<&[u8]> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    let t = eth.ethertype();
    (t == ethernet::EtherType::Ipv4 || t == ethernet::EtherType::Ipv6).then(|| eth.payload())
}

/// The TSval of the TCP segment in `frame`, if it carries one.
fn tsval_of(frame: &[u8]) -> Option<u32> {
    let packet = ip_of(frame)?;
    let (src, dst, payload): (IpAddr, IpAddr, &[u8]) = match packet.first()? >> 4 {
        4 => {
            let ip = ipv4::Packet::new_checked(packet).ok()?;
            let r = ipv4::Repr::parse(&ip, &NO_VERIFY).ok()?;
            (r.protocol == Protocol::Tcp).then_some(())?;
            (r.src_addr.into(), r.dst_addr.into(), ip.payload())
        }
        6 => {
            let ip = ipv6::Packet::new_checked(packet).ok()?;
            let r = ipv6::Repr::parse(&ip).ok()?;
            (r.next_header == Protocol::Tcp).then_some(())?;
            (r.src_addr.into(), r.dst_addr.into(), ip.payload())
        }
        _ => return None,
    };
    let tcp = crate::wire::tcp::Packet::new_checked(payload).ok()?;
    Some(Repr::parse(&tcp, src, dst, &NO_VERIFY).ok()?.options.timestamp?.tsval)
}

/// The run: the pair, its wire, its applications, and what the adversary has done.
struct Run {
    pair: TcpPair,
    wire: Rc<RefCell<Wire>>,
    apps: [App; 2],
    isn: [SeqNumber; 2],
    /// A forged RST, FIN or SYN was delivered: the connection may rightly have ended.
    forged_control: bool,
    report: Report,
}

impl Run {
    fn new(family: Family) -> Self {
        let tcp = tcp::Config {
            send_buffer: SEND_BUFFER,
            recv_buffer: RECV_BUFFER,
            mss: 536,
            ..tcp::Config::default()
        };
        let config = PairConfig { family, ..PairConfig::default() }.with_tcp(tcp);
        let isn = [config.client_isn, config.server_isn];
        let mut pair = TcpPair::new(config);
        let wire = Rc::new(RefCell::new(Wire::default()));
        let held = Rc::clone(&wire);
        pair.net_mut().set_filter(move |side, frame| {
            let mut w = held.borrow_mut();
            if let Some(ts) = tsval_of(frame) {
                w.tsval[side.index()] = Some(ts);
            }
            if w.held.len() == MAX_HELD {
                w.held.pop_front();
            }
            w.held.push_back((side, frame.to_vec()));
            Verdict::Drop
        });
        let (apps, report) = ([App::default(), App::default()], Report::default());
        Self { pair, wire, apps, isn, forged_control: false, report }
    }

    /// Runs what is due now: frames the stacks answer go to the adversary's wire.
    fn step(&mut self) {
        self.run_for(Duration::ZERO);
    }

    /// Runs for `d`. Two stacks that answer each other forever at one instant (an ACK
    /// storm) break an invariant.
    fn run_for(&mut self, d: Duration) {
        if let Err(RunError::Livelock(at)) = self.pair.run_until(|_| false, d) {
            let show = |s: Side| {
                let c = self.pair.conn(s);
                format!(
                    "{s:?} {:?} una {} nxt {} {:?}",
                    c.state(),
                    c.snd_una().0,
                    c.snd_nxt().0,
                    c.info()
                )
            };
            panic!(
                "the stacks answer each other forever at {at}:\n{}\n{}",
                show(Side::Client),
                show(Side::Server)
            );
        }
    }

    fn deliver(&mut self, from: Side, frame: &[u8]) {
        self.pair.net_mut().inject(from.peer(), frame);
        self.report.delivered += 1;
        self.step();
        let established = |s| self.pair.conn(s).state() == State::Established;
        self.report.established |= established(Side::Client) && established(Side::Server);
    }

    fn take(&mut self, pick: u8) -> Option<(Side, Vec<u8>)> {
        let mut w = self.wire.borrow_mut();
        let n = w.held.len();
        (n > 0).then(|| w.held.remove(usize::from(pick) % n)).flatten()
    }

    /// The receiver's next expected sequence number, as far as its application knows
    /// (what it received in order).
    fn rcv_nxt(&self, receiver: Side) -> SeqNumber {
        let got = self.pair.conn(receiver).info().bytes_received;
        self.isn[receiver.peer().index()] + 1 + got as usize
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::DeliverAll => {
                let all: Vec<_> = self.wire.borrow_mut().held.drain(..).collect();
                for (from, frame) in all {
                    self.deliver(from, &frame);
                }
            }
            Action::Deliver(pick) => {
                if let Some((from, frame)) = self.take(pick) {
                    self.deliver(from, &frame);
                }
            }
            Action::Drop(pick) => {
                let _ = self.take(pick);
            }
            Action::Duplicate(pick) => {
                let copy = {
                    let w = self.wire.borrow();
                    let n = w.held.len();
                    (n > 0).then(|| w.held[usize::from(pick) % n].clone())
                };
                if let Some((from, frame)) = copy {
                    self.deliver(from, &frame);
                }
            }
            Action::Delay(pick) => {
                if let Some(held) = self.take(pick) {
                    self.wire.borrow_mut().held.push_back(held);
                }
            }
            Action::Corrupt { pick, at, xor } => {
                if let Some((from, mut frame)) = self.take(pick) {
                    let n = frame.len();
                    if n > 0 {
                        frame[usize::from(at) % n] ^= xor.max(1);
                    }
                    self.deliver(from, &frame);
                }
            }
            Action::Forge(forge) => self.forge(&forge),
            Action::Icmp(error) => self.icmp(&error),
            Action::Wait(ms) => self.run_for(Duration::from_millis(u64::from(ms))),
            Action::Jump(s) => {
                self.pair.net_mut().advance(Duration::from_secs(u64::from(s)));
                self.step();
            }
            Action::Write { client, len } => self.write(side_of(client), usize::from(len)),
            Action::Read { client, len } => self.read(side_of(client), usize::from(len)),
            Action::Shutdown { client } => {
                let side = side_of(client);
                if let Some(conn) = self.pair.socket_mut(side) {
                    conn.shutdown_write();
                    self.apps[side.index()].shut = true;
                    self.step();
                }
            }
        }
    }

    fn write(&mut self, side: Side, len: usize) {
        let app = &self.apps[side.index()];
        if app.shut {
            return;
        }
        let start = app.written;
        let data: Vec<u8> = (0..len as u64).map(|i| pattern(side, start + i)).collect();
        if let Some(conn) = self.pair.socket_mut(side)
            && let Ok(n) = conn.send(&data)
        {
            self.apps[side.index()].written += n as u64;
            self.step();
        }
    }

    fn read(&mut self, side: Side, len: usize) {
        let mut buf = vec![0; len.max(1)];
        let Some(conn) = self.pair.socket_mut(side) else { return };
        let Ok(n) = conn.recv(&mut buf) else { return };
        let from = side.peer();
        let sent = self.apps[from.index()].written;
        let app = &mut self.apps[side.index()];
        for (i, &b) in buf[..n].iter().enumerate() {
            let at = app.read + i as u64;
            assert_eq!(b, pattern(from, at), "{side:?} read a wrong byte at offset {at}");
        }
        app.read += n as u64;
        assert!(app.read <= sent, "{side:?} read {} bytes of the {sent} written", app.read);
        self.step();
    }

    fn forge(&mut self, f: &Forge) {
        let receiver = if f.to_client { Side::Client } else { Side::Server };
        let sender = receiver.peer();
        let conn = self.pair.conn(receiver);
        let (snd_una, snd_nxt) = (conn.snd_una(), conn.snd_nxt());
        let start = self.isn[sender.index()] + 1;
        let seq = match f.seq {
            Around::Next(d) => offset(self.rcv_nxt(receiver), d),
            Around::Start(d) => offset(start, d),
            Around::Any(n) => SeqNumber(n),
        };
        let ack = f.ack.as_ref().map(|a| match *a {
            Around::Next(d) => offset(snd_nxt, d),
            Around::Start(d) => offset(snd_una, d),
            Around::Any(n) => SeqNumber(n),
        });
        // An ACK of data sent but not received is a loss no TCP can undo: such an ACK is
        // moved back to what the impersonated end has received. Old ACKs, and ACKs of what
        // was never sent, stay as they are.
        let truth = self.rcv_nxt(sender);
        let ack = ack.map(|a| if a > truth && a <= snd_nxt { truth } else { a });
        // The payload: what the sender's application wrote at those offsets, cut where its
        // connection has sent no more (data from beyond it would be acknowledged past what
        // the sender sent, which it rightly ignores); or, wholly inside what the receiver
        // has read, other bytes.
        let first = i64::from(seq.wrapping_sub(start) as i32);
        let want = usize::from(f.len % 1500);
        let written = self.apps[sender.index()].sent as i64;
        let read = self.apps[receiver.index()].read as i64;
        let payload: Vec<u8> = if f.conflicting && first >= 0 && first + want as i64 <= read {
            (0..want as i64).map(|i| !pattern(sender, (first + i) as u64)).collect()
        } else if first >= 0 {
            let end = (first + want as i64).min(written);
            (first..end).map(|o| pattern(sender, o as u64)).collect()
        } else {
            Vec::new()
        };
        let extra = [Flags::PSH, Flags::URG, Flags::ECE, Flags::CWR];
        let control = [Flags::SYN, Flags::FIN, Flags::RST];
        let mut flags = Flags::EMPTY;
        for (i, &flag) in extra.iter().enumerate() {
            flags.set(flag, f.flags & (1 << i) != 0);
        }
        if f.control < 32 {
            for (i, &flag) in control.iter().enumerate() {
                flags.set(flag, f.control & (1 << i) != 0);
            }
        }
        let mut options = Options {
            mss: f.mss,
            window_scale: f.window_scale,
            sack_permitted: f.sack_permitted,
            ..Options::NONE
        };
        for &(from, len) in f.sack.iter().take(4) {
            let left = offset(snd_una, from);
            options.sack_blocks.push((left, left + usize::from(len)));
        }
        let tsval = self.wire.borrow().tsval;
        options.timestamp = match f.timestamp {
            Stamp::None => None,
            Stamp::Fresh(d) => tsval[sender.index()].map(|ts| Timestamp {
                tsval: ts.wrapping_add_signed(i32::from(d)),
                tsecr: tsval[receiver.index()].unwrap_or(0),
            }),
            Stamp::Old(back, tsecr) => {
                let last = tsval[sender.index()].unwrap_or(0);
                Some(Timestamp { tsval: last.wrapping_sub(back >> 1), tsecr })
            }
            Stamp::Any(tsval, tsecr) => {
                self.forged_control = true;
                Some(Timestamp { tsval, tsecr })
            }
        };
        let (c, s) = (self.pair.client_addr(), self.pair.server_addr());
        let (from, to) = if sender == Side::Client { (c, s) } else { (s, c) };
        let repr = Repr {
            src_port: from.port(),
            dst_port: to.port(),
            seq_number: seq,
            ack_number: ack,
            flags,
            window_len: f.window,
            urgent_pointer: f.urgent,
            options,
            payload: &payload,
        };
        if flags.intersects(Flags::RST | Flags::FIN | Flags::SYN) {
            self.forged_control = true;
        }
        // A segment the receiver takes whose sequence number lies beyond all the sender has
        // sent moves SND.WL1 past the real sender's numbers (RFC 9293 §3.10.7.4 fifth): its
        // window then stays as forged until the sender's numbers pass it, which a sender
        // with nothing more to send never does. Any TCP that follows the RFC is frozen so;
        // such a run no longer expects delivery.
        let sent_end = start + self.apps[sender.index()].sent as usize;
        if ack.is_some() && seq > sent_end {
            self.forged_control = true;
        }
        self.pair.send_raw(sender, &repr);
        // The forgery passed the wire's filter like a frame of the sender's: its TSval is
        // not the sender's clock, and must not become the base of the next `Fresh` one.
        self.wire.borrow_mut().tsval = tsval;
        // The forged frame is the newest held: it crosses now.
        let forged = self.wire.borrow_mut().held.pop_back();
        if let Some((from, frame)) = forged {
            self.report.forged += 1;
            self.deliver(from, &frame);
        }
    }

    fn icmp(&mut self, e: &IcmpError) {
        let Some((from, frame)) = self.take(e.pick) else { return };
        let Some(packet) = ip_of(&frame) else { return };
        let mut quoted = packet.to_vec();
        if let Some((at, xor)) = e.tamper {
            let at = 20 + usize::from(at);
            if let Some(b) = quoted.get_mut(at) {
                *b ^= xor.max(1);
            }
        }
        let (victim_mac, peer_mac) = match from {
            Side::Client => (CLIENT_MAC, SERVER_MAC),
            Side::Server => (SERVER_MAC, CLIENT_MAC),
        };
        let Some((ethertype, bytes)) = icmp_about(&quoted, e) else { return };
        let eth =
            ethernet::Repr { src_addr: peer_mac, dst_addr: victim_mac, ethertype, vlan: None };
        let mut out = vec![0; eth.buffer_len(bytes.len())];
        eth.emit(&mut ethernet::Frame::new_unchecked(&mut out[..]));
        out[eth.header_len()..].copy_from_slice(&bytes);
        // From the other host, to the one that sent the quoted datagram.
        self.report.forged += 1;
        self.deliver(from.peer(), &out);
    }

    /// The invariants that hold at every moment.
    fn check(&mut self) {
        for side in Side::BOTH {
            let conn = self.pair.conn(side);
            if conn.state() != State::Listen {
                let start = self.isn[side.index()] + 1;
                let sent =
                    u64::from(conn.snd_nxt().wrapping_sub(start)).min(u64::from(u32::MAX >> 1));
                let app = &mut self.apps[side.index()];
                app.sent = app.sent.max(sent.min(app.written));
            }
        }
        for side in Side::BOTH {
            let app = &self.apps[side.index()];
            let conn = self.pair.conn(side);
            if conn.state() == State::Listen {
                continue;
            }
            assert!(conn.recv_available() <= RECV_BUFFER, "{side:?} holds too much received");
            // The buffers' storage within their bounds, and the out-of-order list within a
            // few kilobytes (32 ranges of 24 bytes, in a list that grows by doubling).
            let held = conn.buffer_memory();
            let most = SEND_BUFFER + RECV_BUFFER + 4096;
            assert!(held <= most, "{side:?}'s buffers hold {held} bytes, past {most}");
            let acked = conn.info().bytes_acked;
            assert!(acked <= app.written, "{side:?} has {acked} bytes acked of {}", app.written);
            assert!(
                app.written - acked <= SEND_BUFFER as u64,
                "{side:?} queues {} bytes, more than its send buffer",
                app.written - acked
            );
            assert!(conn.snd_una() <= conn.snd_nxt(), "{side:?}: SND.UNA past SND.NXT");
            if !app.shut {
                let state = conn.state();
                assert!(
                    !matches!(
                        state,
                        State::FinWait1
                            | State::FinWait2
                            | State::Closing
                            | State::TimeWait
                            | State::LastAck
                    ),
                    "{side:?} is in {state:?} though its application never closed"
                );
            }
        }
    }

    /// The wire clears; both applications read everything for a while.
    fn finish(&mut self) {
        self.pair.net_mut().clear_filter();
        let held: Vec<_> = self.wire.borrow_mut().held.drain(..).collect();
        for (from, frame) in held {
            self.deliver(from, &frame);
        }
        // Up to five minutes, until everything written has been read or an end failed.
        for _ in 0..600 {
            self.run_for(Duration::from_millis(500));
            for side in Side::BOTH {
                self.read(side, 1 << 16);
            }
            self.check();
            let delivered = Side::BOTH
                .iter()
                .all(|&s| self.apps[s.index()].read == self.apps[s.peer().index()].written);
            let failed = Side::BOTH.iter().any(|&s| self.pair.conn(s).error().is_some());
            if delivered || failed {
                break;
            }
        }
        let failed = Side::BOTH.iter().any(|&s| {
            let conn = self.pair.conn(s);
            conn.error().is_some() || !conn.state().is_synchronized()
        });
        self.report.read = [self.apps[0].read, self.apps[1].read];
        let established = |s| self.pair.conn(s).state() == State::Established;
        self.report.established |= established(Side::Client) && established(Side::Server);
        if self.forged_control || failed {
            return;
        }
        self.report.checked_delivery = true;
        for side in Side::BOTH {
            let (got, sent) =
                (self.apps[side.index()].read, self.apps[side.peer().index()].written);
            assert_eq!(
                got, sent,
                "{side:?} read {got} bytes of the {sent} written, on a clean wire"
            );
        }
    }
}

const fn side_of(client: bool) -> Side {
    if client { Side::Client } else { Side::Server }
}

fn offset(base: SeqNumber, d: i16) -> SeqNumber {
    SeqNumber(base.0.wrapping_add_signed(i32::from(d)))
}

/// An ICMP error about `quoted` (an IP packet), from its destination to its source: the
/// ethertype and the IP packet.
fn icmp_about(quoted: &[u8], e: &IcmpError) -> Option<(ethernet::EtherType, Vec<u8>)> {
    match quoted.first()? >> 4 {
        4 => {
            let (header, _) = ipv4::Repr::parse_quoted(quoted).ok()?;
            let repr = match e.kind % 5 {
                0 => icmpv4::Repr::frag_required(e.mtu, quoted),
                1 => icmpv4::Repr::dst_unreachable(icmpv4::DstUnreachable::PortUnreachable, quoted),
                2 => icmpv4::Repr::dst_unreachable(icmpv4::DstUnreachable::HostUnreachable, quoted),
                3 => icmpv4::Repr::time_exceeded(icmpv4::TimeExceeded::TtlExpired, quoted),
                _ => {
                    icmpv4::Repr::dst_unreachable(icmpv4::DstUnreachable::ProtoUnreachable, quoted)
                }
            }
            .ok()?;
            let ip = ipv4::Repr {
                src_addr: header.dst_addr,
                dst_addr: header.src_addr,
                protocol: Protocol::Icmp,
                payload_len: repr.buffer_len(),
                ttl: 64,
                tos: 0,
                ident: 1,
                dont_frag: false,
                more_frags: false,
                frag_offset: 0,
            };
            let mut bytes = vec![0; ip.buffer_len()];
            let (h, body) = bytes.split_at_mut(ipv4::HEADER_LEN);
            ip.emit(&mut ipv4::Packet::new_unchecked(h), &Checksums::SOFTWARE);
            repr.emit(&mut icmpv4::Packet::new_unchecked(body), &Checksums::SOFTWARE);
            Some((ethernet::EtherType::Ipv4, bytes))
        }
        6 => {
            let (header, _) = ipv6::Repr::parse_quoted(quoted).ok()?;
            let (src, dst) = (header.dst_addr, header.src_addr);
            let repr = match e.kind % 5 {
                0 => icmpv6::Repr::packet_too_big(u32::from(e.mtu), quoted),
                1 => icmpv6::Repr::dst_unreachable(icmpv6::DstUnreachable::PortUnreachable, quoted),
                2 => icmpv6::Repr::dst_unreachable(icmpv6::DstUnreachable::AddrUnreachable, quoted),
                3 => icmpv6::Repr::time_exceeded(icmpv6::TimeExceeded::HopLimit, quoted),
                _ => icmpv6::Repr::param_problem(
                    ipv6::ext::ProblemCode::UnrecognizedNextHeader,
                    u32::from(e.mtu),
                    quoted,
                ),
            }
            .ok()?;
            let ip = ipv6::Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: Protocol::Icmpv6,
                payload_len: repr.buffer_len(),
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            let mut bytes = vec![0; ip.buffer_len()];
            let (h, body) = bytes.split_at_mut(ipv6::HEADER_LEN);
            ip.emit(&mut ipv6::Packet::new_unchecked(h));
            repr.emit(&mut icmpv6::Packet::new_unchecked(body), src, dst, &Checksums::SOFTWARE);
            Some((ethernet::EtherType::Ipv6, bytes))
        }
        _ => None,
    }
}

/// Runs the adversary on `data`: the first byte picks the family, the rest are the
/// actions. Panics when an invariant breaks; tells what the run did.
pub fn tcp_adversary(data: &[u8]) -> Report {
    let mut u = Unstructured::new(data);
    let first = u.arbitrary::<u8>().unwrap_or(0);
    let family = if first & 1 == 1 { Family::V6 } else { Family::V4 };
    let mut run = Run::new(family);
    run.step();
    // Three runs in four attack a connection already established; the fourth, its
    // handshake.
    if first & 6 != 0 {
        for _ in 0..8 {
            run.act(Action::DeliverAll);
        }
    }
    for _ in 0..MAX_ACTIONS {
        if u.is_empty() {
            break;
        }
        let Ok(action) = u.arbitrary::<Action>() else { break };
        run.act(action);
        run.report.actions += 1;
        run.check();
    }
    run.finish();
    run.report
}
