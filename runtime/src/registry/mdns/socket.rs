//! The multicast socket: 224.0.0.251:5353, joined on every interface that can carry multicast
//! (loopback too, when it can), shared with other mDNS responders on the host.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// mDNS's IPv4 group and port.
pub(crate) const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
pub(crate) const PORT: u16 = 5353;

/// A bound, joined socket and the interfaces it sends on.
#[derive(Debug)]
pub(crate) struct Multicast {
    pub(crate) socket: UdpSocket,
    interfaces: Vec<Ipv4Addr>,
}

impl Multicast {
    /// Binds `0.0.0.0:5353` (sharing it with other responders) and joins the group on every
    /// multicast-capable IPv4 interface. Fails when there is none.
    pub(crate) fn open() -> io::Result<Multicast> {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_address(true)?;
        #[cfg(unix)]
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.set_multicast_loop_v4(true)?;
        socket.set_multicast_ttl_v4(255)?;
        socket.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).into())?;
        let mut interfaces = Vec::new();
        let mut last_error = None;
        for interface in candidate_interfaces() {
            match socket.join_multicast_v4(&GROUP, &interface) {
                Ok(()) => interfaces.push(interface),
                Err(err) => last_error = Some(err),
            }
        }
        if interfaces.is_empty() {
            return Err(
                last_error.unwrap_or_else(|| io::Error::other("no interface can carry multicast"))
            );
        }
        let socket = UdpSocket::from_std(socket.into())?;
        Ok(Multicast { socket, interfaces })
    }

    /// Sends `packet` to the group on every joined interface; succeeds if any send did.
    pub(crate) async fn send_to_group(&self, packet: &[u8]) -> io::Result<()> {
        let group = SocketAddr::V4(SocketAddrV4::new(GROUP, PORT));
        let mut last_error = None;
        let mut sent = false;
        for interface in &self.interfaces {
            let socket = socket2::SockRef::from(&self.socket);
            if let Err(err) = socket.set_multicast_if_v4(interface) {
                last_error = Some(err);
                continue;
            }
            match self.socket.send_to(packet, group).await {
                Ok(_) => sent = true,
                Err(err) => last_error = Some(err),
            }
        }
        match (sent, last_error) {
            (true, _) | (false, None) => Ok(()),
            (false, Some(err)) => Err(err),
        }
    }
}

/// IPv4 interfaces to use: every non-loopback one, plus loopback (for processes on this host,
/// and the only choice on a loopback-only machine). Joining fails harmlessly on interfaces
/// without multicast.
fn candidate_interfaces() -> Vec<Ipv4Addr> {
    let mut interfaces: Vec<Ipv4Addr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|interface| match interface.ip() {
            std::net::IpAddr::V4(ip) => Some(ip),
            std::net::IpAddr::V6(_) => None,
        })
        .collect();
    interfaces.sort_by_key(|ip| ip.is_loopback());
    interfaces.dedup();
    interfaces
}
