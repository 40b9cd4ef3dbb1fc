//! What the two programs share: the command line and the stack over
//! `EmbassyDevice<TunTapDevice>`.

use std::net::Ipv4Addr;

use embassy_net_tuntap::TunTapDevice;
use tidytcp::drivers::EmbassyDevice;
use tidytcp::socket::HeapStorage;
use tidytcp::socket::asynch::AsyncStack;
use tidytcp::stack::{Config, Stack};
use tidytcp::wire::ethernet::EthernetAddress;
use tidytcp::wire::ipv4::Ipv4Cidr;

/// The stack of these programs: room for 256 connections' wakers and 8 listeners'.
pub type Net = AsyncStack<Stack<'static>, 256, 8>;

/// The command line: `--tap NAME` (tap0), `--ip ADDR/PREFIX` (10.7.0.2/24), `--dns ADDR`
/// (a DNS server, for names), then the program's own arguments in order.
pub struct Options {
    /// The TAP device.
    pub tap: String,
    /// Our address.
    pub ip: Ipv4Cidr,
    /// The DNS server the stack's resolver asks.
    pub dns: Option<Ipv4Addr>,
    /// The program's own arguments.
    pub rest: Vec<String>,
}

/// Parses the command line.
pub fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let (mut tap, mut ip, mut dns, mut rest) =
        ("tap0".to_string(), "10.7.0.2/24".to_string(), None, vec![]);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tap" => tap = args.next().expect("--tap NAME"),
            "--ip" => ip = args.next().expect("--ip ADDR/PREFIX"),
            "--dns" => {
                dns = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .expect("--dns ADDR"),
                )
            }
            _ => rest.push(a),
        }
    }
    Options {
        tap,
        ip: ip.parse().expect("--ip ADDR/PREFIX"),
        dns,
        rest,
    }
}

/// Opens the TAP device through `embassy-net-tuntap` with a MAC made of the address
/// (02:00 and the four octets), and a stack on it, both for the program's lifetime.
pub fn open(o: &Options) -> (EmbassyDevice<TunTapDevice>, &'static Net) {
    let (tap, cidr) = (o.tap.as_str(), o.ip);
    let [a, b, c, d] = cidr.address().octets();
    let mut driver = TunTapDevice::new(tap).expect("open the TAP device");
    driver.set_hardware_address([0x02, 0x00, a, b, c, d]);
    let device = EmbassyDevice::new(driver);
    // The MAC comes from the driver.
    let mac: EthernetAddress = device.mac().expect("an Ethernet driver");
    let cfg = Config::with_os_seed(mac, cidr).expect("seed from the OS");
    let storage = Box::leak(Box::new(HeapStorage::new(256, 8, 65536, 65536)));
    let mut stack = Stack::new(cfg, storage);
    stack.set_dns_servers([o.dns, None, None]);
    let net: &'static Net = Box::leak(Box::new(AsyncStack::new(stack)));
    (device, net)
}
