//! One connection as the plots see it, read from a trace (`--trace` JSON lines) or from a
//! pcap file: the data one side sent, the ACKs the other returned, and — from a trace —
//! the sender's own RTT estimator and congestion window.

use pila::wire::tcp::{Packet, Repr};
use pila::wire::{Checksum, Checksums, ethernet, ipv4, ipv6};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// A data segment, its sequence range relative to the first byte of the stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DataSeg {
    pub(crate) t: f64,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) retransmit: bool,
}

/// An ACK for that data: the cumulative point, the window's right edge, SACKed ranges.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ack {
    pub(crate) t: f64,
    pub(crate) ack: u64,
    pub(crate) right_edge: u64,
    pub(crate) sack: Vec<(u64, u64)>,
}

/// An RTT sample, with the estimator's state after it when the trace has it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RttPoint {
    pub(crate) t: f64,
    pub(crate) sample: f64,
    pub(crate) srtt: Option<f64>,
    pub(crate) rto: Option<f64>,
}

/// The congestion window, the threshold (before the first loss, none) and what was in
/// flight; a pcap shows only the last.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CcPoint {
    pub(crate) t: f64,
    pub(crate) cwnd: Option<f64>,
    pub(crate) ssthresh: Option<f64>,
    pub(crate) in_flight: f64,
}

/// One connection's data direction.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Flow {
    /// `SENDER-RECEIVER` of the data plotted.
    pub(crate) name: String,
    pub(crate) data: Vec<DataSeg>,
    pub(crate) acks: Vec<Ack>,
    pub(crate) rtt: Vec<RttPoint>,
    pub(crate) cc: Vec<CcPoint>,
    /// Read from a trace (so `cc` holds the sender's own window).
    pub(crate) traced: bool,
    /// When the connection's first segment was seen (seconds on the trace's or capture's
    /// clock): every other time is counted from it.
    pub(crate) start: f64,
}

impl Flow {
    /// Payload bytes the data segments carry, retransmissions included.
    pub(crate) fn bytes(&self) -> u64 {
        self.data.iter().map(|d| d.end - d.start).sum()
    }

    /// The time of the last thing recorded.
    pub(crate) fn duration(&self) -> f64 {
        let last = |t: Option<f64>| t.unwrap_or(0.0);
        last(self.data.last().map(|d| d.t))
            .max(last(self.acks.last().map(|a| a.t)))
            .max(last(self.rtt.last().map(|r| r.t)))
            .max(last(self.cc.last().map(|c| c.t)))
    }
}

/// 32-bit sequence numbers to 64-bit offsets from the stream's first byte.
#[derive(Clone, Copy, Debug)]
struct Unwrap {
    base: u32,
    last: u64,
}

impl Unwrap {
    const fn new(base: u32) -> Self {
        Self { base, last: 0 }
    }

    /// `seq` as an offset, taken as the nearest to the last one seen.
    fn at(&mut self, seq: u32) -> u64 {
        let last32 = (self.last as u32).wrapping_add(self.base);
        let delta = seq.wrapping_sub(last32) as i32;
        let at = self.last.saturating_add_signed(i64::from(delta));
        self.last = self.last.max(at);
        at
    }
}

/// One segment of either direction, whatever it was read from.
#[derive(Clone, Debug)]
struct Seen {
    t: f64,
    /// Sent by the connection's first named side.
    forward: bool,
    seq: u32,
    ack: Option<u32>,
    len: u32,
    /// Window in bytes, scaled.
    window: u64,
    syn: bool,
    sack: Vec<(u32, u32)>,
    /// A trace's retransmission mark; a pcap's are worked out.
    retransmit: Option<bool>,
}

/// What one connection's records or packets gave, before the data direction is chosen.
#[derive(Debug, Default)]
struct Conn {
    segments: Vec<Seen>,
    rtt: Vec<RttPoint>,
    cc: Vec<CcPoint>,
    /// A trace's records are from its first named side.
    traced: bool,
}

