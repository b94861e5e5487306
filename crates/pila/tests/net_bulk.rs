//! 1 GiB through the blocking API, writer and reader on their own threads, over a
//! `VirtualWire` with no impairments; both ends hash what they saw with SHA-256.

mod net_util;

use net_util::{IP_B, pair, within};
use pila::net::{TcpListener, TcpStream};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

const TOTAL: usize = 1 << 30;
const CHUNK: usize = 1 << 20;

#[test]
fn one_gibibyte_arrives_intact() {
    within(Duration::from_secs(120), || {
        let (a, b) = pair();
        let at = SocketAddr::V4(SocketAddrV4::new(IP_B, 5001));
        let listener = TcpListener::bind(&b, at).unwrap();
        let reader = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut hash = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0usize;
            loop {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                total += n;
            }
            (total, hash.finalize())
        });
        let mut stream = TcpStream::connect(&a, at).unwrap();
        // One random mebibyte, stamped with its index so that order and duplication show.
        let mut block = vec![0u8; CHUNK];
        pila::rand::Rng::new(42).fill(&mut block);
        let mut hash = Sha256::new();
        for i in 0..TOTAL / CHUNK {
            block[..8].copy_from_slice(&(i as u64).to_le_bytes());
            stream.write_all(&block).unwrap();
            hash.update(&block);
        }
        let sent = hash.finalize();
        drop(stream);
        let (received, got) = reader.join().unwrap();
        assert_eq!(received, TOTAL);
        assert_eq!(got, sent, "SHA-256 of what arrived differs from what was sent");
    });
}
