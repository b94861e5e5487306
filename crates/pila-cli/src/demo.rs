//! `pila demo`: two hosts, A and B, on an in-memory Ethernet wire.
//!
//! Until pila's host layer is in, each host here is a short script over `pila::wire` and a
//! `VirtualWire`: A resolves B with ARP, pings it, sends it a UDP datagram, and opens a TCP
//! connection to a port where nothing listens; B answers each as a host must (ARP reply,
//! echo reply, UDP echo, RST). Every frame either host receives is decoded from its bytes and
//! printed. The wire runs on a virtual clock, so the run is exact and repeatable by its seed;
//! with `--loss` the script retransmits what the wire loses.

use pila::device::{Device, FrameBatch, Impairments, VirtualWire, WireConfig};
use pila::time::{Duration, Instant, VirtualClock};
use pila::wire::ethernet::{self, EtherType};
use pila::wire::ip::Protocol;
use pila::wire::tcp::{self, SeqNumber};
use pila::wire::{Checksums, Ipv4Addr, arp, icmpv4, ipv4, udp};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

/// Options of `pila demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seed of the wire's impairments: the same seed replays the same run.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Share of frames the wire loses in each direction, in percent (0 up to 90).
    #[arg(long, value_name = "PCT", default_value = "0", value_parser = parse_loss)]
    loss: f64,
    /// Also write every frame host A sends and receives to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
}

fn parse_loss(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    match number.parse::<f64>() {
        Ok(pct) if (0.0..=90.0).contains(&pct) => Ok(pct / 100.0),
        _ => Err(format!("expected a percentage from 0 to 90, like 10 or 2.5, not {text:?}")),
    }
}

const MAC_A: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x0b]);
const IP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// How long A waits for an answer before sending its question again.
const RETRY_AFTER: Duration = Duration::from_millis(50);
const MAX_TRIES: u32 = 30;
const UDP_ECHO_PORT: u16 = 7;
const CLOSED_PORT: u16 = 80;

/// What A asks of B, one step at a time.
#[derive(Clone, Copy, Debug)]
enum Step {
    Arp,
    Ping(u16),
    Udp,
    TcpSyn,
}

/// Prints a line of the demo's story; a closed standard output (`pila demo | head`) ends the
/// demo quietly instead of with a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(crate::Failure::from)?
    };
}

pub(crate) fn run(args: &Args) -> Result<(), crate::Failure> {
    let loss = Impairments { loss: args.loss, seed: args.seed, ..Impairments::NONE };
    let config = WireConfig {
        a_to_b: Impairments { delay: Duration::from_micros(500), ..loss },
        b_to_a: Impairments { delay: Duration::from_micros(500), ..loss },
        ..WireConfig::default()
    };
    let (a_end, b_end) = VirtualWire::pair(config);
    let a_dev: Box<dyn Device> = match &args.pcap {
        Some(path) => Box::new(pila::device::Pcap::create(a_end, path).map_err(|e| {
            format!(
                "cannot create the capture {}: {e} — check the directory exists and is writable",
                path.display()
            )
        })?),
        None => Box::new(a_end),
    };
    let mut demo = Demo {
        clock: VirtualClock::new(),
        a: Host { name: "A", mac: MAC_A, ip: IP_A, device: a_dev },
        b: Host { name: "B", mac: MAC_B, ip: IP_B, device: Box::new(b_end) },
        b_mac_learned: None,
        isn: SeqNumber(0x5eed_0000 ^ (args.seed as u32)),
        frames: 0,
    };
    say!("pila demo: host A {IP_A} ({MAC_A}) and host B {IP_B} ({MAC_B}) on an in-memory wire");
    say!("           one-way delay 500µs, loss {}%, seed {}\n", args.loss * 100.0, args.seed);
    let steps = [Step::Arp, Step::Ping(1), Step::Ping(2), Step::Ping(3), Step::Udp, Step::TcpSyn];
    for step in steps {
        demo.exchange(step)?;
    }
    say!(
        "\nall {} steps answered; {} frames received in {} of virtual time",
        steps.len(),
        demo.frames,
        demo.clock.now()
    );
    Ok(())
}

