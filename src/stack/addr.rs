//! Renumbering: the interface address and gateway changed after `Stack::new`, and the
//! queue of address events users poll.

#[cfg(feature = "proto-ipv4")]
use core::net::Ipv4Addr;

use super::Stack;
use crate::Error;
#[cfg(feature = "proto-ipv6")]
use crate::ip::slaac::SlaacEvent;
use crate::log::net_log;
use crate::tcp::{Endpoint, State};
#[cfg(feature = "proto-ipv4")]
use crate::wire::ipv4::Ipv4Cidr;

/// Address events kept for [`Stack::take_address_event`]; older ones are dropped first.
const EVENTS: usize = 4;

/// A change of the interface's address, for [`Stack::take_address_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressEvent {
    /// The IPv4 address (or prefix) changed; `0.0.0.0/0` means none (feature
    /// `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    Changed {
        /// The address before.
        old: Ipv4Cidr,
        /// The address now.
        new: Ipv4Cidr,
    },
    /// What the DHCP client did (the address change it caused comes first, as
    /// [`AddressEvent::Changed`]).
    #[cfg(feature = "dhcpv4")]
    Dhcp(crate::ip::dhcp::DhcpEvent),
    /// What the IPv6 address configuration did: an address passed DAD or was found
    /// duplicate, a router appeared, ... (feature `proto-ipv6`).
    #[cfg(feature = "proto-ipv6")]
    Ipv6(crate::ip::slaac::SlaacEvent),
}

/// A bounded queue of address events.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AddressEvents {
    ring: [Option<AddressEvent>; EVENTS],
    head: usize,
    epoch: u64,
}

impl<'a> Stack<'a> {
    /// Changes the interface's address and prefix (a new address flushes the ARP cache
    /// and announces itself). Connections whose local address is not the new one are
    /// aborted at once, without a reset (the old address is no longer ours to send
    /// from): their handles report [`Error::ConnectionAborted`], as after
    /// `TcpStream::abort`. Listeners stay; they accept on the new address. Feature
    /// `proto-ipv4`.
    #[cfg(feature = "proto-ipv4")]
    pub fn set_ipv4(&mut self, addr: Ipv4Cidr) {
        let now = self.sockets.now;
        let mut c = *self.iface.config();
        let old = c.addr;
        c.addr = addr;
        self.iface.set_config(now, c);
        let new = addr.address();
        self.sockets.local_ip = new;
        if old != addr {
            self.push_address_event(AddressEvent::Changed { old, new: addr });
        }
        self.abort_connections_from(|local| local.ipv4().is_some_and(|a| a != new));
    }

    /// Aborts every open connection whose local endpoint is `gone`: the address is no
    /// longer ours to send from, so no reset goes out. Their handles report
    /// [`Error::ConnectionAborted`]; listeners are not connections and stay.
    pub(super) fn abort_connections_from(&mut self, gone: impl Fn(&Endpoint) -> bool) {
        for i in 0..self.sockets.slots.len() {
            let Some(conn) = self.sockets.slots[i].conn.as_mut() else {
                continue;
            };
            if gone(&conn.local()) && conn.state() != State::Closed {
                net_log!(info, "tcp: {} aborted, its address is gone", conn.local());
                conn.enter_closed(Some(Error::ConnectionAborted));
                self.sockets.after_change(i);
            }
        }
    }

    /// Changes the IPv6 settings (on or off, a static address, SLAAC). A change restarts
    /// the IPv6 configuration: every address goes through DAD again. Connections from a
    /// static address that the new settings drop (or from any IPv6 address, when IPv6 is
    /// turned off) are aborted as [`Stack::set_ipv4`] aborts those of a replaced IPv4
    /// address; connections from addresses kept go on.
    #[cfg(feature = "proto-ipv6")]
    pub fn set_ipv6(&mut self, ipv6: crate::ip::Ipv6Config) {
        let mut c = *self.iface.config();
        let dropped = c.ipv6.static_addr.map(|a| a.address());
        let kept = ipv6.static_addr.map(|a| a.address());
        let off = !ipv6.enabled;
        self.abort_connections_from(|local| {
            local
                .ipv6()
                .is_some_and(|a| off || (dropped == Some(a) && kept != Some(a)))
        });
        c.ipv6 = ipv6;
        self.iface.set_config(self.sockets.now, c);
        self.refresh_ipv6_sources();
    }

    /// Changes (or removes) the default gateway. Connections are not touched: their
    /// next segment goes to the new next hop. Feature `proto-ipv4`.
    #[cfg(feature = "proto-ipv4")]
    pub fn set_gateway(&mut self, gateway: Option<Ipv4Addr>) {
        let mut c = *self.iface.config();
        c.gateway = gateway;
        self.iface.set_config(self.sockets.now, c);
    }
}

