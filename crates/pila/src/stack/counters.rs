//! What the stack counts (like `netstat -s`) and the connection events it reports.

use core::fmt;
use core::net::SocketAddr;

use crate::time::Instant;

macro_rules! counters {
    ($( $section:literal { $( $(#[doc = $doc:literal])* $name:ident ),* $(,)? } )*) => {
        /// The stack's counters, named after the SNMP MIB objects Linux prints with
        /// `netstat -s` (RFC 4293, RFC 4022, RFC 4113). All only grow, except
        /// `tcp_curr_estab`, which is a gauge.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Counters {
            $( $( $(#[doc = $doc])* pub $name: u64, )* )*
        }

        impl fmt::Display for Counters {
            /// One section per protocol, one `name: value` line per counter.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                $(
                    writeln!(f, "{}:", $section)?;
                    $( writeln!(f, "    {}: {}", stringify!($name), self.$name)?; )*
                )*
                Ok(())
            }
        }
    };
}

counters! {
    "Ip" {
        /// Datagrams received, errors included.
        ip_in_receives,
        /// Datagrams dropped for a bad header: version, lengths, checksum, TTL, source.
        ip_in_hdr_errors,
        /// Of `ip_in_hdr_errors`, those whose header checksum failed (Linux's
        /// `IpExt: InCsumErrors`): a frame corrupted on the way.
        ip_in_csum_errors,
        /// Datagrams dropped because they were not addressed to us.
        ip_in_addr_errors,
        /// Datagrams handed to ICMP, UDP or TCP.
        ip_in_delivers,
        /// Datagrams for a protocol we do not speak.
        ip_in_unknown_protos,
        /// Datagrams we tried to send.
        ip_out_requests,
        /// Datagrams not sent for want of a route.
        ip_out_no_routes,
        /// Datagrams not sent: the neighbour never answered, or its queue or ours was full.
        ip_out_discards,
        /// Fragments received.
        ip_reasm_reqds,
        /// Datagrams reassembled.
        ip_reasm_oks,
        /// Reassembly failures: overlaps, bad lengths, time-outs, memory bound.
        ip_reasm_fails,
        /// Datagrams fragmented.
        ip_frag_oks,
        /// Fragments made.
        ip_frag_creates,
        /// Datagrams larger than the MTU that could not be fragmented (DF set).
        ip_frag_fails,
    }
    "Icmp" {
        /// ICMP messages received, errors included.
        icmp_in_msgs,
        /// ICMP messages dropped as malformed or with a bad checksum.
        icmp_in_errors,
        /// Echo requests received.
        icmp_in_echos,
        /// Echo replies received.
        icmp_in_echo_reps,
        /// Destination unreachable messages received.
        icmp_in_dest_unreachs,
        /// ICMP messages sent.
        icmp_out_msgs,
        /// Echo replies sent.
        icmp_out_echo_reps,
        /// Destination unreachable messages sent.
        icmp_out_dest_unreachs,
        /// ICMP errors not sent because of the rate limit.
        icmp_out_rate_limited,
    }
    "Ip6" {
        /// IPv6 packets received, errors included.
        ip6_in_receives,
        /// IPv6 packets dropped for a bad header or extension header: version, lengths,
        /// source, an option or routing header refused.
        ip6_in_hdr_errors,
        /// IPv6 packets dropped because they were not addressed to us.
        ip6_in_addr_errors,
        /// IPv6 packets handed to ICMPv6, UDP or TCP.
        ip6_in_delivers,
        /// IPv6 packets for a protocol we do not speak.
        ip6_in_unknown_protos,
        /// IPv6 packets we tried to send.
        ip6_out_requests,
        /// IPv6 packets not sent for want of a route or a usable source address.
        ip6_out_no_routes,
        /// IPv6 packets not sent: the neighbour never answered, or a queue was full.
        ip6_out_discards,
        /// IPv6 fragments received.
        ip6_reasm_reqds,
        /// IPv6 packets reassembled.
        ip6_reasm_oks,
        /// IPv6 fragments dropped unreassembled, and packets whose reassembly failed.
        ip6_reasm_fails,
        /// IPv6 packets sent in fragments.
        ip6_frag_oks,
        /// IPv6 fragments made.
        ip6_frag_creates,
        /// IPv6 packets that could not be cut into fragments.
        ip6_frag_fails,
    }
    "Icmp6" {
        /// ICMPv6 messages received, errors included.
        icmp6_in_msgs,
        /// ICMPv6 messages dropped as malformed, with a bad checksum, or failing neighbour
        /// discovery's checks (hop limit 255 and the rest of RFC 4861 §7.1).
        icmp6_in_errors,
        /// Echo requests received.
        icmp6_in_echos,
        /// Echo replies received.
        icmp6_in_echo_replies,
        /// Neighbour solicitations received.
        icmp6_in_neighbor_solicits,
        /// Neighbour advertisements received.
        icmp6_in_neighbor_advertisements,
        /// ICMPv6 messages sent.
        icmp6_out_msgs,
        /// Echo replies sent.
        icmp6_out_echo_replies,
        /// Neighbour solicitations sent: resolutions, probes and duplicate address
        /// detection.
        icmp6_out_neighbor_solicits,
        /// Neighbour advertisements sent.
        icmp6_out_neighbor_advertisements,
        /// MLDv2 reports sent.
        icmp6_out_mldv2_reports,
        /// Router solicitations sent.
        icmp6_out_router_solicits,
        /// Router advertisements received and taken.
        icmp6_in_router_advertisements,
        /// Parameter problems sent.
        icmp6_out_parm_problems,
        /// Destination unreachable messages sent (a datagram to a closed UDP port).
        icmp6_out_dest_unreachs,
        /// Time exceeded messages sent (a packet whose fragments never all came).
        icmp6_out_time_excds,
        /// Destination unreachable messages received.
        icmp6_in_dest_unreachs,
        /// Packet too big messages received.
        icmp6_in_pkt_too_bigs,
        /// Addresses found held by another node during duplicate address detection.
        nd_dad_conflicts,
        /// Neighbour resolutions that got no answer.
        nd_failed,
    }
    "Tcp" {
        /// Connections opened by us (SYN sent).
        tcp_active_opens,
        /// Connections opened by a peer (SYN accepted by a listener).
        tcp_passive_opens,
        /// Opening connections that failed: refused, reset or timed out before ESTABLISHED.
        tcp_attempt_fails,
        /// Established connections reset.
        tcp_estab_resets,
        /// Connections in ESTABLISHED or CLOSE-WAIT now.
        tcp_curr_estab,
        /// Segments received, errors included.
        tcp_in_segs,
        /// Segments sent.
        tcp_out_segs,
        /// Segments retransmitted.
        tcp_retrans_segs,
        /// Segments dropped as malformed or with a bad checksum.
        tcp_in_errs,
        /// Of `tcp_in_errs`, those whose checksum failed (Linux's `Tcp: InCsumErrors`).
        tcp_in_csum_errors,
        /// Segments sent with RST.
        tcp_out_rsts,
        /// ICMP errors ignored because the TCP sequence number they quote is not in flight
        /// (RFC 5927 §4.1).
        tcp_out_of_window_icmps,
        /// SYNs answered with a SYN cookie (the SYN queue was full).
        tcp_syn_cookies_sent,
        /// Connections made from a valid SYN cookie.
        tcp_syn_cookies_recv,
        /// ACKs that carried an invalid SYN cookie.
        tcp_syn_cookies_failed,
        /// SYNs dropped because a listener's accept queue was full.
        tcp_listen_overflows,
        /// Trace records dropped: the stack's queue of them was full (nobody took them).
        tcp_trace_dropped,
    }
    "Udp" {
        /// Datagrams delivered to a socket.
        udp_in_datagrams,
        /// Datagrams for a port with no socket.
        udp_no_ports,
        /// Datagrams dropped: malformed, bad checksum, or a full receive queue.
        udp_in_errors,
        /// Datagrams sent.
        udp_out_datagrams,
    }
    "Link" {
        /// ARP requests sent.
        arp_requests_sent,
        /// ARP replies sent.
        arp_replies_sent,
        /// Neighbours that never answered.
        arp_failed,
        /// Frames dropped: truncated, not for our MAC, unknown type, malformed ARP.
        eth_dropped,
    }
    "Memory" {
        /// Times the memory budget came under pressure (¾ of `Config::memory_limit`):
        /// buffers stopped growing.
        mem_pressure,
        /// Times the memory budget reached its limit: nothing new was taken.
        mem_exhausted,
        /// Connections refused for want of memory: SYNs and cookie ACKs dropped.
        mem_refused,
        /// Datagrams and fragments dropped for want of memory (also counted in their
        /// protocol's errors).
        mem_dropped,
    }
}

/// What happened to a connection; see [`Event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// The handshake completed.
    Established,
    /// A connection attempt was refused: our SYN got RST (or ICMP port unreachable), or we
    /// answered a SYN to a port nobody listens on with RST.
    Refused,
    /// The connection was reset, by the peer or by us.
    Reset,
    /// Retransmissions or keepalives ran out, or the neighbour never answered.
    TimedOut,
    /// The connection is over; the last event of every connection that had a socket.
    Closed,
}

impl EventKind {
    /// The lower-case name used in the JSON form.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Established => "established",
            Self::Refused => "refused",
            Self::Reset => "reset",
            Self::TimedOut => "timed_out",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of the stack's event stream, naming the connection by its 4-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
    /// Our end.
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
    /// Payload bytes sent so far, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes received in order so far.
    pub bytes_received: u64,
    /// Segments retransmitted so far.
    pub retransmissions: u64,
}

/// One line of JSON:
/// `{"at_us":1500,"event":"refused","local":"192.0.2.2:81","remote":"192.0.2.1:49152",...}`.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{\"at_us\":{},\"event\":\"{}\",\"local\":\"{}\",\"remote\":\"{}\",\
             \"bytes_sent\":{},\"bytes_received\":{},\"retransmissions\":{}}}",
            self.at.total_micros(),
            self.kind,
            self.local,
            self.remote,
            self.bytes_sent,
            self.bytes_received,
            self.retransmissions
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_prints_as_one_json_line() {
        let e = Event {
            at: Instant::from_micros(1500),
            kind: EventKind::Refused,
            local: "192.0.2.2:81".parse().unwrap(),
            remote: "192.0.2.1:49152".parse().unwrap(),
            bytes_sent: 0,
            bytes_received: 3,
            retransmissions: 1,
        };
        assert_eq!(
            e.to_string(),
            "{\"at_us\":1500,\"event\":\"refused\",\"local\":\"192.0.2.2:81\",\
             \"remote\":\"192.0.2.1:49152\",\"bytes_sent\":0,\"bytes_received\":3,\
             \"retransmissions\":1}"
        );
    }

    #[test]
    fn counters_print_netstat_style() {
        let c = Counters { tcp_out_rsts: 7, ..Counters::default() };
        let text = c.to_string();
        assert!(text.contains("Tcp:\n"), "{text}");
        assert!(text.contains("    tcp_out_rsts: 7\n"), "{text}");
        assert!(text.starts_with("Ip:\n    ip_in_receives: 0\n"), "{text}");
    }
}