struct Host {
    name: &'static str,
    mac: ethernet::Address,
    ip: Ipv4Addr,
    device: Box<dyn Device>,
}

struct Demo {
    clock: VirtualClock,
    a: Host,
    b: Host,
    b_mac_learned: Option<ethernet::Address>,
    isn: SeqNumber,
    frames: u64,
}

impl Demo {
    /// Sends A's question for `step` until B's answer arrives, retransmitting what is lost.
    fn exchange(&mut self, step: Step) -> Result<(), crate::Failure> {
        for _ in 0..MAX_TRIES {
            let question = self.question(step);
            transmit(&mut self.a, self.clock.now(), &question)?;
            let deadline = self.clock.now() + RETRY_AFTER;
            loop {
                let now = self.clock.now();
                for frame in receive(&mut self.b, now)? {
                    self.frames += 1;
                    say!("{:>10}  B got  {}", now.to_string(), describe(&frame));
                    if let Some(answer) = answer(&self.b, &frame) {
                        transmit(&mut self.b, now, &answer)?;
                    }
                }
                for frame in receive(&mut self.a, now)? {
                    self.frames += 1;
                    say!("{:>10}  A got  {}", now.to_string(), describe(&frame));
                    if self.is_answer(step, &frame) {
                        return Ok(());
                    }
                }
                let next = [self.a.device.poll_at(), self.b.device.poll_at()]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(deadline)
                    .min(deadline);
                if next >= deadline && self.clock.now() >= deadline {
                    say!(
                        "{:>10}  A      no answer to {step:?} yet; sending it again",
                        self.clock.now().to_string()
                    );
                    break;
                }
                self.clock.advance_to(next.max(now));
            }
        }
        Err(format!("host B never answered {step:?} in {MAX_TRIES} tries — lower --loss").into())
    }

    fn question(&self, step: Step) -> Vec<u8> {
        let dst_mac = self.b_mac_learned.unwrap_or(ethernet::Address::BROADCAST);
        match step {
            Step::Arp => arp_frame(
                MAC_A,
                ethernet::Address::BROADCAST,
                arp::Repr {
                    operation: arp::Operation::Request,
                    source_hardware_addr: MAC_A,
                    source_protocol_addr: IP_A,
                    target_hardware_addr: ethernet::Address([0; 6]),
                    target_protocol_addr: IP_B,
                },
            ),
            Step::Ping(seq_no) => {
                let data: Vec<u8> = (0..56u8).collect();
                let icmp = icmpv4::Repr::EchoRequest { ident: 0x0a0a, seq_no, data: &data };
                let mut payload = vec![0; icmp.buffer_len()];
                icmp.emit(
                    &mut icmpv4::Packet::new_unchecked(&mut payload[..]),
                    &Checksums::SOFTWARE,
                );
                ipv4_frame(MAC_A, dst_mac, IP_A, IP_B, Protocol::Icmp, &payload)
            }
            Step::Udp => {
                udp_datagram(MAC_A, dst_mac, (IP_A, 40000), (IP_B, UDP_ECHO_PORT), b"hello from A")
            }
            Step::TcpSyn => {
                let syn = tcp::Repr {
                    src_port: 40001,
                    dst_port: CLOSED_PORT,
                    seq_number: self.isn,
                    ack_number: None,
                    flags: tcp::Flags::SYN,
                    window_len: 64240,
                    urgent_pointer: 0,
                    options: tcp::Options {
                        mss: Some(1460),
                        window_scale: Some(7),
                        sack_permitted: true,
                        timestamp: Some(tcp::Timestamp { tsval: 1, tsecr: 0 }),
                        ..tcp::Options::default()
                    },
                    payload: &[],
                };
                let mut payload = vec![0; syn.buffer_len()];
                syn.emit(
                    &mut tcp::Packet::new_unchecked(&mut payload[..]),
                    IpAddr::V4(IP_A),
                    IpAddr::V4(IP_B),
                    &Checksums::SOFTWARE,
                )
                .expect("a SYN between two IPv4 hosts fits its buffer");
                ipv4_frame(MAC_A, dst_mac, IP_A, IP_B, Protocol::Tcp, &payload)
            }
        }
    }

