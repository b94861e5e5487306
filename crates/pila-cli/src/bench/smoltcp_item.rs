//! The smoltcp work item: two smoltcp interfaces in one thread, each on an in-memory device
//! whose transmitted frames are handed to the other's receive queue after every poll. Same
//! addresses, MTU, socket buffer sizes and software checksums as the `sans-io` item.

use super::{BLOCK, Figures, STALL, cpu_seconds, next_chunk, peak_rss_kib};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Socket buffers, the size pila's `tcp::Config` gives by default.
const SOCKET_BUFFER: usize = 4 << 20;
const PORT: u16 = 9;

/// Frame buffers no longer in use, shared by both ends so that neither allocates per frame.
type Pool = Rc<RefCell<Vec<Vec<u8>>>>;

/// One end of the in-memory wire.
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    pool: Pool,
}

struct Rx {
    frame: Vec<u8>,
    pool: Pool,
}

struct Tx<'a> {
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
        caps.max_transmission_unit = 1514;
        caps
    }
}

fn host(mac: u8, ip: u8, dev: &mut Queues, now: Instant) -> Interface {
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress([2, 0, 0, 0, 0, mac])));
    config.random_seed = u64::from(mac);
    let mut iface = Interface::new(config, dev, now);
    iface.update_ip_addrs(|addrs| {
        // Room for one address is always there in a new interface.
        let _ = addrs.push(IpCidr::new(IpAddress::v4(192, 0, 2, ip), 24));
    });
    iface
}

fn socket() -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
        tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
    )
}

/// Moves `bytes` from A to B and measures it.
pub(super) fn run(bytes: u64) -> Result<Figures, String> {
    let epoch = std::time::Instant::now();
    let clock = || Instant::from_micros(i64::try_from(epoch.elapsed().as_micros()).unwrap_or(0));
    let pool = Pool::default();
    let queues = || Queues { rx: VecDeque::new(), tx: VecDeque::new(), pool: Rc::clone(&pool) };
    let (mut dev_a, mut dev_b) = (queues(), queues());
    let mut a = host(0x0a, 1, &mut dev_a, clock());
    let mut b = host(0x0b, 2, &mut dev_b, clock());
    let mut sockets_a = SocketSet::new(vec![]);
    let mut sockets_b = SocketSet::new(vec![]);
    let cpu0 = cpu_seconds();
    let start = std::time::Instant::now();
    let mut server = socket();
    server.listen(PORT).map_err(|e| format!("smoltcp listen: {e}"))?;
    let rx = sockets_b.add(server);
    let mut client = socket();
    client
        .connect(a.context(), (IpAddress::v4(192, 0, 2, 2), PORT), 49152)
        .map_err(|e| format!("smoltcp connect: {e}"))?;
    let tx = sockets_a.add(client);
    let block = vec![0x5a_u8; BLOCK];
    let mut rbuf = vec![0_u8; 256 << 10];
    let (mut sent, mut received, mut closed) = (0_u64, 0_u64, false);
    let mut last_progress = std::time::Instant::now();
    loop {
        let now = clock();
        let mut moved = false;
        a.poll(now, &mut dev_a, &mut sockets_a);
        moved |= !dev_a.tx.is_empty();
        dev_b.rx.extend(dev_a.tx.drain(..));
        b.poll(now, &mut dev_b, &mut sockets_b);
        moved |= !dev_b.tx.is_empty();
        dev_a.rx.extend(dev_b.tx.drain(..));

        let conn = sockets_a.get_mut::<tcp::Socket<'_>>(tx);
        while sent < bytes && conn.can_send() {
            match conn.send_slice(next_chunk(&block, sent, bytes)) {
                Ok(0) => break,
                Ok(n) => {
                    sent += n as u64;
                    moved = true;
                }
                Err(e) => return Err(format!("smoltcp send: {e}")),
            }
        }
        if sent == bytes && !closed {
            conn.close();
            closed = true;
        }
        let conn = sockets_b.get_mut::<tcp::Socket<'_>>(rx);
        loop {
            match conn.recv_slice(&mut rbuf) {
                Ok(0) => break,
                Ok(n) => {
                    received += n as u64;
                    moved = true;
                }
                Err(tcp::RecvError::Finished) => {
                    let secs = start.elapsed().as_secs_f64();
                    return Ok(Figures {
                        bytes: received,
                        secs,
                        cpu_secs: cpu_seconds() - cpu0,
                        peak_rss_kib: peak_rss_kib(),
                    });
                }
                // Not yet connected.
                Err(tcp::RecvError::InvalidState) => break,
            }
        }
        if moved {
            last_progress = std::time::Instant::now();
        } else {
            if last_progress.elapsed() > STALL {
                return Err(format!("smoltcp stuck after {received} of {bytes} bytes"));
            }
            let now = clock();
            let next = [a.poll_delay(now, &sockets_a), b.poll_delay(now, &sockets_b)]
                .into_iter()
                .flatten()
                .min();
            if let Some(wait) = next {
                let wait = std::time::Duration::from_micros(wait.total_micros());
                std::thread::sleep(wait.min(std::time::Duration::from_millis(10)));
            }
        }
    }
}
