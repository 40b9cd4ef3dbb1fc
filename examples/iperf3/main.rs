//! An iperf3-compatible server and client on tidytcp over a TAP device, speaking
//! iperf3's control protocol, so that the real `iperf3 -c 10.7.0.2` (with `-R`, `-P`,
//! `-t`, `-n`) runs against it, and it can drive Linux's `iperf3 -s`.
//!
//! ```text
//! sudo scripts/netns.sh up
//! sudo ip netns exec tidytcp cargo run --release --example iperf3 -- --tap tap0 --ip 10.7.0.2/24 -s
//! sudo ip netns exec tidytcp iperf3 -c 10.7.0.2 -P 4 -R
//!
//! sudo ip netns exec tidytcp iperf3 -s &
//! sudo ip netns exec tidytcp cargo run --release --example iperf3 -- --tap tap0 --ip 10.7.0.2/24 -c 10.7.0.1 -t 5
//! ```
//!
//! Own options: `-s` (server, the default) or `-c HOST`; `-p PORT` (5201); `-t SECONDS`
//! (10); `-n BYTES` (with K/M/G; ends the test by size instead of time); `-P STREAMS`
//! (1); `-R` (reverse: the server sends); `-l LEN` (block size asked for, 131072);
//! `-1` (server: exit after one test); `--buf BYTES` (per-connection buffers, 1 MiB).
//!
//! The protocol (iperf3's `iperf_api.c`, as of 3.x): the client opens a control
//! connection and sends a 37-byte cookie (36 characters and a NUL). The server answers
//! with one-byte states: `PARAM_EXCHANGE` (9), after which the client sends its
//! parameters as JSON behind a 4-byte big-endian length; `CREATE_STREAMS` (10), after
//! which the client opens the data connections to the same port, each starting with the
//! cookie; `TEST_START` (1) and `TEST_RUNNING` (2) once all are there. Data flows until
//! the client sends `TEST_END` (4); the server answers `EXCHANGE_RESULTS` (13), the
//! client sends its results (length-prefixed JSON), the server sends its own, then
//! `DISPLAY_RESULTS` (14); the client ends with `IPERF_DONE` (16). A server that is busy
//! answers a new control connection with `ACCESS_DENIED` (-1). Streams are numbered 1,
//! 3, 4, 5, ... in the order they connect, on both sides.

#[path = "../common/mod.rs"]
mod common;
mod json;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use common::{App, Options, Step};
use json::Json;
use tidytcp::socket::{HeapStorage, Readiness, TcpListener, TcpStream};
use tidytcp::stack::Stack;
use tidytcp::{Duration, Error, Instant};

const USAGE: &str = "iperf3 [-s | -c HOST] [-p PORT] [-t SECONDS] [-n BYTES[K|M|G]] [-P STREAMS] \
                     [-R] [-l LEN] [-1] [--buf BYTES]";

const COOKIE_LEN: usize = 37;
const TEST_START: u8 = 1;
const TEST_RUNNING: u8 = 2;
const TEST_END: u8 = 4;
const PARAM_EXCHANGE: u8 = 9;
const CREATE_STREAMS: u8 = 10;
const SERVER_TERMINATE: u8 = 11;
const CLIENT_TERMINATE: u8 = 12;
const EXCHANGE_RESULTS: u8 = 13;
const DISPLAY_RESULTS: u8 = 14;
const IPERF_DONE: u8 = 16;
const ACCESS_DENIED: u8 = (-1i8) as u8;
const SERVER_ERROR: u8 = (-2i8) as u8;
/// Largest JSON message accepted.
const MAX_JSON: usize = 1 << 20;

/// The test parameters the client sends.
#[derive(Clone, Debug)]
struct Params {
    reverse: bool,
    parallel: usize,
    time: f64,
    bytes: u64,
    blocks: u64,
    len: usize,
}

impl Params {
    fn to_json(&self) -> Json {
        let mut kv = vec![
            ("tcp", Json::Bool(true)),
            ("omit", Json::Num(0.0)),
            ("time", Json::Num(self.time)),
            ("num", Json::Num(self.bytes as f64)),
            ("blockcount", Json::Num(self.blocks as f64)),
            ("parallel", Json::Num(self.parallel as f64)),
        ];
        if self.reverse {
            kv.push(("reverse", Json::Bool(true)));
        }
        kv.push(("len", Json::Num(self.len as f64)));
        kv.push(("pacing_timer", Json::Num(1000.0)));
        kv.push(("client_version", Json::Str("3.12".into())));
        json::obj(kv)
    }

