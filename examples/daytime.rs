//! A daytime client (RFC 867), as in the write-up this crate's socket layer answers
//! (`kyu-bsd-tcp-close-and-shutdown.txt`): connect to a daytime server, print what it
//! sends, see its FIN (end of stream), close tidily, and show the socket table before
//! and after — the slot is freed once, when both the user and the protocol are done.
//!
//! ```text
//! sudo scripts/netns.sh up
//! sudo ip netns exec tidytcp socat TCP-LISTEN:13,fork,reuseaddr SYSTEM:date &
//! sudo ip netns exec tidytcp cargo run --release --example daytime -- --tap tap0 --ip 10.7.0.2/24
//! ```
//!
//! Own options: `--server HOST[:PORT]` (default 10.7.0.1:13), where HOST is an address
//! (an IPv6 one in brackets when a port follows: `[fd00:7::1]:13`) or a name resolved
//! through the stack's DNS resolver (servers from `--dhcp` or `--dns`); `--dns ADDR` sets
//! a DNS server, IPv4 or IPv6; `--family 4|6|any` says which addresses a name is
//! resolved to (default `any`: IPv6 first when the interface has a usable IPv6 address
//! beyond link-local, see `Stack::resolve_ip`). With `--dhcp` it waits for a lease
//! first, and for an IPv6 address when configured with `--ip 0.0.0.0/0 --ip6 ...` (IPv6
//! only). Exits 0 once the slot is free, 1 on an error (a name that cannot be resolved
//! says why) or after 30 s.
//!
//! ```text
//! daytime --ip 0.0.0.0/0 --mac 02:00:0a:0a:00:03 --ip6 fd00:7::3/64 --dns fd00:7::1 --server daytime6.test
//! ```

#[path = "common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::task::Poll;

use common::{App, Options, Step};
use tidytcp::dns::{Family, QueryHandle};
use tidytcp::socket::{HeapStorage, SocketSet, TcpStream};
use tidytcp::stack::Stack;
use tidytcp::{Duration, Error, Instant};

const USAGE: &str = "daytime [--server HOST[:PORT]] [--dns ADDR] [--family 4|6|any]";

fn table(when: &str, set: &SocketSet<'_>) {
    println!(
        "socket table {when}: {} connection slot(s) in use",
        set.in_use()
    );
    for s in set.sockets().filter(|s| !s.listener) {
        println!("  {s}");
    }
}

enum Phase<'a> {
    Start,
    Resolving(QueryHandle),
    Reading(TcpStream<'a>),
    Closing,
}

struct Daytime<'a> {
    host: String,
    port: u16,
    family: Family,
    phase: Phase<'a>,
    text: Vec<u8>,
    deadline: Option<Instant>,
}

impl<'a> App<'a> for Daytime<'a> {
    fn describe(&self) -> String {
        format!("daytime client for {}:{}", self.host, self.port)
    }

    fn step(&mut self, stack: &mut Stack<'a>, now: Instant) -> Step {
        let deadline = *self.deadline.get_or_insert(now + Duration::from_secs(30));
        if now >= deadline {
            eprintln!("daytime: no answer and close within 30 s");
            return Step::Exit(1);
        }
        match std::mem::replace(&mut self.phase, Phase::Start) {
            Phase::Start if !has_address(stack, self.family) => {
                // --dhcp, or IPv6 only: no address yet.
            }
            Phase::Start => match stack.resolve_ip(&self.host, self.family) {
                Ok(q) => self.phase = Phase::Resolving(q),
                Err(e) => {
                    eprintln!("daytime: resolve {}: {e}", self.host);
                    return Step::Exit(1);
                }
            },
            Phase::Resolving(q) => match stack.query_result_ip(&q) {
                Poll::Pending => self.phase = Phase::Resolving(q),
                Poll::Ready(Err(e)) => {
                    eprintln!("daytime: resolve {}: {e}", self.host);
                    return Step::Exit(1);
                }
                Poll::Ready(Ok(ip)) => {
                    println!("resolved {} to {ip}", self.host);
                    match stack.connect(SocketAddr::new(ip, self.port)) {
                        Ok(s) => {
                            table("after connect()", stack);
                            self.phase = Phase::Reading(s);
                        }
                        Err(e) => {
                            eprintln!("daytime: connect: {e}");
                            return Step::Exit(1);
                        }
                    }
                }
            },
            Phase::Reading(mut s) => {
                let mut buf = [0u8; 512];
                loop {
                    match s.read(stack, &mut buf) {
                        Ok(0) => {
                            let text = String::from_utf8_lossy(&self.text);
                            println!("received {} bytes: {:?}", self.text.len(), text);
                            println!("daytime: {}", text.trim_end());
                            table("after the server's FIN (end of stream)", stack);
                            s.close(stack);
                            table("after close()", stack);
                            self.phase = Phase::Closing;
                            break;
                        }
                        Ok(n) => self.text.extend_from_slice(&buf[..n]),
                        Err(Error::WouldBlock) => {
                            self.phase = Phase::Reading(s);
                            break;
                        }
                        Err(e) => {
                            eprintln!("daytime: read: {e}");
                            table("after the error", stack);
                            s.close(stack);
                            return Step::Exit(1);
                        }
                    }
                }
            }
            Phase::Closing => {
                if stack.in_use() == 0 {
                    table("once the protocol is done too (slot freed)", stack);
                    return Step::Exit(0);
                }
                self.phase = Phase::Closing;
            }
        }
        Step::Continue(Some(deadline))
    }
}