    fn is_answer(&mut self, step: Step, frame: &[u8]) -> bool {
        match (step, parse(frame)) {
            (Step::Arp, Some(Parsed::Arp(reply)))
                if reply.operation == arp::Operation::Reply
                    && reply.source_protocol_addr == IP_B =>
            {
                self.b_mac_learned = Some(reply.source_hardware_addr);
                true
            }
            (Step::Ping(seq), Some(Parsed::Icmp(icmpv4::Repr::EchoReply { seq_no, .. }))) => {
                seq == seq_no
            }
            (Step::Udp, Some(Parsed::Udp { payload, .. })) => payload == b"hello from A",
            (Step::TcpSyn, Some(Parsed::Tcp { repr, .. })) => {
                repr.flags.contains(tcp::Flags::RST) && repr.ack_number == Some(self.isn + 1)
            }
            _ => false,
        }
    }
}

/// B's side: what a host owes each question it can answer.
fn answer(host: &Host, frame: &[u8]) -> Option<Vec<u8>> {
    match parse(frame)? {
        Parsed::Arp(request)
            if request.operation == arp::Operation::Request
                && request.target_protocol_addr == host.ip =>
        {
            Some(arp_frame(
                host.mac,
                request.source_hardware_addr,
                arp::Repr {
                    operation: arp::Operation::Reply,
                    source_hardware_addr: host.mac,
                    source_protocol_addr: host.ip,
                    target_hardware_addr: request.source_hardware_addr,
                    target_protocol_addr: request.source_protocol_addr,
                },
            ))
        }
        Parsed::Icmp(icmpv4::Repr::EchoRequest { ident, seq_no, data }) => {
            let reply = icmpv4::Repr::EchoReply { ident, seq_no, data };
            let mut payload = vec![0; reply.buffer_len()];
            reply.emit(&mut icmpv4::Packet::new_unchecked(&mut payload[..]), &Checksums::SOFTWARE);
            Some(ipv4_frame(host.mac, MAC_A, host.ip, IP_A, Protocol::Icmp, &payload))
        }
        Parsed::Udp { src, dst, payload } if dst.1 == UDP_ECHO_PORT => {
            Some(udp_datagram(host.mac, MAC_A, (host.ip, dst.1), src, payload))
        }
        Parsed::Tcp { src, dst, repr } if repr.flags.contains(tcp::Flags::SYN) => {
            // RFC 9293 §3.10.7.1: nothing listens, so the SYN gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
            let rst = tcp::Repr {
                src_port: dst.1,
                dst_port: src.1,
                seq_number: SeqNumber(0),
                ack_number: Some(repr.seq_number + repr.segment_len()),
                flags: tcp::Flags::RST,
                window_len: 0,
                urgent_pointer: 0,
                options: tcp::Options::default(),
                payload: &[],
            };
            let mut payload = vec![0; rst.buffer_len()];
            rst.emit(
                &mut tcp::Packet::new_unchecked(&mut payload[..]),
                IpAddr::V4(host.ip),
                IpAddr::V4(src.0),
                &Checksums::SOFTWARE,
            )
            .ok()?;
            Some(ipv4_frame(host.mac, MAC_A, host.ip, src.0, Protocol::Tcp, &payload))
        }
        _ => None,
    }
}

fn transmit(host: &mut Host, now: Instant, frame: &[u8]) -> Result<(), String> {
    let mut batch = FrameBatch::new(1);
    batch.push(frame);
    host.device
        .transmit(now, &batch)
        .map_err(|e| format!("host {} cannot send: {e}", host.name))?;
    Ok(())
}