impl<'a> Stack<'a> {
    /// Moves the IPv6 configuration's events to the address-event queue, logged, and
    /// keeps the IPv6 link MTU current.
    #[cfg(feature = "proto-ipv6")]
    pub(super) fn ipv6_events(&mut self) {
        let mut any = false;
        while let Some(e) = self.iface.take_ipv6_event() {
            net_log!(info, "ipv6: {:?}", e);
            if let SlaacEvent::Removed(a) | SlaacEvent::Duplicate(a) = e {
                // RFC 4862 §5.5.4: an address past its valid lifetime is no longer
                // used, by existing connections either; a duplicate was never ours.
                self.abort_connections_from(|local| local.ipv6() == Some(a));
            }
            self.push_address_event(AddressEvent::Ipv6(e));
            any = true;
        }
        if any {
            self.refresh_ipv6_sources();
        }
        // A router's MTU option (RFC 4861 §6.3.4) caps what goes over IPv6.
        let ra = self.iface.slaac().and_then(|s| s.link().mtu);
        let m = self.sockets.mtu;
        self.sockets.mtu6 = ra.map_or(m, |ra| m.min(ra as usize));
    }

    /// The oldest address event not yet taken. At most 4 are kept; when more happen
    /// between two calls the oldest are lost (the epoch still counts them).
    pub fn take_address_event(&mut self) -> Option<AddressEvent> {
        let q = &mut self.addr_events;
        let e = q.ring[q.head].take()?;
        q.head = (q.head + 1) % EVENTS;
        Some(e)
    }

    /// Counts address events since the stack was made: compare it to a value seen
    /// before to learn that the address changed. Each event also moves the socket set's
    /// epoch, so the blocking adapter can wait for a change:
    /// `bs.wait_for(timeout, |s| s.address_epoch() != seen)`.
    pub fn address_epoch(&self) -> u64 {
        self.addr_events.epoch
    }

    pub(super) fn push_address_event(&mut self, e: AddressEvent) {
        let q = &mut self.addr_events;
        let queued = q.ring.iter().filter(|x| x.is_some()).count();
        if queued == EVENTS {
            q.head = (q.head + 1) % EVENTS;
        }
        let at = (q.head + queued.min(EVENTS - 1)) % EVENTS;
        q.ring[at] = Some(e);
        q.epoch += 1;
        // Wake whoever waits on the socket set (the blocking adapter's `wait_for`).
        self.sockets.epoch = self.sockets.epoch.wrapping_add(1);
    }
}

#[cfg(any(feature = "dhcpv4", feature = "dns"))]
impl<'a> Stack<'a> {
    /// The DNS servers the resolver uses: those of the DHCP lease, or set with
    /// [`Stack::set_dns_servers`].
    pub fn dns_servers(&self) -> &[Option<Ipv4Addr>; 3] {
        &self.dns_servers
    }

    /// Sets the DNS servers (a later DHCP lease replaces them).
    pub fn set_dns_servers(&mut self, servers: [Option<Ipv4Addr>; 3]) {
        self.dns_servers = servers;
    }

    /// The IPv6 DNS servers the resolver uses, after the IPv4 ones (feature
    /// `proto-ipv6`).
    #[cfg(all(feature = "proto-ipv6", feature = "dns"))]
    pub fn dns_servers6(&self) -> &[Option<core::net::Ipv6Addr>; 2] {
        &self.dns_servers6
    }

    /// Sets the IPv6 DNS servers, for an interface configured for IPv6 only or as well.
    /// While none is set, the resolver takes those routers advertise (RDNSS, RFC 8106:
    /// `ip::slaac::Slaac::dns_servers`).
    /// Queries reach them from the interface's IPv6 source address for each (RFC 6724);
    /// a link-local server needs the link-local address, any other a usable address
    /// beyond link-local or the link-local one.
    #[cfg(all(feature = "proto-ipv6", feature = "dns"))]
    pub fn set_dns_servers6(&mut self, servers: [Option<core::net::Ipv6Addr>; 2]) {
        self.dns_servers6 = servers;
    }
}

#[cfg(test)]
mod tests {
    /// The memory the clients add to a `Stack` is fixed and small (BENCHMARKS.md).
    #[test]
    fn client_state_is_bounded() {
        use core::mem::size_of;
        std::println!("Stack: {} B", size_of::<super::Stack<'static>>());
        #[cfg(feature = "dhcpv4")]
        {
            let n = size_of::<crate::ip::dhcp::DhcpClient>();
            std::println!("DhcpClient: {n} B");
            assert!(n <= 320);
        }
        #[cfg(feature = "dns")]
        {
            let n = size_of::<crate::dns::Resolver>();
            std::println!("Resolver: {n} B");
            assert!(n <= 2400);
        }
    }
}