/// The connections in a trace's JSON lines, by name (`LOCAL-REMOTE`), in order of first
/// appearance.
pub(crate) fn from_trace(text: &str) -> Result<Vec<Flow>, String> {
    let mut conns: Vec<(String, Conn)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("line {} is not a trace record ({e})", n + 1))?;
        let Some(name) = v["conn"].as_str() else { continue };
        let i = *index.entry(name.to_owned()).or_insert_with(|| {
            conns.push((name.to_owned(), Conn { traced: true, ..Conn::default() }));
            conns.len() - 1
        });
        let conn = &mut conns[i].1;
        let num = |k: &str| v[k].as_f64();
        let Some(t) = num("t") else { continue };
        match v["ev"].as_str() {
            Some(ev @ ("sent" | "recv")) => {
                let u32_of = |k: &str| v[k].as_u64().map(|x| x as u32);
                let flags = v["flags"].as_str().unwrap_or("");
                let sack = v["sack"]
                    .as_array()
                    .map(|blocks| {
                        blocks
                            .iter()
                            .filter_map(|b| Some((b[0].as_u64()? as u32, b[1].as_u64()? as u32)))
                            .collect()
                    })
                    .unwrap_or_default();
                conn.segments.push(Seen {
                    t,
                    forward: ev == "sent",
                    seq: u32_of("seq").unwrap_or(0),
                    ack: u32_of("ack"),
                    len: u32_of("len").unwrap_or(0),
                    window: v["win"].as_u64().unwrap_or(0),
                    syn: flags.contains('S'),
                    sack,
                    retransmit: Some(v.get("rtx").is_some()),
                });
            }
            Some("rtt") => conn.rtt.push(RttPoint {
                t,
                sample: num("sample").unwrap_or(0.0),
                srtt: num("srtt"),
                rto: num("rto"),
            }),
            Some("cc") => conn.cc.push(CcPoint {
                t,
                cwnd: num("cwnd"),
                ssthresh: num("ssthresh"),
                in_flight: num("inflight").unwrap_or(0.0),
            }),
            _ => {}
        }
    }
    if conns.is_empty() {
        return Err("no connection in the trace — was it written by --trace?".into());
    }
    Ok(conns.into_iter().map(|(name, conn)| flow(&name, conn)).collect())
}

/// The TCP connections in a pcap file (Ethernet or raw IP), in order of first packet.
pub(crate) fn from_pcap(bytes: &[u8]) -> Result<Vec<Flow>, String> {
    let mut reader = pcap_file::pcap::PcapReader::new(bytes)
        .map_err(|e| format!("not a pcap file ({e}) — give a pcap or a --trace file"))?;
    let linktype = reader.header().datalink;
    let mut conns: Vec<((SocketAddr, SocketAddr), Conn)> = Vec::new();
    let mut index: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut first: Option<f64> = None;
    // Window scale each side offered in its SYN (RFC 7323: both must, for either to count).
    let mut scales: HashMap<SocketAddr, u8> = HashMap::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(|e| format!("the pcap file is cut short ({e})"))?;
        let ts = packet.timestamp.as_secs_f64();
        let t = ts - *first.get_or_insert(ts);
        let ip = match linktype {
            pcap_file::DataLink::ETHERNET => {
                let Ok(frame) = ethernet::Frame::new_checked(&packet.data[..]) else { continue };
                frame.payload()
            }
            _ => &packet.data[..],
        };
        let Some((src, dst, tcp)) = ip_tcp(ip) else { continue };
        let none = Checksums { tcp: Checksum::None, ..Checksums::SOFTWARE };
        let Ok(p) = Packet::new_checked(tcp) else { continue };
        let Ok(seg) = Repr::parse(&p, src, dst, &none) else { continue };
        let from = SocketAddr::new(src, seg.src_port);
        let to = SocketAddr::new(dst, seg.dst_port);
        let syn = seg.flags.contains(pila::wire::tcp::Flags::SYN);
        if syn {
            scales.insert(from, seg.options.window_scale.unwrap_or(0));
        }
        let (key, forward) = match index.get(&(to, from)) {
            Some(_) => ((to, from), false),
            None => ((from, to), true),
        };
        let i = *index.entry(key).or_insert_with(|| {
            conns.push((key, Conn::default()));
            conns.len() - 1
        });
        let both_scale = scales.contains_key(&from) && scales.contains_key(&to);
        let shift = if syn || !both_scale { 0 } else { scales.get(&from).copied().unwrap_or(0) };
        conns[i].1.segments.push(Seen {
            t,
            forward,
            seq: seg.seq_number.0,
            ack: seg.ack_number.map(|a| a.0),
            len: seg.payload.len() as u32,
            window: u64::from(seg.window_len) << shift,
            syn,
            sack: seg.options.sack_blocks.iter().map(|(l, r)| (l.0, r.0)).collect(),
            retransmit: None,
        });
    }
    if conns.is_empty() {
        return Err("no TCP segment in the pcap file".into());
    }
    Ok(conns.into_iter().map(|((a, b), conn)| flow(&format!("{a}-{b}"), conn)).collect())
}

/// The source, destination and TCP bytes of an IPv4 or IPv6 packet carrying TCP (no
/// extension headers, no fragments).
fn ip_tcp(ip: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    match ip.first()? >> 4 {
        4 => {
            let p = ipv4::Packet::new_checked(ip).ok()?;
            let tcp = p.protocol() == pila::wire::ip::Protocol::Tcp;
            tcp.then(|| (p.src_addr().into(), p.dst_addr().into(), p.payload()))
        }
        6 => {
            let p = ipv6::Packet::new_checked(ip).ok()?;
            let tcp = p.next_header() == pila::wire::ip::Protocol::Tcp;
            tcp.then(|| (p.src_addr().into(), p.dst_addr().into(), p.payload()))
        }
        _ => None,
    }
}

