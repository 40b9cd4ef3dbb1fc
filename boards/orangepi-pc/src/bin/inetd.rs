//! The classic small TCP services on tidytcp: echo (7, RFC 862), discard (9, RFC 863),
//! daytime (13, RFC 867) and chargen (19, RFC 864), several connections each.
//!
//! Console: `s` prints the counters, `q` prints them and ends the run.
#![no_std]
#![no_main]

use orangepi_pc::clock::{Clock, DateTime};
use orangepi_pc::net::{self, Command};
use orangepi_pc::{console, println, semihosting};
use static_cell::ConstStaticCell;
use tidytcp::socket::{SocketBuffers, SocketTable, SplitStorage, TcpListener, TcpStream};
use tidytcp::stack::Stack;
use tidytcp::{Error, Instant};

orangepi_pc::entry!(main);

/// Connections per service.
const PER_SERVICE: usize = 4;
// 16 connections, 4 listeners, 64 KiB each way. Built at compile time: no copy of the storage ever passes through the stack. The
// table (not all zero bytes) is in .data, the 2 MiB of buffers (all zero) in .bss.
static TABLE: ConstStaticCell<SocketTable<16, 4>> = ConstStaticCell::new(SocketTable::new());
static BUFFERS: ConstStaticCell<SocketBuffers<16, 65536, 65536>> =
    ConstStaticCell::new(SocketBuffers::new());

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Echo,
    Discard,
    Daytime,
    Chargen,
}

struct Conn<'a> {
    stream: TcpStream<'a>,
    /// Chargen: where the next line starts in the character cycle; which byte of the
    /// current line comes next.
    line: usize,
    col: usize,
}

struct Service<'a> {
    kind: Kind,
    listener: TcpListener<'a>,
    conns: [Option<Conn<'a>>; PER_SERVICE],
}

/// Chargen (RFC 864): 72-character lines of the 95 printable ASCII characters, each line
/// starting one character further on.
fn chargen_fill(buf: &mut [u8], line: &mut usize, col: &mut usize) -> usize {
    for b in buf.iter_mut() {
        *b = match *col {
            72 => b'\r',
            73 => b'\n',
            c => b' ' + ((*line + c) % 95) as u8,
        };
        *col += 1;
        if *col == 74 {
            *col = 0;
            *line = (*line + 1) % 95;
        }
    }
    buf.len()
}

fn main() -> ! {
    console::init();
    let clock = Clock::new();
    let boot_time = DateTime::from_rtc().to_unix();
    println!("\ntidytcp inetd on Orange Pi PC (Allwinner H3)");
    let mut emac = net::bring_up_emac(&clock, true);
    let mut storage = SplitStorage::new(TABLE.take(), BUFFERS.take());
    let mut stack = Stack::new(net::stack_config(&emac), &mut storage);
    println!(
        "ip {} mac {} (echo 7, discard 9, daytime 13, chargen 19); timer {} Hz",
        net::address(),
        emac.mac(),
        clock.freq()
    );

    let mut services = [Kind::Echo, Kind::Discard, Kind::Daytime, Kind::Chargen].map(|kind| {
        let port = match kind {
            Kind::Echo => 7,
            Kind::Discard => 9,
            Kind::Daytime => 13,
            Kind::Chargen => 19,
        };
        Service {
            kind,
            listener: stack.listen(port, 4).expect("listen"),
            conns: [const { None }; PER_SERVICE],
        }
    });
    let mut buf = [0u8; 8192];
    loop {
        let now = clock.now();
        stack.poll(now, &mut emac);
        for svc in services.iter_mut() {
            accept(svc, &mut stack, boot_time, now);
            for slot in svc.conns.iter_mut() {
                let Some(c) = slot else { continue };
                if !serve(svc.kind, c, &mut stack, &mut buf)
                    && let Some(c) = slot.take()
                {
                    c.stream.close(&mut stack);
                }
            }
        }
        match net::command() {
            Some(Command::Stats) => print_stats(&stack, &emac),
            Some(Command::Quit) => {
                print_stats(&stack, &emac);
                println!("bye");
                semihosting::exit(0);
            }
            None => {}
        }
    }
}

fn accept<'a>(svc: &mut Service<'a>, stack: &mut Stack<'a>, boot_time: u64, now: Instant) {
    while let Ok((mut s, _)) = svc.listener.accept(stack) {
        if svc.kind == Kind::Daytime {
            let t = DateTime::from_unix(boot_time + now.total_micros() / 1_000_000);
            let mut line = Line::new();
            let _ = core::fmt::Write::write_fmt(&mut line, format_args!("{t}\r\n"));
            let _ = s.write(stack, line.as_bytes());
            s.close(stack);
            continue;
        }
        match svc.conns.iter_mut().find(|c| c.is_none()) {
            Some(slot) => {
                *slot = Some(Conn {
                    stream: s,
                    line: 0,
                    col: 0,
                })
            }
            None => s.abort(stack),
        }
    }
}

/// Serves one connection; `false` when it is finished and must be closed.
fn serve<'a>(kind: Kind, c: &mut Conn<'a>, stack: &mut Stack<'a>, buf: &mut [u8]) -> bool {
    let s = &mut c.stream;
    match kind {
        Kind::Echo => loop {
            let room = s.send_capacity(stack).min(buf.len());
            if room == 0 {
                return true;
            }
            match s.read(stack, &mut buf[..room]) {
                Ok(0) => return false,
                Ok(n) => {
                    if s.write(stack, &buf[..n]) != Ok(n) {
                        return false;
                    }
                }
                Err(Error::WouldBlock) => return true,
                Err(_) => return false,
            }
        },
        Kind::Discard => loop {
            match s.read_with(stack, |d| d.len()) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(Error::WouldBlock) => return true,
                Err(_) => return false,
            }
        },
        Kind::Chargen => {
            // Whatever the client sends is discarded; its end of stream ends the service.
            loop {
                match s.read_with(stack, |d| d.len()) {
                    Ok(0) => return false,
                    Ok(_) => {}
                    Err(Error::WouldBlock) => break,
                    Err(_) => return false,
                }
            }
            let (line, col) = (&mut c.line, &mut c.col);
            loop {
                match s.write_with(stack, |b| chargen_fill(b, line, col)) {
                    Ok(_) => {}
                    Err(Error::WouldBlock) => return true,
                    Err(_) => return false,
                }
            }
        }
        Kind::Daytime => false,
    }
}

fn print_stats(stack: &Stack<'_>, emac: &net::Emac) {
    let s = stack.stats();
    println!("emac {:?}", emac.stats());
    println!("ip {:?}", s.ip);
    println!("tcp {:?}", s.tcp);
    let (head, owned, cur, sta) = emac.rx_ring_state();
    println!("rx ring: head {head} owned {owned:#018x} dma at {cur:#x} int_sta {sta:#x}");
    println!("sockets in use {}", stack.in_use());
}

/// A line of text for the daytime answer.
struct Line {
    data: [u8; 80],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Line {
            data: [0; 80],
            len: 0,
        }
    }
    fn as_bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = (self.len + s.len()).min(self.data.len());
        let n = end - self.len;
        self.data[self.len..end].copy_from_slice(&s.as_bytes()[..n]);
        self.len = end;
        Ok(())
    }
}