    fn from_json(j: &Json) -> Result<Params, String> {
        if j.flag("udp") || j.flag("sctp") {
            return Err("only TCP tests are supported".into());
        }
        let parallel = j.num("parallel").unwrap_or(1.0);
        if !(1.0..=128.0).contains(&parallel) {
            return Err(format!("unsupported parallel {parallel}"));
        }
        Ok(Params {
            reverse: j.flag("reverse"),
            parallel: parallel as usize,
            time: j.num("time").unwrap_or(0.0).max(0.0),
            bytes: j.num("num").unwrap_or(0.0).max(0.0) as u64,
            blocks: j.num("blockcount").unwrap_or(0.0).max(0.0) as u64,
            len: j.num("len").unwrap_or(131_072.0).clamp(1.0, 16e6) as usize,
        })
    }
}

/// The control connection: bytes in, bytes out, with the two framings iperf3 uses.
struct Ctrl<'a> {
    stream: TcpStream<'a>,
    input: Vec<u8>,
    output: Vec<u8>,
    eof: bool,
    error: Option<Error>,
}

impl<'a> Ctrl<'a> {
    fn new(stream: TcpStream<'a>) -> Self {
        Ctrl {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            eof: false,
            error: None,
        }
    }

    /// Moves bytes both ways as far as the buffers allow.
    fn pump(&mut self, stack: &mut Stack<'a>) {
        while !self.output.is_empty() {
            match self.stream.write(stack, &self.output) {
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(Error::WouldBlock) | Err(Error::NotConnected) => break,
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            }
        }
        let mut buf = [0u8; 4096];
        while self.input.len() < MAX_JSON + 64 {
            match self.stream.read(stack, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(Error::WouldBlock) => break,
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            }
        }
    }

    fn send_state(&mut self, state: u8) {
        self.output.push(state);
    }

    fn send_json(&mut self, j: &Json) {
        let mut s = String::new();
        json::write(j, &mut s);
        self.output
            .extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.output.extend_from_slice(s.as_bytes());
    }

    fn take_state(&mut self) -> Option<u8> {
        (!self.input.is_empty()).then(|| self.input.remove(0))
    }

    /// A whole length-prefixed JSON message, if it has arrived.
    fn take_json(&mut self) -> Option<Result<Json, String>> {
        let len = u32::from_be_bytes(self.input.get(..4)?.try_into().ok()?) as usize;
        if len > MAX_JSON {
            return Some(Err(format!("JSON message of {len} bytes is too long")));
        }
        let body = self.input.get(4..4 + len)?.to_vec();
        self.input.drain(..4 + len);
        Some(json::parse(&body))
    }

    /// Whether the connection is gone (after what was buffered).
    fn broken(&self) -> Option<String> {
        if let Some(e) = self.error {
            return Some(format!("control connection failed: {e}"));
        }
        (self.eof && self.input.is_empty())
            .then(|| "the other side closed the control connection".to_string())
    }
}

/// One data connection.
struct DataStream<'a> {
    stream: TcpStream<'a>,
    id: u32,
    /// Bytes counted for the results (sent or received during the test).
    bytes: u64,
    /// Bytes counted since the last interval report.
    interval: u64,
    /// Client side: cookie bytes still to send.
    cookie_sent: usize,
    done: bool,
}

/// iperf3's stream numbering: 1, then 3, 4, 5, ...
fn stream_id(index: usize) -> u32 {
    if index == 0 { 1 } else { index as u32 + 2 }
}

