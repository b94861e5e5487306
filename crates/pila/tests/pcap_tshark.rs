//! Pcap capture: hand-made frames go both ways through a `Pcap` around a VirtualWire
//! endpoint, and tshark must decode them; plus the flush policy and write failures.
//!
//! The frames below were composed by hand; their IPv4 header and UDP checksums were checked
//! with an independent one's complement sum in Python (every header sums to 0xffff).
#![cfg(feature = "pcap")]

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pila::device::{Device, FrameBatch, Medium, Pcap, VirtualWire, WireConfig};
use pila::time::{Duration, Instant};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// ARP request, 02:00:00:00:00:01 (192.0.2.1) asks who has 192.0.2.2.
const ARP_REQUEST: &str = "ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 c0000201 000000000000 c0000202";
/// ARP reply, 02:00:00:00:00:02 says it has 192.0.2.2.
const ARP_REPLY: &str = "020000000001 020000000002 0806 0001 0800 06 04 0002 020000000002 c0000202 020000000001 c0000201";
/// IPv4/UDP 192.0.2.1:40000 -> 192.0.2.2:7, payload "pila" (IP checksum a495, UDP 02c0).
const UDP_A_TO_B: &str = "45000020123440004011a495c0000201c00002029c400007000c02c070696c61";
/// IPv4/UDP 192.0.2.2:7 -> 192.0.2.1:40000, payload "pila" (IP checksum 73a8, UDP 02c0).
const UDP_B_TO_A: &str = "4500002043214000401173a8c0000202c000020100079c40000c02c070696c61";
const MAC_A: &str = "020000000001";
const MAC_B: &str = "020000000002";

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn ethernet(dst: &str, src: &str, ip: &str) -> Vec<u8> {
    hex(&format!("{dst}{src}0800{ip}"))
}

fn batch(frame: &[u8]) -> FrameBatch {
    let mut batch = FrameBatch::new(4);
    assert!(batch.push(frame));
    batch
}

fn receive_one(device: &mut impl Device, now: Instant) -> Vec<u8> {
    let mut batch = FrameBatch::new(4);
    assert_eq!(device.receive(now, &mut batch).unwrap(), 1);
    batch.get(0).unwrap().to_vec()
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pila-{name}-{}.pcap", std::process::id()))
}

