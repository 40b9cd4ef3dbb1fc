//! iperf3 server (port 5201) on tidytcp: `iperf3 -c ADDR [-R] [-t SECS]` from Linux, one
//! test at a time with one stream. Test data is counted in place (`read_with`) and, in
//! reverse mode, sent from whatever the send ring holds (`write_with`): iperf3 does not
//! look at the bytes.
//!
//! Console: `s` prints the counters, `q` prints them and ends the run.
#![no_std]
#![no_main]

use orangepi_pc::clock::Clock;
use orangepi_pc::iperf3::{self, DataVerdict, Phase};
use orangepi_pc::net::{self, Command};
use orangepi_pc::{console, println, semihosting};
use static_cell::{ConstStaticCell, StaticCell};
use tidytcp::socket::{SocketBuffers, SocketTable, SplitStorage, TcpStream};
use tidytcp::stack::Stack;
use tidytcp::{Error, Instant};

orangepi_pc::entry!(main);

/// Socket buffers each way; the same as the smoltcp build.
pub const BUF: usize = 128 * 1024;
// Built at compile time: no copy of the storage ever passes through the stack. The
// table (not all zero bytes) is in .data, the 1 MiB of buffers (all zero) in .bss, so
// the image does not carry them.
static TABLE: ConstStaticCell<SocketTable<4, 1>> = ConstStaticCell::new(SocketTable::new());
static BUFFERS: ConstStaticCell<SocketBuffers<4, BUF, BUF>> =
    ConstStaticCell::new(SocketBuffers::new());
static SERVER: StaticCell<iperf3::Server> = StaticCell::new();

fn main() -> ! {
    console::init();
    let clock = Clock::new();
    println!("\ntidytcp iperf3 server on Orange Pi PC (Allwinner H3)");
    let mut emac = net::bring_up_emac(&clock, true);
    let mut storage = SplitStorage::new(TABLE.take(), BUFFERS.take());
    let mut stack = Stack::new(net::stack_config(&emac), &mut storage);
    println!(
        "ip {} mac {} (iperf3 on port {}); timer {} Hz",
        net::address(),
        emac.mac(),
        iperf3::PORT,
        clock.freq()
    );
    let server = SERVER.init_with(iperf3::Server::new);
    let listener = stack.listen(iperf3::PORT, 4).expect("listen");
    let mut ctrl: Option<TcpStream<'_>> = None;
    let mut data: Option<TcpStream<'_>> = None;
    let mut verdict = DataVerdict::Pending;
    let mut tests = 0u32;
    loop {
        let now = clock.now();
        stack.poll(now, &mut emac);
        while let Ok((s, _)) = listener.accept(&mut stack) {
            if ctrl.is_none() {
                server.reset();
                ctrl = Some(s);
            } else if data.is_none() && server.wants_stream() {
                verdict = DataVerdict::Pending;
                data = Some(s);
            } else {
                s.abort(&mut stack);
            }
        }
        let mut finished = false;
        if let Some(c) = ctrl.as_mut() {
            finished |= !control(c, &mut stack, server, now);
        }
        if let Some(d) = data.as_mut()
            && !stream(d, &mut stack, server, &mut verdict, now)
            && let Some(d) = data.take()
        {
            d.close(&mut stack);
        }
        if server.phase() == Phase::Done && server.ctrl_output().is_empty() {
            finished = true;
        }
        if finished {
            tests += 1;
            println!(
                "test {tests}: {} bytes {}",
                server.bytes(),
                if server.reverse() { "sent" } else { "received" }
            );
            if let Some(d) = data.take() {
                d.close(&mut stack);
            }
            if let Some(c) = ctrl.take() {
                c.close(&mut stack);
            }
            server.reset();
        }
        match net::command() {
            Some(Command::Stats) => {
                print_stats(&stack, &emac);
                println!(
                    "iperf3 phase {:?}, {} bytes",
                    server.phase(),
                    server.bytes()
                );
            }
            Some(Command::Quit) => {
                print_stats(&stack, &emac);
                println!("bye");
                semihosting::exit(0);
            }
            None => {}
        }
    }
}

/// Moves control bytes both ways; `false` when the connection ended.
fn control<'a>(
    c: &mut TcpStream<'a>,
    stack: &mut Stack<'a>,
    server: &mut iperf3::Server,
    now: Instant,
) -> bool {
    loop {
        match c.read_with(stack, |d| server.ctrl_input(d, now)) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(Error::WouldBlock) => break,
            Err(_) => return false,
        }
    }
    let out = server.ctrl_output();
    if !out.is_empty() {
        match c.write(stack, out) {
            Ok(n) => server.ctrl_sent(n),
            Err(Error::WouldBlock) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Serves the data connection; `false` when it is to be closed.
fn stream<'a>(
    d: &mut TcpStream<'a>,
    stack: &mut Stack<'a>,
    server: &mut iperf3::Server,
    verdict: &mut DataVerdict,
    now: Instant,
) -> bool {
    loop {
        let r = d.read_with(stack, |b| {
            let (n, v) = server.data_input(b, now);
            *verdict = v;
            n
        });
        match r {
            Ok(0) => return false,
            Ok(_) if *verdict == DataVerdict::Rejected => return false,
            Ok(_) => {}
            Err(Error::WouldBlock) => break,
            Err(_) => return false,
        }
    }
    if server.stream_over() && *verdict == DataVerdict::Accepted {
        return false;
    }
    if server.sending() {
        loop {
            match d.write_with(stack, |b| b.len()) {
                Ok(n) => server.data_sent(n),
                Err(Error::WouldBlock) => break,
                Err(_) => return false,
            }
        }
        server.set_retransmits(stack.stats().tcp.retransmits);
    }
    true
}

fn print_stats(stack: &Stack<'_>, emac: &net::Emac) {
    let s = stack.stats();
    let t = s.tcp;
    println!("emac {:?}", emac.stats());
    println!(
        "tcp segments in {} out {}, retransmits {}, dropped: checksum {} out-of-window {} malformed {}",
        t.segments_in,
        t.segments_out,
        t.retransmits,
        t.dropped_checksum,
        t.dropped_out_of_window,
        t.dropped_malformed
    );
    println!("sockets in use {}", stack.in_use());
}
