//! The `embedded-nal` traits, so that clients written against them (reqwless, minimq,
//! rust-mqtt's and embedded-tls's transports) run on tidytcp:
//!
//! - [`TcpClient`] (feature `embedded-nal-async`): `embedded_nal_async::TcpConnect` and
//!   `Dns` on an [`AsyncStack`](super::asynch::AsyncStack). Its connections are the async
//!   [`TcpStream`](super::asynch::TcpStream)s, so `embedded-io-async` `Read`/`Write`
//!   come with them; they use the stack's own slots (no extra pool), and a dropped one
//!   is closed.
//! - [`NalStack`] (feature `embedded-nal`): `embedded_nal::TcpClientStack` and
//!   `TcpFullStack` on a [`SharedStack`](super::shared::SharedStack), for super-loop
//!   clients that poll with `nb`.
//!
//! Connections go to IPv4 peers with the `proto-ipv4` feature and to IPv6 peers with
//! `proto-ipv6` (an address of a family the build lacks is `InvalidInput`). `Dns` resolves names to IPv4 addresses with the
//! stack's resolver (feature `dns`); without it, only address literals (`"10.0.0.1"`),
//! and `Unsupported` for names.

#[cfg(feature = "embedded-nal-async")]
pub use client::TcpClient;
#[cfg(feature = "embedded-nal")]
pub use full::{NalSocket, NalStack};

#[cfg(feature = "embedded-nal-async")]
mod client {
    use core::marker::PhantomData;
    use core::net::{IpAddr, SocketAddr};

    use embedded_nal_async::{AddrType, Dns, TcpConnect};

    use crate::error::{Error, Result};
    use crate::socket::SocketSet;
    use crate::socket::asynch::{AsyncStack, TcpStream};
    use crate::time::Duration;

    /// `embedded_nal_async::TcpConnect` and `Dns` on an [`AsyncStack`].
    ///
    /// ```ignore
    /// let client = TcpClient::new(net);
    /// let mut http = reqwless::client::HttpClient::new(&client, &client);
    /// ```
    pub struct TcpClient<'n, 'a, T, const N: usize, const L: usize> {
        net: &'n AsyncStack<T, N, L>,
        timeout: Option<Duration>,
        _set: PhantomData<fn() -> SocketSet<'a>>,
    }

    impl<'n, 'a, T, const N: usize, const L: usize> TcpClient<'n, 'a, T, N, L>
    where
        T: AsMut<SocketSet<'a>> + Send,
    {
        /// A client of `net`; `connect` waits as long as the stack's SYN retries allow.
        pub fn new(net: &'n AsyncStack<T, N, L>) -> Self {
            TcpClient {
                net,
                timeout: None,
                _set: PhantomData,
            }
        }

        /// Bounds every `connect` to `timeout` ([`AsyncStack::connect_timeout`]).
        pub fn with_connect_timeout(mut self, timeout: impl Into<Duration>) -> Self {
            self.timeout = Some(timeout.into());
            self
        }
    }