/// Filler for the data streams: iperf3 sends whatever is in its buffer.
fn filler(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes filler to `s` while it takes it, at most `limit` bytes; returns bytes written.
fn send_fill<'a>(
    s: &mut TcpStream<'a>,
    stack: &mut Stack<'a>,
    fill: &[u8],
    pos: u64,
    limit: u64,
) -> Result<u64, Error> {
    let mut sent = 0u64;
    while sent < limit {
        let at = ((pos + sent) % fill.len() as u64) as usize;
        let max = (limit - sent).min((fill.len() - at) as u64) as usize;
        match s.write_with(stack, |b| {
            let n = b.len().min(max);
            b[..n].copy_from_slice(&fill[at..at + n]);
            n
        }) {
            Ok(0) | Err(Error::WouldBlock) => break,
            Ok(n) => sent += n as u64,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Bytes still to send for a stream that sent `sent` to end on a whole block of `len`.
///
/// iperf3 reads a data stream a block at a time (a blocking read of the whole block) and
/// writes it the same way, so its streams always end on a block boundary. A receiver
/// left in the middle of a block when the sender stops waits for the rest of it, and
/// with it the control messages that end the test: a sender that stops must finish the
/// block (our client) or end the stream (our server, as iperf3's does).
fn block_rest(sent: u64, len: usize) -> u64 {
    let len = len.max(1) as u64;
    (len - sent % len) % len
}

/// Reads and discards what `s` has; returns the count, and whether the stream ended.
fn drain<'a>(s: &mut TcpStream<'a>, stack: &mut Stack<'a>) -> (u64, bool) {
    let mut got = 0u64;
    loop {
        match s.read_with(stack, |d| d.len()) {
            Ok(0) => return (got, true),
            Ok(n) => got += n as u64,
            Err(Error::WouldBlock) => return (got, false),
            Err(_) => return (got, true),
        }
    }
}

/// CPU seconds (user, system) used by this process so far.
fn cpu_times() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name (which may contain spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split(' ').collect();
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state field.
    (get(11), get(12))
}

fn cpu_json(start: (f64, f64), secs: f64) -> [(&'static str, Json); 3] {
    let (u, s) = cpu_times();
    let pct = |x: f64| if secs > 0.0 { x / secs * 100.0 } else { 0.0 };
    let (du, ds) = (u - start.0, s - start.1);
    [
        ("cpu_util_total", Json::Num(pct(du + ds))),
        ("cpu_util_user", Json::Num(pct(du))),
        ("cpu_util_system", Json::Num(pct(ds))),
    ]
}

/// Our results for the other side, as iperf3's `send_results` builds them.
fn results_json(sender: bool, streams: &[DataStream<'_>], secs: f64, cpu: (f64, f64)) -> Json {
    let mut kv: Vec<(&str, Json)> = cpu_json(cpu, secs).into();
    // Retransmissions are counted per stack, not per connection: reported as unknown.
    kv.push((
        "sender_has_retransmits",
        Json::Num(if sender { 0.0 } else { -1.0 }),
    ));
    kv.push(("congestion_used", Json::Str("newreno".into())));
    let list = streams
        .iter()
        .map(|s| {
            json::obj(vec![
                ("id", Json::Num(f64::from(s.id))),
                ("bytes", Json::Num(s.bytes as f64)),
                ("retransmits", Json::Num(-1.0)),
                ("jitter", Json::Num(0.0)),
                ("errors", Json::Num(0.0)),
                ("packets", Json::Num(0.0)),
                ("start_time", Json::Num(0.0)),
                ("end_time", Json::Num(secs)),
            ])
        })
        .collect();
    kv.push(("streams", Json::Arr(list)));
    json::obj(kv)
}

fn rate(bytes: u64, secs: f64) -> String {
    let bits = if secs > 0.0 {
        bytes as f64 * 8.0 / secs
    } else {
        0.0
    };
    if bits >= 1e9 {
        format!("{:.2} Gbits/sec", bits / 1e9)
    } else {
        format!("{:.1} Mbits/sec", bits / 1e6)
    }
}

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GBytes", b / (1024.0 * 1024.0 * 1024.0))
    } else {
        format!("{:.1} MBytes", b / (1024.0 * 1024.0))
    }
}

fn secs(d: Duration) -> f64 {
    d.total_micros() as f64 / 1e6
}

/// The per-stream and total lines of a summary, iperf3-style.
fn summary(
    streams: &[DataStream<'_>],
    peer: Option<&Json>,
    our_secs: f64,
    we_send: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "- - - - - - - - - - - - - - - - - - - - - - - - -");
    let _ = writeln!(out, "[ ID] Interval           Transfer     Bitrate");
    let peer_streams = peer.map_or(&[][..], |p| p.arr("streams"));
    let (mut ours, mut theirs, mut their_secs) = (0u64, 0u64, 0f64);
    for s in streams {
        let (ours_role, theirs_role) = if we_send {
            ("sender", "receiver")
        } else {
            ("receiver", "sender")
        };
        let _ = writeln!(
            out,
            "[{:>3}]   0.00-{our_secs:<6.2} sec  {:>12}  {:>16}  {ours_role} (tidytcp)",
            s.id,
            size(s.bytes),
            rate(s.bytes, our_secs)
        );
        ours += s.bytes;
        let p = peer_streams
            .iter()
            .find(|p| p.num("id") == Some(f64::from(s.id)));
        if let Some(p) = p {
            let b = p.num("bytes").unwrap_or(0.0) as u64;
            let t = p.num("end_time").unwrap_or(our_secs) - p.num("start_time").unwrap_or(0.0);
            theirs += b;
            their_secs = their_secs.max(t);
            let _ = writeln!(
                out,
                "[{:>3}]   0.00-{t:<6.2} sec  {:>12}  {:>16}  {theirs_role} (peer)",
                s.id,
                size(b),
                rate(b, t)
            );
        }
    }
    let _ = writeln!(
        out,
        "[SUM]   0.00-{our_secs:<6.2} sec  {:>12}  {:>16}  {} (tidytcp)",
        size(ours),
        rate(ours, our_secs),
        if we_send { "sender" } else { "receiver" }
    );
    if peer.is_some() {
        let _ = writeln!(
            out,
            "[SUM]   0.00-{their_secs:<6.2} sec  {:>12}  {:>16}  {} (peer)",
            size(theirs),
            rate(theirs, their_secs),
            if we_send { "receiver" } else { "sender" }
        );
    }
    out
}

// ---------------------------------------------------------------- server

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SPhase {
    Params,
    Streams,
    Running,
    Results,
    Done,
}

struct ServerTest<'a> {
    ctrl: Ctrl<'a>,
    peer: SocketAddr,
    cookie: Vec<u8>,
    phase: SPhase,
    params: Option<Params>,
    streams: Vec<DataStream<'a>>,
    start: Instant,
    end: Instant,
    cpu: (f64, f64),
    next_report: Instant,
    sent_pos: u64,
}

struct Pending<'a> {
    stream: TcpStream<'a>,
    cookie: Vec<u8>,
    until: Instant,
}

