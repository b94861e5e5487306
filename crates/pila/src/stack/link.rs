//! The link layer: Ethernet frames in and out, ARP requests and replies, and the control
//! queue of frames (ARP, ICMP, RST, UDP) that wait for the next `poll_transmit`.

use super::{Error, LINK_QUEUE, Medium, Stack};
use crate::time::Instant;
use crate::wire::{arp as warp, ethernet};
use core::net::Ipv4Addr;

/// A frame waiting in the control queue: its link destination and payload.
#[derive(Debug)]
pub(super) struct LinkFrame {
    pub(super) dst: ethernet::Address,
    pub(super) ethertype: ethernet::EtherType,
    pub(super) payload: Vec<u8>,
}

impl Stack {
    /// Writes the next link-layer frame into `buf`: an ARP request, a neighbour
    /// solicitation, or a frame from the control queue. Frames that do not fit are dropped and counted.
    pub(super) fn link_poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        while let Some((target, unicast)) = self.neighbors.pop_request() {
            if let Some(len) = self.arp_request(buf, target, unicast) {
                self.counters.arp_requests_sent += 1;
                return Some(len);
            }
        }
        while let Some((target, unicast)) =
            self.v6.as_mut().and_then(|v6| v6.neighbors.pop_request())
        {
            if let Some(len) = self.nd_request(buf, target, unicast) {
                self.counters.icmp6_out_msgs += 1;
                self.counters.icmp6_out_neighbor_solicits += 1;
                return Some(len);
            }
        }
        while let Some(frame) = self.link_out.pop_front() {
            match self.write_frame(buf, frame.dst, frame.ethertype, &frame.payload) {
                Some(len) => return Some(len),
                None => self.counters.ip_out_discards += 1,
            }
        }
        None
    }

    /// Whether link-layer frames wait to be sent.
    pub(super) fn link_pending(&self) -> bool {
        self.neighbors.has_requests()
            || self.v6.as_ref().is_some_and(|v6| v6.neighbors.has_requests())
            || !self.link_out.is_empty()
    }

    /// An Ethernet frame arrived: checked, filtered by destination, handed to ARP or IPv4.
    pub(super) fn ethernet_input(&mut self, now: Instant, data: &[u8]) {
        let Ok(frame) = ethernet::Frame::new_checked(data) else {
            self.counters.eth_dropped += 1;
            return;
        };
        let dst = frame.dst_addr();
        if dst != self.config.mac && !dst.is_broadcast() && !self.listens_to_mac(dst) {
            self.counters.eth_dropped += 1;
            return;
        }
        match frame.ethertype() {
            ethernet::EtherType::Arp => self.arp_input(now, frame.payload()),
            ethernet::EtherType::Ipv4 => self.ipv4_input(now, frame.payload()),
            ethernet::EtherType::Ipv6 => self.ipv6_input(now, frame.payload()),
            _ => self.counters.eth_dropped += 1,
        }
    }

    /// An ARP packet arrived: the neighbour cache learns from it, and a request for one of
    /// our addresses is answered.
    pub(super) fn arp_input(&mut self, now: Instant, data: &[u8]) {
        let Ok(packet) = warp::Packet::new_checked(data) else {
            self.counters.eth_dropped += 1;
            return;
        };
        let Ok(repr) = warp::Repr::parse(&packet) else {
            self.counters.eth_dropped += 1;
            return;
        };
        let sender = repr.source_protocol_addr;
        let sender_mac = repr.source_hardware_addr;
        let for_us = self.iface.has_addr(repr.target_protocol_addr);
        let sender_ok = !sender.is_unspecified()
            && !sender.is_multicast()
            && !self.iface.is_broadcast(sender)
            && !self.iface.has_addr(sender)
            && sender_mac.is_unicast();
        if sender_ok {
            // RFC 826: update a known sender; add it only if the packet is for us. A packet
            // for us confirms the sender; one that only passes by (a broadcast request for
            // another host, a gratuitous announcement) updates its address without
            // confirming it, so a changed address is probed before it is trusted, as in
            // neighbour discovery (RFC 4861 §7.2.5).
            let released = if for_us {
                self.neighbors.learn(now, sender, sender_mac, true)
            } else {
                self.neighbors.learn_unconfirmed(now, sender, sender_mac, false)
            };
            for pending in released {
                self.push_datagram(sender_mac, pending.packet);
            }
        } else if !sender.is_unspecified() || !sender_mac.is_unicast() {
            self.counters.eth_dropped += 1;
            return;
        }
        if for_us && repr.operation == warp::Operation::Request {
            let reply = warp::Repr {
                operation: warp::Operation::Reply,
                source_hardware_addr: self.config.mac,
                source_protocol_addr: repr.target_protocol_addr,
                target_hardware_addr: sender_mac,
                target_protocol_addr: sender,
            };
            let mut payload = vec![0; reply.buffer_len()];
            reply.emit(&mut warp::Packet::new_unchecked(&mut payload[..]));
            if self.push_link(sender_mac, ethernet::EtherType::Arp, payload) {
                self.counters.arp_replies_sent += 1;
            }
        }
    }

    /// Queues an IPv4 datagram for `dst` in the control queue.
    pub(super) fn push_ip(&mut self, dst: ethernet::Address, packet: Vec<u8>) -> Result<(), Error> {
        if self.push_datagram(dst, packet) { Ok(()) } else { Err(Error::NoBufferSpace) }
    }

    /// Queues a frame in the bounded control queue; `false` (and counted) when full.
    pub(super) fn push_link(
        &mut self,
        dst: ethernet::Address,
        ethertype: ethernet::EtherType,
        payload: Vec<u8>,
    ) -> bool {
        if self.link_out.len() >= LINK_QUEUE {
            self.counters.ip_out_discards += 1;
            return false;
        }
        self.link_out.push_back(LinkFrame { dst, ethertype, payload });
        true
    }

    /// The link header for the medium, written at the front of `buf`; returns its length,
    /// or `None` when `buf` cannot hold it and `payload_len` more bytes.
    pub(super) fn link_header(
        &self,
        buf: &mut [u8],
        dst: ethernet::Address,
        ethertype: ethernet::EtherType,
        payload_len: usize,
    ) -> Option<usize> {
        match self.config.medium {
            Medium::Ip => (buf.len() >= payload_len).then_some(0),
            Medium::Ethernet => {
                let repr = ethernet::Repr {
                    src_addr: self.config.mac,
                    dst_addr: dst,
                    ethertype,
                    vlan: None,
                };
                let len = repr.buffer_len(payload_len);
                let frame = buf.get_mut(..len)?;
                repr.emit(&mut ethernet::Frame::new_unchecked(frame));
                Some(repr.header_len())
            }
        }
    }

    /// Writes a whole frame (link header, then `payload`) into `buf`; its length.
    pub(super) fn write_frame(
        &self,
        buf: &mut [u8],
        dst: ethernet::Address,
        ethertype: ethernet::EtherType,
        payload: &[u8],
    ) -> Option<usize> {
        let header = self.link_header(buf, dst, ethertype, payload.len())?;
        let end = header + payload.len();
        buf.get_mut(header..end)?.copy_from_slice(payload);
        Some(end)
    }

    /// Writes an ARP request for `target` into `buf` (unicast to refresh an entry).
    pub(super) fn arp_request(
        &self,
        buf: &mut [u8],
        target: Ipv4Addr,
        unicast: Option<ethernet::Address>,
    ) -> Option<usize> {
        let src = self.iface.source_for(target)?;
        let repr = warp::Repr {
            operation: warp::Operation::Request,
            source_hardware_addr: self.config.mac,
            source_protocol_addr: src,
            target_hardware_addr: ethernet::Address([0; 6]),
            target_protocol_addr: target,
        };
        let dst = unicast.unwrap_or(ethernet::Address::BROADCAST);
        let header = self.link_header(buf, dst, ethernet::EtherType::Arp, repr.buffer_len())?;
        let body = buf.get_mut(header..header + repr.buffer_len())?;
        repr.emit(&mut warp::Packet::new_unchecked(body));
        Some(header + repr.buffer_len())
    }
}