    impl<'n, 'a, T, const N: usize, const L: usize> TcpConnect for TcpClient<'n, 'a, T, N, L>
    where
        T: AsMut<SocketSet<'a>> + Send,
        'a: 'n,
    {
        type Error = Error;
        type Connection<'c>
            = TcpStream<'c, 'a>
        where
            Self: 'c;

        async fn connect<'c>(&'c self, remote: SocketAddr) -> Result<TcpStream<'c, 'a>> {
            match self.timeout {
                Some(t) => self.net.connect_timeout(remote, t).await,
                None => self.net.connect(remote).await,
            }
        }
    }

    /// With the resolver (feature `dns`): names are looked up by the stack, `AddrType`
    /// mapped to `dns::Family` (`Either` prefers IPv6 when the interface can reach it);
    /// a reverse lookup is `DnsError::Unsupported`.
    #[cfg(feature = "dns")]
    impl<'a, T, const N: usize, const L: usize> Dns for TcpClient<'_, 'a, T, N, L>
    where
        T: AsMut<SocketSet<'a>> + Send + crate::socket::Resolve,
    {
        type Error = crate::dns::DnsError;

        async fn get_host_by_name(
            &self,
            host: &str,
            addr_type: AddrType,
        ) -> core::result::Result<IpAddr, Self::Error> {
            use crate::dns::Family;
            let family = match addr_type {
                AddrType::IPv4 => Family::Ipv4,
                AddrType::IPv6 => Family::Ipv6,
                AddrType::Either => Family::Either,
            };
            self.net.resolve_ip(host, family).await
        }

        async fn get_host_by_address(
            &self,
            _addr: IpAddr,
            _result: &mut [u8],
        ) -> core::result::Result<usize, Self::Error> {
            Err(crate::dns::DnsError::Unsupported)
        }
    }

    #[cfg(not(feature = "dns"))]
    impl<'a, T, const N: usize, const L: usize> Dns for TcpClient<'_, 'a, T, N, L>
    where
        T: AsMut<SocketSet<'a>> + Send,
    {
        type Error = Error;

        /// An address literal is its own answer; a name is `Unsupported` until the
        /// stack has a resolver; `AddrType::IPv6` is `Unsupported`.
        async fn get_host_by_name(&self, host: &str, addr_type: AddrType) -> Result<IpAddr> {
            if addr_type == AddrType::IPv6 {
                return Err(Error::Unsupported);
            }
            match host.parse::<IpAddr>() {
                Ok(ip @ IpAddr::V4(_)) => Ok(ip),
                Ok(IpAddr::V6(_)) => Err(Error::Unsupported),
                Err(_) => Err(Error::Unsupported),
            }
        }

        /// Reverse lookups are not offered.
        async fn get_host_by_address(&self, _addr: IpAddr, _result: &mut [u8]) -> Result<usize> {
            Err(Error::Unsupported)
        }
    }
}

#[cfg(feature = "embedded-nal")]
mod full {
    use core::marker::PhantomData;
    use core::net::SocketAddr;

    use embedded_nal::{TcpClientStack, TcpError, TcpErrorKind, TcpFullStack};

    use crate::error::Error;
    use crate::socket::SocketSet;
    use crate::socket::shared::{SharedStack, TcpListener, TcpStream};
    use crate::tcp::State;

    /// An `embedded-nal` socket of a [`SharedStack`]: made unconnected by `socket()`,
    /// then connected, or bound and listening.
    #[derive(Debug)]
    pub enum NalSocket<'s, 'a> {
        /// Made, not yet connected or bound.
        Unbound,
        /// Bound to a local port, not yet listening.
        Bound(u16),
        /// Connecting or connected.
        Stream(TcpStream<'s, 'a>),
        /// Listening; `accept` takes its connections.
        Listener(TcpListener<'s, 'a>),
    }

    impl TcpError for Error {
        fn kind(&self) -> TcpErrorKind {
            match self {
                Error::BrokenPipe
                | Error::ConnectionReset
                | Error::ConnectionAborted
                | Error::NotConnected => TcpErrorKind::PipeClosed,
                _ => TcpErrorKind::Other,
            }
        }
    }

    /// `WouldBlock` becomes `nb::Error::WouldBlock`, every other error `Other`.
    fn nb<T>(r: crate::Result<T>) -> nb::Result<T, Error> {
        r.map_err(|e| match e {
            Error::WouldBlock => nb::Error::WouldBlock,
            e => nb::Error::Other(e),
        })
    }

    /// The backlog of a listener made through `TcpFullStack::listen`.
    const BACKLOG: usize = 4;

    /// `embedded_nal::TcpClientStack` and `TcpFullStack` on a [`SharedStack`]; copy it
    /// freely, every copy reaches the same stack.
    pub struct NalStack<'s, 'a, T> {
        net: &'s SharedStack<T>,
        _set: PhantomData<fn() -> SocketSet<'a>>,
    }