struct Server<'a> {
    listener: TcpListener<'a>,
    port: u16,
    pending: Vec<Pending<'a>>,
    test: Option<ServerTest<'a>>,
    fill: Vec<u8>,
    once: bool,
    tests: u64,
}

impl<'a> Server<'a> {
    /// A connection has sent its cookie: a new control connection, a data stream of
    /// the test being set up, or one to turn away.
    fn classify(&mut self, stack: &mut Stack<'a>, mut p: Pending<'a>, now: Instant) {
        let peer = p
            .stream
            .peer_addr(stack)
            .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into());
        match &mut self.test {
            None => {
                println!("iperf3: control connection from {peer}");
                let mut ctrl = Ctrl::new(p.stream);
                ctrl.send_state(PARAM_EXCHANGE);
                self.test = Some(ServerTest {
                    ctrl,
                    peer,
                    cookie: p.cookie,
                    phase: SPhase::Params,
                    params: None,
                    streams: Vec::new(),
                    start: now,
                    end: now,
                    cpu: cpu_times(),
                    next_report: now,
                    sent_pos: 0,
                });
            }
            Some(t)
                if t.phase == SPhase::Streams
                    && t.cookie == p.cookie
                    && t.params
                        .as_ref()
                        .is_some_and(|q| t.streams.len() < q.parallel) =>
            {
                let id = stream_id(t.streams.len());
                println!("iperf3: stream {id} from {peer}");
                t.streams.push(DataStream {
                    stream: p.stream,
                    id,
                    bytes: 0,
                    interval: 0,
                    cookie_sent: COOKIE_LEN,
                    done: false,
                });
            }
            Some(_) => {
                println!("iperf3: busy, turning {peer} away");
                let _ = p.stream.write(stack, &[ACCESS_DENIED]);
                p.stream.close(stack);
            }
        }
    }

    fn end_test(&mut self, stack: &mut Stack<'a>, why: &str) {
        if let Some(t) = self.test.take() {
            println!("iperf3: test from {} ended: {why}", t.peer);
            for s in t.streams {
                s.stream.close(stack);
            }
            t.ctrl.stream.close(stack);
            self.tests += 1;
        }
    }

    fn run_test(&mut self, stack: &mut Stack<'a>, now: Instant) -> Option<Instant> {
        let t = self.test.as_mut()?;
        t.ctrl.pump(stack);
        let mut wake = None;
        loop {
            match t.phase {
                SPhase::Params => {
                    let Some(j) = t.ctrl.take_json() else { break };
                    if let Some(v) = j.as_ref().ok().and_then(|j| j.str("client_version")) {
                        println!("iperf3: client version {v}");
                    }
                    match j.and_then(|j| Params::from_json(&j)) {
                        Ok(p) => {
                            println!(
                                "iperf3: test: {} stream(s), {}, {}",
                                p.parallel,
                                if p.reverse {
                                    "reverse (we send)"
                                } else {
                                    "we receive"
                                },
                                if p.bytes > 0 {
                                    format!("{} bytes", p.bytes)
                                } else {
                                    format!("{} s", p.time)
                                }
                            );
                            t.params = Some(p);
                            t.ctrl.send_state(CREATE_STREAMS);
                            t.phase = SPhase::Streams;
                        }
                        Err(e) => {
                            println!("iperf3: bad parameters: {e}");
                            t.ctrl.send_state(SERVER_ERROR);
                            // i_errno (IEPROTOCOL-ish) and errno, as iperf3 sends them.
                            t.ctrl.output.extend_from_slice(&1u32.to_be_bytes());
                            t.ctrl.output.extend_from_slice(&0u32.to_be_bytes());
                            t.ctrl.pump(stack);
                            t.phase = SPhase::Done;
                        }
                    }
                }
                SPhase::Streams => {
                    let want = t.params.as_ref().map_or(1, |p| p.parallel);
                    if t.streams.len() < want {
                        break;
                    }
                    t.ctrl.send_state(TEST_START);
                    t.ctrl.send_state(TEST_RUNNING);
                    t.start = now;
                    t.cpu = cpu_times();
                    t.next_report = now + Duration::from_secs(1);
                    t.phase = SPhase::Running;
                }
                SPhase::Running => {
                    let reverse = t.params.as_ref().is_some_and(|p| p.reverse);
                    for s in t.streams.iter_mut().filter(|s| !s.done) {
                        if reverse {
                            match send_fill(&mut s.stream, stack, &self.fill, t.sent_pos, u64::MAX)
                            {
                                Ok(n) => {
                                    s.bytes += n;
                                    s.interval += n;
                                    t.sent_pos += n;
                                }
                                Err(_) => s.done = true,
                            }
                        } else {
                            let (n, end) = drain(&mut s.stream, stack);
                            s.bytes += n;
                            s.interval += n;
                            s.done = end;
                        }
                    }
                    if now >= t.next_report {
                        let n: u64 = t
                            .streams
                            .iter_mut()
                            .map(|s| std::mem::take(&mut s.interval))
                            .sum();
                        let from = secs(t.next_report - Duration::from_secs(1) - t.start);
                        println!(
                            "[SUM] {from:6.2}-{:<6.2} sec  {:>12}  {:>16}",
                            from + 1.0,
                            size(n),
                            rate(n, 1.0)
                        );
                        t.next_report += Duration::from_secs(1);
                    }
                    wake = Some(t.next_report);
                    match t.ctrl.take_state() {
                        None => break,
                        Some(TEST_END) => {
                            t.end = now;
                            for s in t.streams.iter_mut() {
                                if reverse {
                                    // As iperf3's server closes its data sockets here: the
                                    // client reads whole blocks (see `block_rest`), and the
                                    // end of the stream ends a block we will not finish.
                                    let _ = s.stream.shutdown_write(stack);
                                } else {
                                    s.bytes += drain(&mut s.stream, stack).0;
                                }
                            }
                            t.ctrl.send_state(EXCHANGE_RESULTS);
                            t.phase = SPhase::Results;
                            wake = None;
                        }
                        Some(CLIENT_TERMINATE) => {
                            self.end_test(stack, "the client terminated it");
                            return None;
                        }
                        Some(x) => {
                            println!("iperf3: unexpected state {x} during the test");
                            t.ctrl.send_state(SERVER_TERMINATE);
                            t.ctrl.pump(stack);
                            self.end_test(stack, "protocol error");
                            return None;
                        }
                    }
                }
                SPhase::Results => {
                    let Some(j) = t.ctrl.take_json() else { break };
                    let client = match j {
                        Ok(j) => j,
                        Err(e) => {
                            self.end_test(stack, &format!("bad results from the client: {e}"));
                            return None;
                        }
                    };
                    // The data streams have served their purpose: close them now (a
                    // reset if the client's last bytes are still unread, as iperf3 does).
                    for s in t.streams.iter_mut() {
                        s.done = true;
                    }
                    let d = secs(t.end - t.start);
                    let reverse = t.params.as_ref().is_some_and(|p| p.reverse);
                    t.ctrl
                        .send_json(&results_json(reverse, &t.streams, d, t.cpu));
                    t.ctrl.send_state(DISPLAY_RESULTS);
                    print!("{}", summary(&t.streams, Some(&client), d, reverse));
                    for s in std::mem::take(&mut t.streams) {
                        s.stream.close(stack);
                    }
                    t.phase = SPhase::Done;
                }
                SPhase::Done => {
                    match t.ctrl.take_state() {
                        Some(IPERF_DONE) => {
                            t.ctrl.pump(stack);
                            self.end_test(stack, "done");
                        }
                        Some(_) => continue,
                        None => break,
                    }
                    return None;
                }
            }
        }
        t.ctrl.pump(stack);
        if let Some(why) = t.ctrl.broken() {
            let why = if t.phase == SPhase::Done {
                "done".to_string()
            } else {
                why
            };
            self.end_test(stack, &why);
            return None;
        }
        wake
    }
}

