//! The in-memory wire of the smoltcp figures: each interface's device queues the frames it
//! transmits, and the caller hands them to the other's receive queue after every poll.
//! Also used by `pila-bench-idle`.

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Frame buffers no longer in use, shared by both ends so that neither allocates per frame.
type Pool = Rc<RefCell<Vec<Vec<u8>>>>;

/// One end of the in-memory wire.
pub(crate) struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    pool: Pool,
    mtu: usize,
}

pub(crate) struct Rx {
    frame: Vec<u8>,
    pool: Pool,
}

pub(crate) struct Tx<'a> {
    out: &'a mut VecDeque<Vec<u8>>,
    pool: Pool,
}

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.frame);
        self.pool.borrow_mut().push(self.frame);
        r
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = self.pool.borrow_mut().pop().unwrap_or_default();
        frame.resize(len, 0);
        let r = f(&mut frame);
        self.out.push_back(frame);
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.rx.pop_front()?;
        let pool = Rc::clone(&self.pool);
        Some((Rx { frame, pool: Rc::clone(&pool) }, Tx { out: &mut self.tx, pool }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx { out: &mut self.tx, pool: Rc::clone(&self.pool) })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        // smoltcp counts the Ethernet header in its MTU.
        caps.max_transmission_unit = self.mtu + 14;
        caps
    }
}

/// Two smoltcp interfaces (192.0.2.1 and .2, and 2001:db8::1 and ::2 if asked) on one
/// in-memory wire, with their sockets.
pub(crate) struct Wire {
    pub(crate) a: Interface,
    pub(crate) b: Interface,
    pub(crate) dev_a: Queues,
    pub(crate) dev_b: Queues,
    pub(crate) sockets_a: SocketSet<'static>,
    pub(crate) sockets_b: SocketSet<'static>,
    epoch: std::time::Instant,
}

impl Wire {
    pub(crate) fn new(mtu: usize, v6: bool) -> Self {
        let pool = Pool::default();
        let queues =
            || Queues { rx: VecDeque::new(), tx: VecDeque::new(), pool: Rc::clone(&pool), mtu };
        let (mut dev_a, mut dev_b) = (queues(), queues());
        let epoch = std::time::Instant::now();
        let now = Instant::from_micros(0);
        let a = host(0x0a, 1, v6, &mut dev_a, now);
        let b = host(0x0b, 2, v6, &mut dev_b, now);
        Self {
            a,
            b,
            dev_a,
            dev_b,
            sockets_a: SocketSet::new(vec![]),
            sockets_b: SocketSet::new(vec![]),
            epoch,
        }
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_micros(i64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(i64::MAX))
    }

    /// Polls both interfaces, each frame going to the other; whether a frame moved.
    pub(crate) fn pump(&mut self) -> bool {
        let now = self.now();
        let mut moved = false;
        self.a.poll(now, &mut self.dev_a, &mut self.sockets_a);
        moved |= !self.dev_a.tx.is_empty();
        self.dev_b.rx.extend(self.dev_a.tx.drain(..));
        self.b.poll(now, &mut self.dev_b, &mut self.sockets_b);
        moved |= !self.dev_b.tx.is_empty();
        self.dev_a.rx.extend(self.dev_b.tx.drain(..));
        moved
    }

    /// Sleeps until the next timer of either interface (at most 10 ms).
    pub(crate) fn idle(&mut self) {
        let now = self.now();
        let next =
            [self.a.poll_delay(now, &self.sockets_a), self.b.poll_delay(now, &self.sockets_b)]
                .into_iter()
                .flatten()
                .min();
        if let Some(wait) = next {
            let wait = std::time::Duration::from_micros(wait.total_micros());
            std::thread::sleep(wait.min(std::time::Duration::from_millis(10)));
        }
    }
}

/// The address of host `ip` (192.0.2.`ip`).
pub(crate) const fn addr(ip: u8) -> IpAddress {
    IpAddress::v4(192, 0, 2, ip)
}

/// The IPv6 address of host `ip` (2001:db8::`ip`).
pub(crate) const fn addr6(ip: u8) -> IpAddress {
    IpAddress::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, ip as u16)
}

fn host(mac: u8, ip: u8, v6: bool, dev: &mut Queues, now: Instant) -> Interface {
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress([2, 0, 0, 0, 0, mac])));
    config.random_seed = u64::from(mac);
    let mut iface = Interface::new(config, dev, now);
    iface.update_ip_addrs(|addrs| {
        // Room for one address is always there in a new interface.
        let _ = addrs.push(IpCidr::new(addr(ip), 24));
        if v6 {
            // Nor is room for a second (smoltcp's default holds two).
            let _ = addrs.push(IpCidr::new(addr6(ip), 64));
        }
    });
    iface
}