/// The data direction of `conn` (the side that sent more payload) with the other's ACKs.
fn flow(name: &str, conn: Conn) -> Flow {
    let bytes = |forward: bool| -> u64 {
        conn.segments.iter().filter(|s| s.forward == forward).map(|s| u64::from(s.len)).sum()
    };
    let forward = bytes(true) >= bytes(false);
    let name = if forward {
        name.to_owned()
    } else {
        let (a, b) = name.split_once('-').unwrap_or((name, ""));
        format!("{b}-{a}")
    };
    // The stream starts after the sender's SYN, or at its first segment.
    let data_dir = conn.segments.iter().filter(|s| s.forward == forward);
    let base = data_dir
        .clone()
        .find(|s| s.syn)
        .map(|s| s.seq.wrapping_add(1))
        .or_else(|| data_dir.clone().next().map(|s| s.seq))
        .unwrap_or(0);
    let mut seq = Unwrap::new(base);
    let mut ack = Unwrap::new(base);
    let start = conn.segments.iter().map(|s| s.t).fold(f64::INFINITY, f64::min);
    let start = if start.is_finite() { start } else { 0.0 };
    let mut flow = Flow { name, traced: conn.traced, start, ..Flow::default() };
    let mut high = 0;
    // Data not yet acknowledged, for a pcap's RTT samples: (end, sent at, sent again).
    let mut pending: Vec<(u64, f64, bool)> = Vec::new();
    let mut acked = 0;
    for s in &conn.segments {
        if s.forward == forward {
            if s.len == 0 {
                continue;
            }
            let start = seq.at(s.seq);
            let end = start + u64::from(s.len);
            let retransmit = s.retransmit.unwrap_or(start < high);
            flow.data.push(DataSeg { t: s.t, start, end, retransmit });
            if retransmit {
                pending.iter_mut().filter(|p| p.0 > start).for_each(|p| p.2 = true);
            } else {
                pending.push((end, s.t, false));
            }
            high = high.max(end);
            if !conn.traced {
                let in_flight = high.saturating_sub(acked) as f64;
                flow.cc.push(CcPoint { t: s.t, cwnd: None, ssthresh: None, in_flight });
            }
        } else if let Some(a) = s.ack {
            if s.syn {
                continue;
            }
            let at = ack.at(a);
            let sack = s.sack.iter().map(|&(l, r)| (ack.at(l), ack.at(r))).collect();
            flow.acks.push(Ack { t: s.t, ack: at, right_edge: at + s.window, sack });
            if !conn.traced && at > acked {
                // Karn's rule: only data sent once gives a sample.
                let covered = pending.iter().take_while(|p| p.0 <= at).count();
                if let Some(&(_, sent, false)) = pending[..covered].last() {
                    let sample = s.t - sent;
                    flow.rtt.push(RttPoint { t: s.t, sample, srtt: None, rto: None });
                }
                pending.drain(..covered);
            }
            acked = acked.max(at);
        }
    }
    if conn.traced {
        flow.rtt = conn.rtt;
        flow.cc = conn.cc;
    }
    // Times from the connection's first segment.
    flow.data.iter_mut().for_each(|d| d.t -= start);
    flow.acks.iter_mut().for_each(|a| a.t -= start);
    flow.rtt.iter_mut().for_each(|r| r.t -= start);
    flow.cc.iter_mut().for_each(|c| c.t -= start);
    flow
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_unwrap_across_the_32_bit_edge() {
        let mut u = Unwrap::new(u32::MAX - 9);
        assert_eq!(u.at(u32::MAX - 9), 0);
        assert_eq!(u.at(5), 15);
        assert_eq!(u.at(u32::MAX), 9, "an older number stays below");
        assert_eq!(u.at(100_005), 100_015);
    }

    #[test]
    fn a_receivers_trace_plots_the_data_it_received() {
        let lines = [
            r#"{"t":0.0,"conn":"10.0.0.1:1-10.0.0.2:2","ev":"sent","seq":99,"len":0,"win":100,"flags":"S"}"#,
            r#"{"t":0.1,"conn":"10.0.0.1:1-10.0.0.2:2","ev":"recv","seq":999,"ack":100,"len":0,"win":100,"flags":"S."}"#,
            r#"{"t":0.2,"conn":"10.0.0.1:1-10.0.0.2:2","ev":"recv","seq":1000,"ack":100,"len":10,"win":100,"flags":"."}"#,
            r#"{"t":0.3,"conn":"10.0.0.1:1-10.0.0.2:2","ev":"sent","seq":100,"ack":1010,"len":0,"win":90,"flags":".","sack":[[1020,1030]]}"#,
        ];
        let flows = from_trace(&lines.join("\n")).unwrap();
        let f = &flows[0];
        assert_eq!(f.name, "10.0.0.2:2-10.0.0.1:1");
        assert_eq!(f.data, [DataSeg { t: 0.2, start: 0, end: 10, retransmit: false }]);
        assert_eq!(f.acks, [Ack { t: 0.3, ack: 10, right_edge: 100, sack: vec![(20, 30)] }]);
    }
}
