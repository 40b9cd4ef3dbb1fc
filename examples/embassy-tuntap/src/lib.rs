//! What the two programs share: the command line and the stack over
//! `EmbassyDevice<TunTapDevice>`.

use embassy_net_tuntap::TunTapDevice;
use tidytcp::drivers::EmbassyDevice;
use tidytcp::socket::HeapStorage;
use tidytcp::socket::asynch::AsyncStack;
use tidytcp::stack::{Config, Stack};
use tidytcp::wire::ethernet::EthernetAddress;
use tidytcp::wire::ipv4::Ipv4Cidr;

/// The stack of these programs: room for 256 connections' wakers and 8 listeners'.
pub type Net = AsyncStack<Stack<'static>, 256, 8>;

/// `--tap NAME` (tap0) and `--ip ADDR/PREFIX` (10.7.0.2/24), then the program's own
/// arguments, returned in order.
pub fn options() -> (String, Ipv4Cidr, Vec<String>) {
    let mut args = std::env::args().skip(1);
    let (mut tap, mut ip, mut rest) = ("tap0".to_string(), "10.7.0.2/24".to_string(), vec![]);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tap" => tap = args.next().expect("--tap NAME"),
            "--ip" => ip = args.next().expect("--ip ADDR/PREFIX"),
            _ => rest.push(a),
        }
    }
    (tap, ip.parse().expect("--ip ADDR/PREFIX"), rest)
}

/// Opens the TAP device through `embassy-net-tuntap` with a MAC made of the address
/// (02:00 and the four octets), and a stack on it, both for the program's lifetime.
pub fn open(tap: &str, cidr: Ipv4Cidr) -> (EmbassyDevice<TunTapDevice>, &'static Net) {
    let [a, b, c, d] = cidr.address().octets();
    let mut driver = TunTapDevice::new(tap).expect("open the TAP device");
    driver.set_hardware_address([0x02, 0x00, a, b, c, d]);
    let device = EmbassyDevice::new(driver);
    // The MAC comes from the driver.
    let mac: EthernetAddress = device.mac().expect("an Ethernet driver");
    let cfg = Config::with_os_seed(mac, cidr).expect("seed from the OS");
    let storage = Box::leak(Box::new(HeapStorage::new(256, 8, 65536, 65536)));
    let net: &'static Net = Box::leak(Box::new(AsyncStack::new(Stack::new(cfg, storage))));
    (device, net)
}
