//! The classic inetd "small services" on one tidytcp stack over a TAP device: echo (7),
//! discard (9), daytime (13) and chargen (19, RFC 864), each taking many connections at
//! once through its listener's accept queue.
//!
//! ```text
//! sudo scripts/netns.sh up
//! sudo ip netns exec tidytcp cargo run --release --example inetd -- --tap tap0 --ip 10.7.0.2/24
//! # from the namespace: nc 10.7.0.2 7, nc 10.7.0.2 19 | head, nc 10.7.0.2 7777 (status)
//! ```
//!
//! Own options: `--conns N` connection slots (default 256), `--buf BYTES` per-direction
//! buffer of each connection (default 65536), `--quiet` (no line per connection),
//! `--cc newreno|cubic|bbr` congestion control (default NewReno).
//! Each connection ends with one log line: service, peer, bytes each way, how it ended.

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::net::{SocketAddr, SocketAddrV4};

use common::{App, Options, Step};
use tidytcp::socket::{HeapStorage, TcpListener, TcpStream};
use tidytcp::stack::Stack;
use tidytcp::tcp::cc::Algorithm;
use tidytcp::{Error, Instant};

const USAGE: &str = "inetd [--conns N] [--buf BYTES] [--quiet] [--cc newreno|cubic|bbr]";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Echo,
    Discard,
    Daytime,
    Chargen,
}

impl Service {
    const ALL: [(Service, u16); 4] = [
        (Service::Echo, 7),
        (Service::Discard, 9),
        (Service::Daytime, 13),
        (Service::Chargen, 19),
    ];
    fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Discard => "discard",
            Service::Daytime => "daytime",
            Service::Chargen => "chargen",
        }
    }
}

/// RFC 864's character generator: 95 printable characters, lines of 72 starting one
/// character further each time, CR LF after each. The stream repeats every 95 lines.
struct Chargen {
    period: Vec<u8>,
}

impl Chargen {
    fn new() -> Self {
        let mut period = Vec::with_capacity(95 * 74);
        for line in 0..95 {
            for col in 0..72 {
                period.push(b' ' + ((line + col) % 95) as u8);
            }
            period.extend_from_slice(b"\r\n");
        }
        Chargen { period }
    }
    /// Fills `buf` with the stream from position `pos`.
    fn fill(&self, pos: u64, buf: &mut [u8]) {
        let p = self.period.len();
        let mut at = (pos % p as u64) as usize;
        let mut done = 0;
        while done < buf.len() {
            let n = (p - at).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&self.period[at..at + n]);
            done += n;
            at = 0;
        }
    }
}

struct Conn<'a> {
    stream: TcpStream<'a>,
    service: Service,
    peer: SocketAddr,
    bytes_in: u64,
    bytes_out: u64,
}

enum Outcome {
    Open,
    /// The peer closed its side; we closed ours after the last byte.
    PeerClosedFirst,
    /// We closed first (daytime).
    WeClosedFirst,
    Failed(Error),
}

struct Inetd<'a> {
    listeners: Vec<(Service, TcpListener<'a>)>,
    conns: Vec<Conn<'a>>,
    chargen: Chargen,
    buf: Vec<u8>,
    quiet: bool,
    served: [u64; 4],
}

impl<'a> Inetd<'a> {
    /// Moves one connection on; says whether it is over (its handle then closed).
    fn serve(&mut self, stack: &mut Stack<'a>, c: &mut Conn<'a>) -> Outcome {
        let s = &mut c.stream;
        match c.service {
            Service::Echo => loop {
                // Read only what can be written back at once: nothing is held here.
                let room = s.send_capacity(stack).min(self.buf.len());
                if room == 0 {
                    // Still notice a reset while the peer is not reading.
                    if let Some(e) = s.error(stack) {
                        return Outcome::Failed(e);
                    }
                    return Outcome::Open;
                }
                match s.read(stack, &mut self.buf[..room]) {
                    Ok(0) => return Outcome::PeerClosedFirst,
                    Ok(n) => {
                        c.bytes_in += n as u64;
                        match s.write(stack, &self.buf[..n]) {
                            Ok(w) => c.bytes_out += w as u64,
                            Err(e) => return Outcome::Failed(e),
                        }
                    }
                    Err(Error::WouldBlock) => return Outcome::Open,
                    Err(e) => return Outcome::Failed(e),
                }
            },
            Service::Discard => loop {
                match s.read_with(stack, |d| d.len()) {
                    Ok(0) => return Outcome::PeerClosedFirst,
                    Ok(n) => c.bytes_in += n as u64,
                    Err(Error::WouldBlock) => return Outcome::Open,
                    Err(e) => return Outcome::Failed(e),
                }
            },
            Service::Daytime => {
                // Whatever the client sends is read and ignored (so that closing does
                // not turn into a reset); the answer goes out once, then FIN.
                loop {
                    match s.read_with(stack, |d| d.len()) {
                        Ok(n @ 1..) => c.bytes_in += n as u64,
                        Err(Error::WouldBlock) | Ok(0) => break,
                        Err(e) => return Outcome::Failed(e),
                    }
                }
                let line = common::daytime_line();
                match s.write(stack, line.as_bytes()) {
                    Ok(n) => c.bytes_out += n as u64,
                    Err(e) => return Outcome::Failed(e),
                }
                Outcome::WeClosedFirst
            }
            Service::Chargen => {
                loop {
                    match s.read_with(stack, |d| d.len()) {
                        Ok(0) => return Outcome::PeerClosedFirst,
                        Ok(n) => c.bytes_in += n as u64,
                        Err(Error::WouldBlock) => break,
                        Err(e) => return Outcome::Failed(e),
                    }
                }
                let chargen = &self.chargen;
                loop {
                    let pos = c.bytes_out;
                    match s.write_with(stack, |b| {
                        chargen.fill(pos, b);
                        b.len()
                    }) {
                        Ok(0) | Err(Error::WouldBlock) => return Outcome::Open,
                        Ok(n) => c.bytes_out += n as u64,
                        Err(e) => return Outcome::Failed(e),
                    }
                }
            }
        }
    }
}

