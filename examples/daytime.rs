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
//! Own option: `--server ADDR[:PORT]` (default 10.7.0.1:13). Exits 0 once the slot is
//! free, 1 on an error or after 30 s.

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddrV4;

use common::{App, Options, Step};
use tidytcp::socket::{HeapStorage, SocketSet, TcpStream};
use tidytcp::stack::Stack;
use tidytcp::{Duration, Error, Instant};

const USAGE: &str = "daytime [--server ADDR[:PORT]]";

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
    Reading(TcpStream<'a>),
    Closing,
}

struct Daytime<'a> {
    server: SocketAddrV4,
    phase: Phase<'a>,
    text: Vec<u8>,
    deadline: Option<Instant>,
}

impl<'a> App<'a> for Daytime<'a> {
    fn describe(&self) -> String {
        format!("daytime client for {}", self.server)
    }

    fn step(&mut self, stack: &mut Stack<'a>, now: Instant) -> Step {
        let deadline = *self.deadline.get_or_insert(now + Duration::from_secs(30));
        if now >= deadline {
            eprintln!("daytime: no answer and close within 30 s");
            return Step::Exit(1);
        }
        match std::mem::replace(&mut self.phase, Phase::Start) {
            Phase::Start => match stack.connect(self.server) {
                Ok(s) => {
                    table("after connect()", stack);
                    self.phase = Phase::Reading(s);
                }
                Err(e) => {
                    eprintln!("daytime: connect: {e}");
                    return Step::Exit(1);
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

fn main() {
    let opts = Options::parse(USAGE);
    let mut server: SocketAddrV4 = "10.7.0.1:13".parse().unwrap();
    let mut it = opts.rest.iter();
    while let Some(k) = it.next() {
        match (k.as_str(), it.next()) {
            ("--server", Some(v)) => {
                server = v
                    .parse()
                    .or_else(|_| v.parse().map(|ip| SocketAddrV4::new(ip, 13)))
                    .unwrap_or_else(|_| common::usage_exit(USAGE, &format!("bad server {v:?}")))
            }
            _ => common::usage_exit(USAGE, &format!("unknown option {k}")),
        }
    }
    let mut storage = HeapStorage::new(4, 2, 4096, 4096);
    let mut stack = Stack::new(opts.config(), &mut storage);
    let mut app = Daytime {
        server,
        phase: Phase::Start,
        text: Vec::new(),
        deadline: None,
    };
    let code = common::run(&opts, &mut stack, &mut app);
    std::process::exit(code);
}