    impl<T> Clone for NalStack<'_, '_, T> {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl<T> Copy for NalStack<'_, '_, T> {}

    impl<'s, 'a, T> NalStack<'s, 'a, T>
    where
        T: AsMut<SocketSet<'a>> + Send,
    {
        /// The `embedded-nal` view of `net`.
        pub fn new(net: &'s SharedStack<T>) -> Self {
            NalStack {
                net,
                _set: PhantomData,
            }
        }
    }

    impl<'s, 'a: 's, T> TcpClientStack for NalStack<'s, 'a, T>
    where
        T: AsMut<SocketSet<'a>> + Send,
    {
        type TcpSocket = NalSocket<'s, 'a>;
        type Error = Error;

        fn socket(&mut self) -> Result<NalSocket<'s, 'a>, Error> {
            Ok(NalSocket::Unbound)
        }

        /// Starts the connection on the first call (`WouldBlock` while the handshake runs),
        /// `Ok` once established, the error if it failed.
        fn connect(
            &mut self,
            socket: &mut NalSocket<'s, 'a>,
            remote: SocketAddr,
        ) -> nb::Result<(), Error> {
            if let NalSocket::Unbound = socket {
                *socket = NalSocket::Stream(self.net.connect(remote)?);
            }
            let NalSocket::Stream(s) = socket else {
                return Err(nb::Error::Other(Error::InvalidInput));
            };
            match s.state() {
                State::SynSent | State::SynReceived => Err(nb::Error::WouldBlock),
                State::Closed => Err(nb::Error::Other(s.error().unwrap_or(Error::NotConnected))),
                _ => Ok(()),
            }
        }

        fn send(
            &mut self,
            socket: &mut NalSocket<'s, 'a>,
            buffer: &[u8],
        ) -> nb::Result<usize, Error> {
            match socket {
                NalSocket::Stream(s) => nb(s.write(buffer)),
                _ => Err(nb::Error::Other(Error::NotConnected)),
            }
        }

        fn receive(
            &mut self,
            socket: &mut NalSocket<'s, 'a>,
            buffer: &mut [u8],
        ) -> nb::Result<usize, Error> {
            match socket {
                NalSocket::Stream(s) => nb(s.read(buffer)),
                _ => Err(nb::Error::Other(Error::NotConnected)),
            }
        }

        fn close(&mut self, socket: NalSocket<'s, 'a>) -> Result<(), Error> {
            match socket {
                NalSocket::Stream(s) => s.close(),
                NalSocket::Listener(l) => l.close(),
                NalSocket::Unbound | NalSocket::Bound(_) => {}
            }
            Ok(())
        }
    }

    impl<'s, 'a: 's, T> TcpFullStack for NalStack<'s, 'a, T>
    where
        T: AsMut<SocketSet<'a>> + Send,
    {
        fn bind(&mut self, socket: &mut NalSocket<'s, 'a>, local_port: u16) -> Result<(), Error> {
            match socket {
                NalSocket::Unbound if local_port != 0 => {
                    *socket = NalSocket::Bound(local_port);
                    Ok(())
                }
                _ => Err(Error::InvalidInput),
            }
        }

        fn listen(&mut self, socket: &mut NalSocket<'s, 'a>) -> Result<(), Error> {
            let NalSocket::Bound(port) = *socket else {
                return Err(Error::InvalidInput);
            };
            *socket = NalSocket::Listener(self.net.listen(port, BACKLOG)?);
            Ok(())
        }

        fn accept(
            &mut self,
            socket: &mut NalSocket<'s, 'a>,
        ) -> nb::Result<(NalSocket<'s, 'a>, SocketAddr), Error> {
            let NalSocket::Listener(l) = socket else {
                return Err(nb::Error::Other(Error::InvalidInput));
            };
            let (s, peer) = nb(l.accept())?;
            Ok((NalSocket::Stream(s), peer))
        }
    }
}