impl<'a> App<'a> for Inetd<'a> {
    fn describe(&self) -> String {
        let list: Vec<String> = Service::ALL
            .iter()
            .map(|(s, p)| format!("{}:{p}", s.name()))
            .collect();
        format!("inetd {}", list.join(" "))
    }

    fn step(&mut self, stack: &mut Stack<'a>, _now: Instant) -> Step {
        for (service, l) in &self.listeners {
            while let Ok((stream, _)) = l.accept(stack) {
                let peer = stream
                    .peer_addr(stack)
                    .unwrap_or(SocketAddrV4::new([0; 4].into(), 0).into());
                self.conns.push(Conn {
                    stream,
                    service: *service,
                    peer,
                    bytes_in: 0,
                    bytes_out: 0,
                });
            }
        }
        let mut i = 0;
        while i < self.conns.len() {
            let mut c = self.conns.swap_remove(i);
            let outcome = self.serve(stack, &mut c);
            let how = match outcome {
                Outcome::Open => {
                    // Put it back where it was.
                    self.conns.push(c);
                    let last = self.conns.len() - 1;
                    self.conns.swap(i, last);
                    i += 1;
                    continue;
                }
                Outcome::PeerClosedFirst => "peer closed first, closed".to_string(),
                Outcome::WeClosedFirst => "closed first".to_string(),
                Outcome::Failed(e) => format!("failed: {e}"),
            };
            let idx = Service::ALL.iter().position(|(s, _)| *s == c.service);
            self.served[idx.unwrap_or(0)] += 1;
            if !self.quiet {
                println!(
                    "{} {}: in {} out {} bytes, {how}",
                    c.service.name(),
                    c.peer,
                    c.bytes_in,
                    c.bytes_out
                );
            }
            c.stream.close(stack);
        }
        Step::Continue(None)
    }

    fn report(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "inetd: {} open; served echo {} discard {} daytime {} chargen {}",
            self.conns.len(),
            self.served[0],
            self.served[1],
            self.served[2],
            self.served[3]
        );
    }
}

fn main() {
    let opts = Options::parse(USAGE);
    let (mut conns, mut buf, mut quiet) = (256usize, 65_536usize, false);
    let mut config = opts.config();
    let mut it = opts.rest.iter();
    while let Some(k) = it.next() {
        if k == "--cc" {
            config.tcp.congestion = match it.next().map(String::as_str) {
                Some("newreno") => Algorithm::NewReno,
                Some("cubic") => Algorithm::Cubic,
                Some("bbr") => Algorithm::Bbr,
                _ => common::usage_exit(USAGE, "--cc needs newreno, cubic or bbr"),
            };
            continue;
        }
        let mut num = || {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| common::usage_exit(USAGE, &format!("{k} needs a number")))
        };
        match k.as_str() {
            "--conns" => conns = num(),
            "--buf" => buf = num(),
            "--quiet" => quiet = true,
            _ => common::usage_exit(USAGE, &format!("unknown option {k}")),
        }
    }
    // Room for the status port's connections as well.
    let mut storage = HeapStorage::new(conns + 8, 8, buf, buf);
    let mut stack = Stack::new(config, &mut storage);
    let mut listeners = Vec::new();
    for (service, port) in Service::ALL {
        match stack.listen(port, conns) {
            Ok(l) => listeners.push((service, l)),
            Err(e) => {
                eprintln!("cannot listen on {port}: {e}");
                std::process::exit(1);
            }
        }
    }
    let mut app = Inetd {
        listeners,
        conns: Vec::new(),
        chargen: Chargen::new(),
        buf: vec![0; 64 * 1024],
        quiet,
        served: [0; 4],
    };
    let code = common::run(&opts, &mut stack, &mut app);
    std::process::exit(code);
}