impl<'a> App<'a> for Server<'a> {
    fn describe(&self) -> String {
        format!("iperf3 server on port {}", self.port)
    }

    fn report(&self, out: &mut String) {
        if let Some(t) = &self.test {
            let head: Vec<u8> = t.ctrl.input.iter().take(8).copied().collect();
            let _ = writeln!(
                out,
                "iperf3: test from {} in phase {:?}; control: {} bytes read and not yet used (first {:?}), {} to send, eof {}",
                t.peer,
                t.phase,
                t.ctrl.input.len(),
                head,
                t.ctrl.output.len(),
                t.ctrl.eof
            );
        }
    }

    fn step(&mut self, stack: &mut Stack<'a>, now: Instant) -> Step {
        while let Ok((stream, _)) = self.listener.accept(stack) {
            self.pending.push(Pending {
                stream,
                cookie: Vec::new(),
                until: now + Duration::from_secs(10),
            });
        }
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            let mut buf = [0u8; COOKIE_LEN];
            let want = COOKIE_LEN - p.cookie.len();
            let r = p.stream.read(stack, &mut buf[..want]);
            match r {
                Ok(n) if n > 0 => p.cookie.extend_from_slice(&buf[..n]),
                Err(Error::WouldBlock) if now < p.until => {}
                _ => {
                    // Closed, failed, or silent too long.
                    self.pending.swap_remove(i).stream.close(stack);
                    continue;
                }
            }
            if self.pending[i].cookie.len() == COOKIE_LEN {
                let p = self.pending.swap_remove(i);
                self.classify(stack, p, now);
                continue;
            }
            i += 1;
        }
        let wake = self.run_test(stack, now);
        if self.once && self.tests > 0 && self.test.is_none() {
            return Step::Exit(0);
        }
        let pend = self.pending.iter().map(|p| p.until).min();
        Step::Continue([wake, pend].into_iter().flatten().min())
    }
}