/// Whether the interface has an address a lookup of `family` can use: IPv4, or IPv6
/// beyond link-local.
fn has_address(stack: &Stack<'_>, family: Family) -> bool {
    let v4 = !stack.interface().address().is_unspecified();
    let v6 = stack
        .interface()
        .ipv6_source_for(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 1))
        .is_some_and(|a| !a.is_unicast_link_local());
    match family {
        Family::Ipv4 => v4,
        Family::Ipv6 => v6,
        Family::Either => v4 || v6,
    }
}

/// `HOST[:PORT]`, `[V6ADDR]:PORT` or a bare IPv6 address; the port defaults to 13.
fn parse_server(v: &str) -> Option<(String, u16)> {
    if let Some(rest) = v.strip_prefix('[') {
        let (h, p) = rest.split_once(']')?;
        let port = match p.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if p.is_empty() => 13,
            None => return None,
        };
        return Some((h.to_string(), port));
    }
    if v.parse::<Ipv6Addr>().is_ok() {
        return Some((v.to_string(), 13));
    }
    let (h, p) = match v.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (v, 13),
    };
    (!h.is_empty()).then(|| (h.to_string(), p))
}

fn main() {
    let opts = Options::parse(USAGE);
    let (mut host, mut port) = ("10.7.0.1".to_string(), 13u16);
    let mut dns: Option<IpAddr> = None;
    let mut family = Family::Either;
    let mut it = opts.rest.iter();
    while let Some(k) = it.next() {
        match (k.as_str(), it.next()) {
            ("--server", Some(v)) => {
                (host, port) = parse_server(v)
                    .unwrap_or_else(|| common::usage_exit(USAGE, &format!("bad server {v:?}")));
            }
            ("--family", Some(v)) => {
                family = match v.as_str() {
                    "4" => Family::Ipv4,
                    "6" => Family::Ipv6,
                    "any" => Family::Either,
                    _ => common::usage_exit(USAGE, &format!("bad family {v:?}")),
                }
            }
            ("--dns", Some(v)) => {
                dns = Some(v.parse().unwrap_or_else(|_| {
                    common::usage_exit(USAGE, &format!("bad DNS server {v:?}"))
                }))
            }
            _ => common::usage_exit(USAGE, &format!("unknown option {k}")),
        }
    }
    let mut storage = HeapStorage::new(4, 2, 4096, 4096);
    let mut stack = Stack::new(opts.config(), &mut storage);
    match dns {
        Some(IpAddr::V4(a)) => stack.set_dns_servers([Some(a), None, None]),
        Some(IpAddr::V6(a)) => stack.set_dns_servers6([Some(a), None]),
        None => {}
    }
    let mut app = Daytime {
        host,
        port,
        family,
        phase: Phase::Start,
        text: Vec::new(),
        deadline: None,
    };
    let code = common::run(&opts, &mut stack, &mut app);
    std::process::exit(code);
}
