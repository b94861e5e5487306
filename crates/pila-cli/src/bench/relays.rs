//! The relays of the `proxy` scenario built on the stacks tun2socks-style proxies use today
//! (the crates.io releases): ipstack (under tun2proxy) and netstack-smoltcp, each reading
//! the TUN through the `tun` crate, as their own examples do, and relaying every TCP
//! connection to its destination with `tokio::io::copy_bidirectional`. Started in the
//! middle namespace as `pila bench --relay STACK --tun NAME`; they say `relay: ready` on
//! stderr once the TUN is open.

use futures::{SinkExt as _, StreamExt as _};
use std::net::SocketAddr;

/// A stack a relay is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Relay {
    Ipstack,
    #[value(name = "netstack-smoltcp")]
    NetstackSmoltcp,
}

/// Runs the relay on the TUN `name` until killed.
pub(crate) fn run(relay: Relay, name: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let mut config = tun::Configuration::default();
        config.tun_name(name).mtu(1500).up();
        let device = tun::create_as_async(&config)
            .map_err(|e| format!("cannot open the TUN {name}: {e}"))?;
        match relay {
            Relay::Ipstack => ipstack_relay(device).await,
            Relay::NetstackSmoltcp => netstack_relay(device).await,
        }
    })
}

/// Connects to `dst` and copies both ways until both ends close.
async fn splice<S>(mut downstream: S, dst: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Ok(mut upstream) = tokio::net::TcpStream::connect(dst).await {
        let _ = upstream.set_nodelay(true);
        let _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await;
    }
}

async fn ipstack_relay(device: tun::AsyncDevice) -> Result<(), String> {
    let mut config = ipstack::IpStackConfig::default();
    config.mtu(1500).map_err(|e| format!("ipstack: {e}"))?;
    let mut stack = ipstack::IpStack::new(config, device);
    eprintln!("relay: ready");
    loop {
        match stack.accept().await {
            Ok(ipstack::IpStackStream::Tcp(tcp)) => {
                let dst = tcp.peer_addr();
                tokio::spawn(splice(tcp, dst));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("ipstack: {e}")),
        }
    }
}

async fn netstack_relay(device: tun::AsyncDevice) -> Result<(), String> {
    let (stack, runner, _udp, listener) = netstack_smoltcp::StackBuilder::default()
        .enable_tcp(true)
        .enable_udp(false)
        .mtu(1500)
        .build()
        .map_err(|e| format!("netstack-smoltcp: {e}"))?;
    let mut listener = listener.ok_or("netstack-smoltcp made no TCP listener")?;
    if let Some(runner) = runner {
        tokio::spawn(runner);
    }
    let (mut stack_sink, mut stack_stream) = stack.split();
    let (mut tun_sink, mut tun_stream) = device.into_framed().split();
    tokio::spawn(async move {
        while let Some(Ok(packet)) = stack_stream.next().await {
            if tun_sink.send(packet).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(Ok(packet)) = tun_stream.next().await {
            if stack_sink.send(packet).await.is_err() {
                return;
            }
        }
    });
    eprintln!("relay: ready");
    while let Some((tcp, _client, dst)) = listener.next().await {
        tokio::spawn(splice(tcp, dst));
    }
    Err("netstack-smoltcp's listener ended".into())
}