fn receive(host: &mut Host, now: Instant) -> Result<Vec<Vec<u8>>, String> {
    let mut batch = FrameBatch::new(64);
    host.device
        .receive(now, &mut batch)
        .map_err(|e| format!("host {} cannot receive: {e}", host.name))?;
    Ok(batch.iter().map(<[u8]>::to_vec).collect())
}

fn arp_frame(src: ethernet::Address, dst: ethernet::Address, repr: arp::Repr) -> Vec<u8> {
    let eth =
        ethernet::Repr { src_addr: src, dst_addr: dst, ethertype: EtherType::Arp, vlan: None };
    let mut frame = vec![0; eth.buffer_len(repr.buffer_len())];
    let mut view = ethernet::Frame::new_unchecked(&mut frame[..]);
    eth.emit(&mut view);
    repr.emit(&mut arp::Packet::new_unchecked(view.payload_mut()));
    frame
}

fn ipv4_frame(
    src_mac: ethernet::Address,
    dst_mac: ethernet::Address,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: Protocol,
    payload: &[u8],
) -> Vec<u8> {
    let eth = ethernet::Repr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        ethertype: EtherType::Ipv4,
        vlan: None,
    };
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        tos: 0,
        ident: 0,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut frame = vec![0; eth.buffer_len(ip.buffer_len())];
    let mut view = ethernet::Frame::new_unchecked(&mut frame[..]);
    eth.emit(&mut view);
    let mut packet = ipv4::Packet::new_unchecked(view.payload_mut());
    ip.emit(&mut packet, &Checksums::SOFTWARE);
    packet.payload_mut()[..payload.len()].copy_from_slice(payload);
    frame
}

fn udp_datagram(
    src_mac: ethernet::Address,
    dst_mac: ethernet::Address,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    data: &[u8],
) -> Vec<u8> {
    let repr = udp::Repr { src_port: src.1, dst_port: dst.1 };
    let mut payload = vec![0; repr.buffer_len(data.len())];
    repr.emit(
        &mut udp::Packet::new_unchecked(&mut payload[..]),
        IpAddr::V4(src.0),
        IpAddr::V4(dst.0),
        data.len(),
        |buf| buf.copy_from_slice(data),
        &Checksums::SOFTWARE,
    )
    .expect("a short datagram between two IPv4 hosts fits its buffer");
    ipv4_frame(src_mac, dst_mac, src.0, dst.0, Protocol::Udp, &payload)
}

/// A received frame, decoded as far as the demo cares.
enum Parsed<'a> {
    Arp(arp::Repr),
    Icmp(icmpv4::Repr<'a>),
    Udp { src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: &'a [u8] },
    Tcp { src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), repr: tcp::Repr<'a> },
    Other(String),
}

fn parse(frame: &[u8]) -> Option<Parsed<'_>> {
    let checks = Checksums::SOFTWARE;
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    let eth_repr = ethernet::Repr::parse(&eth).ok()?;
    let payload = &frame[eth_repr.header_len()..];
    match eth_repr.ethertype {
        EtherType::Arp => {
            Some(Parsed::Arp(arp::Repr::parse(&arp::Packet::new_checked(payload).ok()?).ok()?))
        }
        EtherType::Ipv4 => {
            let packet = ipv4::Packet::new_checked(payload).ok()?;
            let ip = ipv4::Repr::parse(&packet, &checks).ok()?;
            let body = &payload[packet.header_len()..packet.header_len() + ip.payload_len];
            let (src, dst) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
            match ip.protocol {
                Protocol::Icmp => {
                    let packet = icmpv4::Packet::new_checked(body).ok()?;
                    Some(Parsed::Icmp(icmpv4::Repr::parse(&packet, &checks).ok()?))
                }
                Protocol::Udp => {
                    let packet = udp::Packet::new_checked(body).ok()?;
                    let repr = udp::Repr::parse(&packet, src, dst, &checks).ok()?;
                    let len = usize::from(packet.len());
                    Some(Parsed::Udp {
                        src: (ip.src_addr, repr.src_port),
                        dst: (ip.dst_addr, repr.dst_port),
                        payload: &body[udp::HEADER_LEN..len],
                    })
                }
                Protocol::Tcp => {
                    let packet = tcp::Packet::new_checked(body).ok()?;
                    let repr = tcp::Repr::parse(&packet, src, dst, &checks).ok()?;
                    Some(Parsed::Tcp {
                        src: (ip.src_addr, repr.src_port),
                        dst: (ip.dst_addr, repr.dst_port),
                        repr,
                    })
                }
                other => {
                    Some(Parsed::Other(format!("IPv4 {} > {} {other}", ip.src_addr, ip.dst_addr)))
                }
            }
        }
        other => Some(Parsed::Other(format!("ethertype {other}"))),
    }
}