/// Runs tshark on `path` with the given extra arguments; `None` (after saying why) when
/// tshark is missing and the environment allows skipping.
fn tshark(path: &PathBuf, args: &[&str]) -> Option<Vec<Vec<String>>> {
    let output = match Command::new("tshark").arg("-r").arg(path).args(args).output() {
        Ok(output) => output,
        Err(e) => {
            let required = std::env::var_os("CI").is_some()
                || std::env::var("PILA_REQUIRE_NETNS").is_ok_and(|v| v == "1");
            assert!(!required, "tshark is required here (CI or PILA_REQUIRE_NETNS=1) but: {e}");
            println!("skipped: tshark not found ({e})");
            return None;
        }
    };
    // tshark warns on stderr when run as root; only the exit status and stdout matter.
    assert!(output.status.success(), "tshark failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    Some(stdout.lines().map(|line| line.split('\t').map(str::to_owned).collect()).collect())
}

const FIELDS: [&str; 24] = [
    "-T",
    "fields",
    "-E",
    "separator=/t",
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-e",
    "frame.time_epoch",
    "-e",
    "eth.src",
    "-e",
    "eth.dst",
    "-e",
    "arp.opcode",
    "-e",
    "ip.src",
    "-e",
    "ip.dst",
    "-e",
    "udp.dstport",
    "-e",
    "udp.checksum.status",
];

#[test]
fn tshark_decodes_an_ethernet_capture_in_both_directions() {
    let config = WireConfig::default();
    let (a, mut b) = VirtualWire::pair(config);
    let path = temp_path("ethernet");
    let mut a = Pcap::create(a, &path)
        .unwrap()
        .with_time_offset(std::time::Duration::from_secs(1_700_000_000));
    let t = |ms| Instant::from_millis(ms);

    assert_eq!(a.transmit(t(1_000), &batch(&hex(ARP_REQUEST))).unwrap(), 1);
    assert_eq!(receive_one(&mut b, t(1_000)), hex(ARP_REQUEST));
    b.transmit(t(1_001), &batch(&hex(ARP_REPLY))).unwrap();
    assert_eq!(receive_one(&mut a, t(1_002)), hex(ARP_REPLY));
    a.transmit(t(1_003), &batch(&ethernet(MAC_B, MAC_A, UDP_A_TO_B))).unwrap();
    receive_one(&mut b, t(1_003));
    b.transmit(t(1_004), &batch(&ethernet(MAC_A, MAC_B, UDP_B_TO_A))).unwrap();
    assert_eq!(a.poll_at(), Some(t(1_004)));
    receive_one(&mut a, t(1_005));
    a.flush().unwrap();
    drop(a);

    let rows = tshark(&path, &FIELDS);
    std::fs::remove_file(&path).unwrap();
    let Some(rows) = rows else { return };
    let (a, b, bcast) = ("02:00:00:00:00:01", "02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff");
    // Checksum status 1 is "good" (Wireshark's PROTO_CHECKSUM_E_GOOD; 0 is bad, 2 unverified).
    let expected = [
        ["1700000001.000000000", a, bcast, "1", "", "", "", ""],
        ["1700000001.002000000", b, a, "2", "", "", "", ""],
        ["1700000001.003000000", a, b, "", "192.0.2.1", "192.0.2.2", "7", "1"],
        ["1700000001.005000000", b, a, "", "192.0.2.2", "192.0.2.1", "40000", "1"],
    ];
    assert_eq!(rows, expected.map(|row| row.map(str::to_owned)));
}

#[test]
fn tshark_decodes_a_raw_ip_capture() {
    let config = WireConfig::default().with_medium(Medium::Ip, 1500);
    let (a, mut b) = VirtualWire::pair(config);
    let path = temp_path("raw-ip");
    let mut a = Pcap::create(a, &path).unwrap();
    a.transmit(Instant::from_micros(1_500), &batch(&hex(UDP_A_TO_B))).unwrap();
    receive_one(&mut b, Instant::from_micros(1_500));
    b.transmit(Instant::from_micros(2_250), &batch(&hex(UDP_B_TO_A))).unwrap();
    receive_one(&mut a, Instant::from_micros(2_250));
    drop(a);

    let rows = tshark(&path, &FIELDS);
    std::fs::remove_file(&path).unwrap();
    let Some(rows) = rows else { return };
    let expected = [
        ["0.001500000", "", "", "", "192.0.2.1", "192.0.2.2", "7", "1"],
        ["0.002250000", "", "", "", "192.0.2.2", "192.0.2.1", "40000", "1"],
    ];
    assert_eq!(rows, expected.map(|row| row.map(str::to_owned)));
}

/// A writer whose bytes the test can read while the capture still owns it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn frames_are_in_the_file_after_flush_and_after_drop() {
    let imp = "delay=2ms".parse().unwrap();
    let (a, mut b) = VirtualWire::pair(WireConfig::default().with_impairments(imp));
    let out = Shared::default();
    let mut a = Pcap::new(a, out.clone()).unwrap();
    let request = hex(ARP_REQUEST);
    a.transmit(Instant::from_millis(10), &batch(&request)).unwrap();
    assert!(out.bytes().is_empty(), "nothing is written before a flush");
    a.flush().unwrap();
    assert_eq!(out.bytes().len(), 24 + 16 + request.len());

    b.transmit(Instant::from_millis(11), &batch(&hex(ARP_REPLY))).unwrap();
    assert_eq!(a.poll_at(), Some(Instant::from_millis(13)));
    assert_eq!(a.inner().poll_at(), Some(Instant::from_millis(13)));
    let mut empty = FrameBatch::new(4);
    assert_eq!(a.receive(Instant::from_millis(12), &mut empty).unwrap(), 0);
    // A frame already in the batch is not captured again.
    let mut batch = FrameBatch::new(4);
    assert!(batch.push(b"already here"));
    assert_eq!(a.receive(Instant::from_millis(13), &mut batch).unwrap(), 1);
    let endpoint = a.into_inner();
    assert_eq!(endpoint.stats().sent, 1);

    let bytes = out.bytes();
    let mut reader = PcapReader::new(bytes.as_slice()).unwrap();
    assert_eq!(reader.header().datalink, DataLink::ETHERNET);
    assert!(reader.header().snaplen >= 1518);
    let mut packets = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        packets.push((Duration::from_std(packet.timestamp), packet.data.into_owned()));
    }
    assert_eq!(
        packets,
        [(Duration::from_millis(10), request), (Duration::from_millis(13), hex(ARP_REPLY)),]
    );
}

/// A writer that takes the file header and fails on everything after it.
struct FailsAfter(usize);

impl Write for FailsAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        self.0 -= buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_capture_stops_but_traffic_flows() {
    let (a, mut b) = VirtualWire::pair(WireConfig::default());
    let mut a = Pcap::new(a, FailsAfter(24)).unwrap();
    a.flush().unwrap();
    for i in 0..3_000u64 {
        // Enough frames to overflow the capture's buffer, so the write fails mid-run.
        assert_eq!(a.transmit(Instant::from_micros(i), &batch(&hex(ARP_REQUEST))).unwrap(), 1);
        receive_one(&mut b, Instant::from_micros(i));
    }
    let err = a.flush().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    assert!(err.to_string().contains("disk full"), "{err}");
    // The failure sticks: the capture does not resume with a torn file.
    assert_eq!(a.flush().unwrap_err().kind(), io::ErrorKind::StorageFull);
    a.transmit(Instant::from_secs(1), &batch(&hex(ARP_REQUEST))).unwrap();
    assert_eq!(receive_one(&mut b, Instant::from_secs(1)), hex(ARP_REQUEST));
}

#[test]
fn a_header_that_cannot_be_written_is_an_error() {
    let (a, _b) = VirtualWire::pair(WireConfig::default());
    // The header sits in the buffer until the first flush, which then fails.
    let mut capture = Pcap::new(a, FailsAfter(0)).unwrap();
    assert_eq!(capture.flush().unwrap_err().kind(), io::ErrorKind::StorageFull);
    let missing = std::env::temp_dir().join("pila-no-such-dir").join("x.pcap");
    let (a, _b) = VirtualWire::pair(WireConfig::default());
    assert_eq!(Pcap::create(a, missing).unwrap_err().kind(), io::ErrorKind::NotFound);
}
