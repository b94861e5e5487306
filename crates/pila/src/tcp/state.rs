//! The RFC 9293 states, the moves between them, and the RST that answers a segment no
//! connection takes (RFC 9293 §3.10.7.1).

use core::fmt;

use super::Config;
use crate::wire::tcp::{Flags, Options, Repr, SeqNumber};

/// The eleven states of RFC 9293 §3.3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// SYN sent, waiting for the peer's SYN.
    SynSent,
    /// SYN received and SYN-ACK sent, waiting for its ACK.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We closed; our FIN is not yet acknowledged.
    FinWait1,
    /// We closed and our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed; waiting for us to close.
    CloseWait,
    /// Both closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both FINs acknowledged; waiting 2·MSL for stray segments.
    TimeWait,
}

impl State {
    /// The synchronized states of RFC 9293 §3.5.2 (ESTABLISHED to TIME-WAIT).
    pub fn is_synchronized(self) -> bool {
        !matches!(self, Self::Closed | Self::Listen | Self::SynSent | Self::SynReceived)
    }

    /// Whether the state diagram (RFC 9293 §3.3.2, Figure 5) goes from `self` to `to`,
    /// with what a real connection adds to it: any state may be aborted to CLOSED, a state
    /// may be entered again (a retransmitted SYN, a TIME-WAIT restarted), and a half-close
    /// made before the handshake ends enters FIN-WAIT-1 straight from it.
    pub(crate) fn may_become(self, to: Self) -> bool {
        use State::*;
        matches!(
            (self, to),
            (_, Closed)
                | (Listen | SynSent, SynReceived)
                | (SynSent | SynReceived, Established | FinWait1)
                | (SynReceived | Established, CloseWait)
                | (Established, FinWait1)
                | (CloseWait, LastAck)
                | (FinWait1, FinWait2 | Closing | TimeWait)
                | (FinWait2 | Closing, TimeWait)
        ) || self == to
    }

    /// The states in which we may send data or a FIN, or resend them: our FIN is not yet
    /// acknowledged.
    pub(crate) fn sends_data(self) -> bool {
        matches!(
            self,
            Self::Established | Self::CloseWait | Self::FinWait1 | Self::LastAck | Self::Closing
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "CLOSED",
            Self::Listen => "LISTEN",
            Self::SynSent => "SYN-SENT",
            Self::SynReceived => "SYN-RECEIVED",
            Self::Established => "ESTABLISHED",
            Self::FinWait1 => "FIN-WAIT-1",
            Self::FinWait2 => "FIN-WAIT-2",
            Self::CloseWait => "CLOSE-WAIT",
            Self::Closing => "CLOSING",
            Self::LastAck => "LAST-ACK",
            Self::TimeWait => "TIME-WAIT",
        })
    }
}

/// The RST answering `seg` when no connection exists (RFC 9293 §3.10.7.1), or `None` if
/// `seg` is itself a RST. Ports are swapped; the caller fills in addresses.
pub fn reset_for(seg: &Repr<'_>) -> Option<Repr<'static>> {
    let (seq, ack) = reset_numbers(seg)?;
    let mut flags = Flags::default();
    flags.insert(Flags::RST);
    Some(Repr {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        seq_number: seq,
        ack_number: ack,
        flags,
        window_len: 0,
        urgent_pointer: 0,
        options: Options::default(),
        payload: &[],
    })
}

/// RFC 9293 §3.10.7.1: `<SEQ=SEG.ACK><CTL=RST>` if the segment has an ACK, else
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
pub(super) fn reset_numbers(seg: &Repr<'_>) -> Option<(SeqNumber, Option<SeqNumber>)> {
    if seg.flags.contains(Flags::RST) {
        return None;
    }
    Some(match seg.ack_number {
        Some(ack) => (ack, None),
        None => (SeqNumber(0), Some(seg.seq_number.plus(seg.segment_len()))),
    })
}

/// Our window-scale shift: the smallest that lets the field cover the buffer (RFC 7323 §2.3).
pub(super) fn our_wscale(config: &Config) -> u8 {
    let mut shift = 0u8;
    while shift < 14 && (config.recv_buffer >> shift) > usize::from(u16::MAX) {
        shift += 1;
    }
    shift
}

#[cfg(test)]
mod tests {
    use super::State::{self, *};

    #[test]
    fn the_state_diagram_allows_its_moves_and_no_others() {
        let allowed: [(State, State); 14] = [
            (Listen, SynReceived),
            (SynSent, SynReceived),
            (SynSent, Established),
            (SynReceived, Established),
            (SynReceived, FinWait1),
            (SynReceived, CloseWait),
            (Established, FinWait1),
            (Established, CloseWait),
            (CloseWait, LastAck),
            (FinWait1, FinWait2),
            (FinWait1, Closing),
            (FinWait2, TimeWait),
            (Closing, TimeWait),
            (TimeWait, TimeWait),
        ];
        for (from, to) in allowed {
            assert!(from.may_become(to), "{from} -> {to} should be allowed");
        }
        for from in [Listen, SynSent, Established, FinWait2, LastAck, TimeWait] {
            assert!(from.may_become(Closed), "{from} -> CLOSED should be allowed");
        }
        let forbidden = [
            (Closed, Established),
            (Listen, Established),
            (Established, SynSent),
            (Established, LastAck),
            (FinWait2, FinWait1),
            (LastAck, CloseWait),
            (TimeWait, Established),
            (CloseWait, FinWait1),
        ];
        for (from, to) in forbidden {
            assert!(!from.may_become(to), "{from} -> {to} should be refused");
        }
    }
}