/// One line, in the manner of tcpdump, for any frame.
fn describe(frame: &[u8]) -> String {
    match parse(frame) {
        None => format!("{} bytes pila cannot decode (dropped)", frame.len()),
        Some(Parsed::Arp(arp)) => match arp.operation {
            arp::Operation::Request => format!(
                "ARP who-has {} tell {}",
                arp.target_protocol_addr, arp.source_protocol_addr
            ),
            arp::Operation::Reply => {
                format!("ARP reply {} is-at {}", arp.source_protocol_addr, arp.source_hardware_addr)
            }
            _ => "ARP (unknown operation)".into(),
        },
        Some(Parsed::Icmp(icmp)) => match icmp {
            icmpv4::Repr::EchoRequest { ident, seq_no, data } => {
                format!("ICMP echo request id {ident:#06x} seq {seq_no}, {} bytes", data.len())
            }
            icmpv4::Repr::EchoReply { ident, seq_no, data } => {
                format!("ICMP echo reply   id {ident:#06x} seq {seq_no}, {} bytes", data.len())
            }
            other => format!("ICMP {other:?}"),
        },
        Some(Parsed::Udp { src, dst, payload }) => {
            format!(
                "UDP {}:{} > {}:{} {:?}",
                src.0,
                src.1,
                dst.0,
                dst.1,
                String::from_utf8_lossy(payload)
            )
        }
        Some(Parsed::Tcp { src, dst, repr }) => {
            let mut line = format!(
                "TCP {}:{} > {}:{} {} seq {}",
                src.0,
                src.1,
                dst.0,
                dst.1,
                flags(&repr),
                repr.seq_number
            );
            if let Some(ack) = repr.ack_number {
                let _ = write!(line, " ack {ack}");
            }
            let _ = write!(line, " win {}", repr.window_len);
            let opts = &repr.options;
            let mut parts = Vec::new();
            if let Some(mss) = opts.mss {
                parts.push(format!("mss {mss}"));
            }
            if opts.sack_permitted {
                parts.push("sackOK".into());
            }
            if let Some(ts) = opts.timestamp {
                parts.push(format!("TS val {} ecr {}", ts.tsval, ts.tsecr));
            }
            if let Some(ws) = opts.window_scale {
                parts.push(format!("wscale {ws}"));
            }
            if !parts.is_empty() {
                let _ = write!(line, " <{}>", parts.join(","));
            }
            if !repr.payload.is_empty() {
                let _ = write!(line, " length {}", repr.payload.len());
            }
            line
        }
        Some(Parsed::Other(text)) => text,
    }
}

fn flags(repr: &tcp::Repr<'_>) -> String {
    let mut s = String::from("[");
    for (flag, c) in [
        (tcp::Flags::SYN, 'S'),
        (tcp::Flags::FIN, 'F'),
        (tcp::Flags::RST, 'R'),
        (tcp::Flags::PSH, 'P'),
    ] {
        if repr.flags.contains(flag) {
            s.push(c);
        }
    }
    if repr.ack_number.is_some() {
        s.push('.');
    }
    s.push(']');
    s
}