// ---------------------------------------------------------------- client

struct Client<'a> {
    server: SocketAddrV4,
    params: Params,
    cookie: Vec<u8>,
    ctrl: Option<Ctrl<'a>>,
    streams: Vec<DataStream<'a>>,
    creating: bool,
    running: bool,
    ended: bool,
    want_results: bool,
    peer_results: Option<Json>,
    start: Instant,
    end: Instant,
    cpu: (f64, f64),
    next_report: Instant,
    fill: Vec<u8>,
    total: u64,
}

impl<'a> Client<'a> {
    fn fail(&mut self, stack: &mut Stack<'a>, msg: &str) -> Step {
        eprintln!("iperf3: {msg}");
        for s in self.streams.drain(..) {
            s.stream.close(stack);
        }
        if let Some(c) = self.ctrl.take() {
            c.stream.close(stack);
        }
        Step::Exit(1)
    }

    fn finished(&self, now: Instant) -> bool {
        let p = &self.params;
        if p.bytes > 0 {
            self.total >= p.bytes
        } else if p.blocks > 0 {
            self.total >= p.blocks * p.len as u64
        } else {
            now >= self.start + Duration::from_micros((p.time * 1e6) as u64)
        }
    }
}

impl<'a> App<'a> for Client<'a> {
    fn describe(&self) -> String {
        format!(
            "iperf3 client to {}: {} stream(s){}",
            self.server,
            self.params.parallel,
            if self.params.reverse { ", reverse" } else { "" }
        )
    }

    fn step(&mut self, stack: &mut Stack<'a>, now: Instant) -> Step {
        if self.ctrl.is_none() {
            match stack.connect(self.server.into()) {
                Ok(mut s) => {
                    let _ = s.write(stack, &self.cookie);
                    self.ctrl = Some(Ctrl::new(s));
                    println!("Connecting to host {}", self.server);
                }
                Err(e) => return self.fail(stack, &format!("connect: {e}")),
            }
        }
        let Some(mut ctrl) = self.ctrl.take() else {
            return Step::Exit(1);
        };
        ctrl.pump(stack);
        // Control messages.
        loop {
            if self.want_results {
                let Some(j) = ctrl.take_json() else { break };
                match j {
                    Ok(j) => self.peer_results = Some(j),
                    Err(e) => {
                        self.ctrl = Some(ctrl);
                        return self.fail(stack, &format!("bad results from the server: {e}"));
                    }
                }
                self.want_results = false;
                continue;
            }
            let Some(state) = ctrl.take_state() else {
                break;
            };
            match state {
                PARAM_EXCHANGE => ctrl.send_json(&self.params.to_json()),
                CREATE_STREAMS => self.creating = true,
                TEST_START => {}
                TEST_RUNNING => {
                    self.running = true;
                    self.start = now;
                    self.cpu = cpu_times();
                    self.next_report = now + Duration::from_secs(1);
                }
                EXCHANGE_RESULTS => {
                    let d = secs(self.end - self.start);
                    ctrl.send_json(&results_json(
                        !self.params.reverse,
                        &self.streams,
                        d,
                        self.cpu,
                    ));
                    self.want_results = true;
                }
                DISPLAY_RESULTS => {
                    let d = secs(self.end - self.start);
                    print!(
                        "{}",
                        summary(
                            &self.streams,
                            self.peer_results.as_ref(),
                            d,
                            !self.params.reverse
                        )
                    );
                    ctrl.send_state(IPERF_DONE);
                    ctrl.pump(stack);
                    for s in self.streams.drain(..) {
                        s.stream.close(stack);
                    }
                    ctrl.stream.close(stack);
                    println!("\niperf Done.");
                    return Step::Exit(0);
                }
                ACCESS_DENIED => {
                    self.ctrl = Some(ctrl);
                    return self.fail(stack, "the server is busy running a test");
                }
                SERVER_ERROR => {
                    self.ctrl = Some(ctrl);
                    return self.fail(stack, "the server reported an error");
                }
                SERVER_TERMINATE => {
                    self.ctrl = Some(ctrl);
                    return self.fail(stack, "the server has terminated");
                }
                x => {
                    self.ctrl = Some(ctrl);
                    return self.fail(stack, &format!("unexpected state {x} from the server"));
                }
            }
        }
        // Data streams, one connection at a time so both sides number them alike.
        if self.creating && self.streams.len() < self.params.parallel {
            let ready = self.streams.last().is_none_or(|s| {
                s.stream.readiness(stack).contains(Readiness::CONNECTED)
                    && s.cookie_sent == COOKIE_LEN
            });
            if ready {
                match stack.connect(self.server.into()) {
                    Ok(s) => self.streams.push(DataStream {
                        stream: s,
                        id: stream_id(self.streams.len()),
                        bytes: 0,
                        interval: 0,
                        cookie_sent: 0,
                        done: false,
                    }),
                    Err(e) => {
                        self.ctrl = Some(ctrl);
                        return self.fail(stack, &format!("connect: {e}"));
                    }
                }
            }
        }
        for s in self
            .streams
            .iter_mut()
            .filter(|s| s.cookie_sent < COOKIE_LEN)
        {
            if let Ok(n) = s.stream.write(stack, &self.cookie[s.cookie_sent..]) {
                s.cookie_sent += n;
            }
        }
        let mut wake = None;
        if self.running {
            let over = self.finished(now);
            for s in self.streams.iter_mut().filter(|s| !s.done) {
                if self.params.reverse {
                    let (n, end) = drain(&mut s.stream, stack);
                    s.bytes += n;
                    s.interval += n;
                    self.total += n;
                    s.done = end;
                } else {
                    // Past the end, only what finishes the current block (`block_rest`).
                    let limit = if over {
                        block_rest(s.bytes, self.params.len)
                    } else if self.params.bytes > 0 {
                        self.params.bytes.saturating_sub(self.total)
                    } else {
                        u64::MAX
                    };
                    match send_fill(&mut s.stream, stack, &self.fill, self.total, limit) {
                        Ok(n) => {
                            s.bytes += n;
                            s.interval += n;
                            self.total += n;
                        }
                        Err(_) => s.done = true,
                    }
                }
            }
            if now >= self.next_report {
                let n: u64 = self
                    .streams
                    .iter_mut()
                    .map(|s| std::mem::take(&mut s.interval))
                    .sum();
                let from = secs(self.next_report - Duration::from_secs(1) - self.start);
                println!(
                    "[SUM] {from:6.2}-{:<6.2} sec  {:>12}  {:>16}",
                    from + 1.0,
                    size(n),
                    rate(n, 1.0)
                );
                self.next_report += Duration::from_secs(1);
            }
            // TEST_END once every stream ends on a whole block (see `block_rest`).
            let aligned = self.params.reverse
                || self
                    .streams
                    .iter()
                    .all(|s| s.done || block_rest(s.bytes, self.params.len) == 0);
            if self.finished(now) && aligned {
                self.running = false;
                self.ended = true;
                self.end = now;
                ctrl.send_state(TEST_END);
            } else if self.finished(now) {
                // Woken when the streams take more.
                wake = None;
            } else {
                let end = self.start + Duration::from_micros((self.params.time * 1e6) as u64);
                wake = Some(if self.params.bytes > 0 || self.params.blocks > 0 {
                    self.next_report
                } else {
                    self.next_report.min(end)
                });
            }
        } else if self.ended {
            // Keep reading what is still in flight, so that the streams end quietly.
            for s in self.streams.iter_mut() {
                let _ = drain(&mut s.stream, stack);
            }
        }
        ctrl.pump(stack);
        if let Some(why) = ctrl.broken() {
            self.ctrl = Some(ctrl);
            return self.fail(stack, &why);
        }
        self.ctrl = Some(ctrl);
        Step::Continue(wake)
    }
}

