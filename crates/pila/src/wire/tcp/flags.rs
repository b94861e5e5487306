//! The TCP control bits (RFC 9293 §3.1, RFC 3168 §6.1 for ECE and CWR, RFC 3540 for NS).

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};

/// A set of TCP control bits, as they sit in the low 9 bits of header bytes 12–13.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u16);

/// Each flag with its tcpdump letter, in tcpdump's order.
const LETTERS: [(Flags, char); 9] = [
    (Flags::FIN, 'F'),
    (Flags::SYN, 'S'),
    (Flags::RST, 'R'),
    (Flags::PSH, 'P'),
    (Flags::ACK, '.'),
    (Flags::URG, 'U'),
    (Flags::ECE, 'E'),
    (Flags::CWR, 'W'),
    (Flags::NS, 'e'),
];

/// Each flag with its name, for `Debug`.
const NAMES: [(Flags, &str); 9] = [
    (Flags::FIN, "FIN"),
    (Flags::SYN, "SYN"),
    (Flags::RST, "RST"),
    (Flags::PSH, "PSH"),
    (Flags::ACK, "ACK"),
    (Flags::URG, "URG"),
    (Flags::ECE, "ECE"),
    (Flags::CWR, "CWR"),
    (Flags::NS, "NS"),
];

impl Flags {
    /// No flag set.
    pub const EMPTY: Self = Self(0);
    /// No more data from the sender.
    pub const FIN: Self = Self(0x001);
    /// Synchronise sequence numbers.
    pub const SYN: Self = Self(0x002);
    /// Reset the connection.
    pub const RST: Self = Self(0x004);
    /// Push the data to the application.
    pub const PSH: Self = Self(0x008);
    /// The acknowledgment number is significant.
    pub const ACK: Self = Self(0x010);
    /// The urgent pointer is significant.
    pub const URG: Self = Self(0x020);
    /// ECN-Echo (RFC 3168).
    pub const ECE: Self = Self(0x040);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: Self = Self(0x080);
    /// ECN nonce sum (RFC 3540, historic; AccECN's AE bit).
    pub const NS: Self = Self(0x100);
    /// Every flag.
    pub const ALL: Self = Self(0x1ff);

    /// The flags among the low 9 bits of `bits`; other bits are dropped.
    pub const fn from_bits_truncate(bits: u16) -> Self {
        Self(bits & Self::ALL.0)
    }

    /// The flags as bits, in their header positions.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag in `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag in `other` is set in `self`.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// The flags set in either.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The flags set in `self` but not in `other`.
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Sets the flags in `other`.
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Clears the flags in `other`.
    pub fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }

    /// Sets or clears the flags in `other`.
    pub fn set(&mut self, other: Self, value: bool) {
        if value {
            self.insert(other);
        } else {
            self.remove(other);
        }
    }
}

impl BitOr for Flags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.insert(rhs);
    }
}

impl BitAnd for Flags {
    type Output = Self;

    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

/// As tcpdump prints them: `[S]`, `[S.]`, `[P.]`, `[F.]`, `[R]`, `[none]`.
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        if self.is_empty() {
            f.write_str("none")?;
        }
        for (flag, letter) in LETTERS {
            if self.contains(flag) {
                write!(f, "{letter}")?;
            }
        }
        f.write_str("]")
    }
}

/// As `Flags(SYN | ACK)`.
impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Flags(")?;
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcpdump_display() {
        assert_eq!(Flags::SYN.to_string(), "[S]");
        assert_eq!((Flags::SYN | Flags::ACK).to_string(), "[S.]");
        assert_eq!((Flags::PSH | Flags::ACK).to_string(), "[P.]");
        assert_eq!((Flags::ACK | Flags::FIN).to_string(), "[F.]");
        assert_eq!((Flags::FIN | Flags::PSH | Flags::ACK).to_string(), "[FP.]");
        assert_eq!(Flags::RST.to_string(), "[R]");
        assert_eq!((Flags::RST | Flags::ACK).to_string(), "[R.]");
        assert_eq!(Flags::ACK.to_string(), "[.]");
        assert_eq!((Flags::SYN | Flags::ECE | Flags::CWR).to_string(), "[SEW]");
        assert_eq!((Flags::URG | Flags::ACK | Flags::NS).to_string(), "[.Ue]");
        assert_eq!(Flags::EMPTY.to_string(), "[none]");
        assert_eq!(format!("{:?}", Flags::SYN | Flags::ACK), "Flags(SYN | ACK)");
        assert_eq!(format!("{:?}", Flags::EMPTY), "Flags()");
    }

    #[test]
    fn set_operations() {
        let mut f = Flags::SYN;
        f.insert(Flags::ACK);
        assert!(f.contains(Flags::SYN | Flags::ACK));
        assert!(!f.contains(Flags::SYN | Flags::FIN));
        assert!(f.intersects(Flags::SYN | Flags::FIN));
        assert!(!f.intersects(Flags::FIN | Flags::RST));
        f.remove(Flags::SYN);
        assert_eq!(f, Flags::ACK);
        f.set(Flags::FIN, true);
        assert_eq!(f.bits(), 0x011);
        f.set(Flags::ACK, false);
        assert_eq!(f, Flags::FIN);
        assert_eq!((Flags::ALL).difference(Flags::ACK).bits(), 0x1ef);
        assert_eq!(Flags::from_bits_truncate(0xff12), Flags::SYN | Flags::ACK | Flags::NS);
        assert_eq!((Flags::SYN | Flags::ACK) & Flags::ACK, Flags::ACK);
        assert!(Flags::EMPTY.is_empty() && Flags::default().is_empty());
        assert!(Flags::ALL.contains(Flags::EMPTY));
        let mut g = Flags::EMPTY;
        g |= Flags::PSH;
        assert_eq!(g, Flags::PSH);
    }
}