// ---------------------------------------------------------------- main

fn make_cookie() -> Vec<u8> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut seed = [0u8; 36];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        for (i, b) in seed.iter_mut().enumerate() {
            *b = (t >> (i % 8 * 8)) as u8 ^ i as u8;
        }
    }
    let mut c: Vec<u8> = seed.iter().map(|b| CHARS[usize::from(b % 32)]).collect();
    c.push(0);
    c
}

fn parse_size(v: &str) -> Option<u64> {
    let (num, mult) = match v.chars().last()? {
        'K' | 'k' => (&v[..v.len() - 1], 1024),
        'M' | 'm' => (&v[..v.len() - 1], 1024 * 1024),
        'G' | 'g' => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        _ => (v, 1),
    };
    let n: f64 = num.parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

fn main() {
    let opts = Options::parse(USAGE);
    let mut client: Option<Ipv4Addr> = None;
    let mut port = 5201u16;
    let mut params = Params {
        reverse: false,
        parallel: 1,
        time: 10.0,
        bytes: 0,
        blocks: 0,
        len: 131_072,
    };
    let (mut once, mut buf) = (false, 1usize << 20);
    let mut it = opts.rest.iter();
    while let Some(k) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .unwrap_or_else(|| common::usage_exit(USAGE, &format!("{k} needs a value")))
        };
        let bad = |v: &str| -> ! { common::usage_exit(USAGE, &format!("bad value for {k}: {v}")) };
        match k.as_str() {
            "-s" | "--server" => client = None,
            "-c" | "--client" => {
                let v = val();
                client = Some(v.parse().unwrap_or_else(|_| bad(&v)));
            }
            "-p" | "--port" => {
                let v = val();
                port = v.parse().unwrap_or_else(|_| bad(&v));
            }
            "-t" | "--time" => {
                let v = val();
                params.time = v.parse().unwrap_or_else(|_| bad(&v));
            }
            "-n" | "--bytes" => {
                let v = val();
                params.bytes = parse_size(&v).unwrap_or_else(|| bad(&v));
            }
            "-P" | "--parallel" => {
                let v = val();
                params.parallel = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=128).contains(n))
                    .unwrap_or_else(|| bad(&v));
            }
            "-l" | "--length" => {
                let v = val();
                params.len = parse_size(&v).unwrap_or_else(|| bad(&v)).max(1) as usize;
            }
            "-R" | "--reverse" => params.reverse = true,
            "-1" | "--one-off" => once = true,
            "--buf" => {
                let v = val();
                buf = parse_size(&v).unwrap_or_else(|| bad(&v)) as usize;
            }
            _ => common::usage_exit(USAGE, &format!("unknown option {k}")),
        }
    }
    if params.bytes > 0 {
        // As in iperf3: a size ends the test, not the clock.
        params.time = 0.0;
    }
    let mut storage = HeapStorage::new(136, 4, buf, buf);
    let mut stack = Stack::new(opts.config(), &mut storage);
    let code = match client {
        Some(ip) => {
            let mut app = Client {
                server: SocketAddrV4::new(ip, port),
                params,
                cookie: make_cookie(),
                ctrl: None,
                streams: Vec::new(),
                creating: false,
                running: false,
                ended: false,
                want_results: false,
                peer_results: None,
                start: Instant::ZERO,
                end: Instant::ZERO,
                cpu: (0.0, 0.0),
                next_report: Instant::ZERO,
                fill: filler(1 << 16),
                total: 0,
            };
            common::run(&opts, &mut stack, &mut app)
        }
        None => {
            let listener = stack.listen(port, 64).unwrap_or_else(|e| {
                eprintln!("cannot listen on {port}: {e}");
                std::process::exit(1)
            });
            let mut app = Server {
                listener,
                port,
                pending: Vec::new(),
                test: None,
                fill: filler(1 << 16),
                once,
                tests: 0,
            };
            common::run(&opts, &mut stack, &mut app)
        }
    };
    std::process::exit(code);
}
