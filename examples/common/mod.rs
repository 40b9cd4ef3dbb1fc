//! What the Linux-interop examples share: the command line, the TAP device (optionally
//! wrapped in a [`PcapWriter`] and a [`Faulty`] fault injector), the super-loop, and a
//! status port that lists the socket table.
//!
//! Every example takes these options (its own come after them, in any order):
//!
//! ```text
//! --tap NAME          TAP interface to open or create in the current namespace (tap0)
//! --ip ADDR/PREFIX    our address (10.7.0.2/24)
//! --dhcp              get the address, gateway and DNS servers by DHCPv4 instead
//! --gateway ADDR      default gateway (none)
//! --ip6 ADDR/PREFIX   a static IPv6 address besides the link-local one (from the MAC);
//!                     both are used once Duplicate Address Detection passes
//! --slaac             form IPv6 addresses from routers' advertised prefixes (and
//!                     solicit routers at start)
//! --mac MAC           our Ethernet address (02:00 followed by the IPv4 address)
//! --pcap FILE         record every frame that crosses the TAP device
//! --pcap-view VIEW    with --faults: `wire` (default) records what crosses the TAP,
//!                     `stack` what the stack sends and receives (before the faults)
//! --faults SPEC       inject faults both ways, e.g. loss=5%,dup=2%,reorder=5%,delay=1ms,seed=7
//! --msl SECONDS       maximum segment lifetime (TIME-WAIT lasts twice this; default 30)
//! --keepalive SECONDS keep-alive probes after this much idle time, 3 unanswered end
//!                     the connection (default: off, as RFC 1122 asks)
//! --status PORT       status port (7777; 0: none): lists sockets, ARP cache, counters;
//!                     a line "quit" sent to it ends the program cleanly
//! ```
//!
//! The stack's events (connections established, failed and closed, link changes, SYNs
//! dropped) go to standard error at the level `RUST_LOG` names (`warn` when unset), e.g.
//! `RUST_LOG=debug`.
//!
//! The loop is the core (super-loop) API: `stack.poll(now, &mut dev)`, the application's
//! step, then `tap.wait(..)` until the next deadline or a frame, with `now` from
//! `std::time::Instant` since start.
#![allow(dead_code)]

mod logger;

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv4Addr;
use std::time::Instant as StdInstant;

use tidytcp::drivers::{Device, FaultConfig, Faulty, PcapWriter, Tap};
use tidytcp::ip::NeighborState;
use tidytcp::socket::{SocketFlags, SocketId, TcpListener, TcpStream};
use tidytcp::stack::{Config, Stack};
use tidytcp::tcp::{Keepalive, State};
use tidytcp::wire::ethernet::EthernetAddress;
use tidytcp::wire::ipv4::Ipv4Cidr;
use tidytcp::wire::ipv6::Ipv6Cidr;
use tidytcp::{Duration, Error, Instant};

/// The options every TAP example understands, and the rest of the command line.
pub struct Options {
    pub tap: String,
    pub ip: Ipv4Cidr,
    /// `--dhcp`: the address comes from a DHCP server (`ip` then only seeds the MAC).
    pub dhcp: bool,
    pub gateway: Option<Ipv4Addr>,
    /// `--ip6`: a static IPv6 address.
    pub ip6: Option<Ipv6Cidr>,
    /// `--slaac`: IPv6 stateless address autoconfiguration from Router Advertisements.
    pub slaac: bool,
    pub mac: Option<EthernetAddress>,
    pub pcap: Option<String>,
    /// With `--faults`: record what the stack sends and receives, not what crosses the
    /// TAP device (`--pcap-view stack`).
    pub pcap_stack_view: bool,
    pub faults: Option<(FaultConfig, u64)>,
    pub msl: Option<Duration>,
    /// Keep-alive idle time (and probe interval) for every connection.
    pub keepalive: Option<Duration>,
    pub status: u16,
    /// Arguments this module did not recognise, in order, for the example to parse.
    pub rest: Vec<String>,
}

/// Prints `msg` and the usage, then exits with status 2.
pub fn usage_exit(usage: &str, msg: &str) -> ! {
    eprintln!("{msg}");
    eprintln!("usage: {usage}");
    eprintln!(
        "common options: [--tap NAME] [--ip ADDR/PREFIX | --dhcp] [--gateway ADDR] [--ip6 ADDR/PREFIX] [--slaac] [--mac MAC] \
         [--pcap FILE] [--pcap-view wire|stack] [--faults loss=P%,dup=P%,reorder=P%,delay=Nms,seed=N] \
         [--msl SECONDS] [--keepalive SECONDS] [--status PORT]"
    );
    std::process::exit(2)
}

fn percent(v: &str) -> Option<f64> {
    let p = match v.strip_suffix('%') {
        Some(p) => p.parse::<f64>().ok()? / 100.0,
        None => v.parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&p).then_some(p)
}

fn millis(v: &str) -> Option<Duration> {
    if let Some(ms) = v.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    if let Some(us) = v.strip_suffix("us") {
        return us.parse().ok().map(Duration::from_micros);
    }
    let s: f64 = v.strip_suffix('s').unwrap_or(v).parse().ok()?;
    (s >= 0.0).then(|| Duration::from_micros((s * 1e6) as u64))
}

/// `loss=5%,dup=1%,reorder=5%,delay=1ms,seed=7` (any subset; `5%` alone is loss, dup
/// and reorder all at 5 %).
fn parse_faults(spec: &str) -> Option<(FaultConfig, u64)> {
    let mut cfg = FaultConfig::NONE;
    let mut seed = 1;
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            None => {
                let p = percent(part)?;
                cfg.loss = p;
                cfg.duplicate = p;
                cfg.reorder = p;
            }
            Some(("loss", v)) => cfg.loss = percent(v)?,
            Some(("dup", v)) => cfg.duplicate = percent(v)?,
            Some(("reorder", v)) => cfg.reorder = percent(v)?,
            Some(("delay", v)) => cfg.reorder_delay = millis(v)?,
            Some(("seed", v)) => seed = v.parse().ok()?,
            _ => return None,
        }
    }
    Some((cfg, seed))
}

impl Options {
    /// Parses the process's arguments (and starts the `RUST_LOG` logger).
    pub fn parse(usage: &str) -> Options {
        logger::init();
        let mut o = Options {
            tap: "tap0".into(),
            ip: "10.7.0.2/24".parse().unwrap(),
            dhcp: false,
            gateway: None,
            ip6: None,
            slaac: false,
            mac: None,
            pcap: None,
            pcap_stack_view: false,
            faults: None,
            msl: None,
            keepalive: None,
            status: 7777,
            rest: Vec::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(k) = it.next() {
            if k == "-h" || k == "--help" {
                usage_exit(usage, "");
            }
            if k == "--dhcp" {
                o.dhcp = true;
                continue;
            }
            if k == "--slaac" {
                o.slaac = true;
                continue;
            }
            let common = [
                "--tap",
                "--ip",
                "--gateway",
                "--ip6",
                "--mac",
                "--pcap",
                "--pcap-view",
                "--faults",
                "--msl",
                "--keepalive",
                "--status",
            ];
            if !common.contains(&k.as_str()) {
                o.rest.push(k);
                continue;
            }
            let Some(v) = it.next() else {
                usage_exit(usage, &format!("{k} needs a value"));
            };
            fn bad<T>(usage: &str, k: &str, v: &str) -> T {
                usage_exit(usage, &format!("bad value for {k}: {v:?}"))
            }
            match k.as_str() {
                "--tap" => o.tap = v.clone(),
                "--ip" => o.ip = v.parse().unwrap_or_else(|_| bad(usage, &k, &v)),
                "--gateway" => o.gateway = Some(v.parse().unwrap_or_else(|_| bad(usage, &k, &v))),
                "--ip6" => o.ip6 = Some(v.parse().unwrap_or_else(|_| bad(usage, &k, &v))),
                "--mac" => o.mac = Some(v.parse().unwrap_or_else(|_| bad(usage, &k, &v))),
                "--pcap" => o.pcap = Some(v.clone()),
                "--pcap-view" => {
                    o.pcap_stack_view = match v.as_str() {
                        "stack" => true,
                        "wire" => false,
                        _ => bad(usage, &k, &v),
                    }
                }
                "--faults" => {
                    o.faults = Some(parse_faults(&v).unwrap_or_else(|| bad(usage, &k, &v)))
                }
                "--msl" => o.msl = Some(millis(&v).unwrap_or_else(|| bad(usage, &k, &v))),
                "--keepalive" => {
                    o.keepalive = Some(millis(&v).unwrap_or_else(|| bad(usage, &k, &v)))
                }
                "--status" => o.status = v.parse().unwrap_or_else(|_| bad(usage, &k, &v)),
                _ => unreachable!(),
            }
        }
        o
    }

    /// Our MAC: the one given, or `02:00` followed by the four bytes of our address.
    pub fn mac(&self) -> EthernetAddress {
        self.mac.unwrap_or_else(|| {
            let [a, b, c, d] = self.ip.address().octets();
            EthernetAddress([0x02, 0x00, a, b, c, d])
        })
    }

    /// The stack configuration: address, MAC, gateway, MSL, and a seed from the
    /// system's random source.
    pub fn config(&self) -> Config {
        let seed = Config::with_os_seed(self.mac(), self.ip).map_or_else(
            |_| {
                // No /dev/urandom: the clock and the process id, still unique per run.
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                (t ^ u128::from(std::process::id())).to_le_bytes()
            },
            |c| c.seed,
        );
        let mut cfg = Config::new(self.mac(), self.ip, seed);
        if let Some(gw) = self.gateway {
            cfg.iface = cfg.iface.with_gateway(gw);
        }
        cfg.iface.ipv6.static_addr = self.ip6;
        cfg.iface.ipv6.slaac.autoconf = self.slaac;
        if !self.slaac {
            cfg.iface.ipv6.slaac.router_solicitations = 0;
        }
        if let Some(msl) = self.msl {
            cfg.tcp.msl = msl;
        }
        if let Some(idle) = self.keepalive {
            cfg.tcp.keepalive = Some(Keepalive {
                idle,
                interval: idle,
                count: 3,
            });
        }
        cfg
    }
}

/// What the application's step asks of the loop.
pub enum Step {
    /// Go on; poll the application again by this time at the latest (`None`: when a
    /// frame arrives or the stack has something due).
    Continue(Option<Instant>),
    /// Stop with this exit status.
    Exit(i32),
}

/// An application run by [`run`]: called after every poll of the stack.
pub trait App<'a> {
    /// What it serves, for the "ready" line.
    fn describe(&self) -> String;
    /// Does what can be done now without blocking.
    fn step(&mut self, stack: &mut Stack<'a>, now: Instant) -> Step;
    /// Extra lines for the status report.
    fn report(&self, _out: &mut String) {}
}

/// A device the loop can run: it reaches the TAP below, may have its own deadline and
/// counters, and may need flushing.
pub trait Link: Device {
    fn tap(&self) -> &Tap;
    fn poll_at(&self) -> Option<Instant> {
        None
    }
    fn flush(&mut self) {}
    fn report(&self, out: &mut String) {
        let s = self.tap().stats();
        let _ = writeln!(
            out,
            "tap {}: rx {} tx {} frames, tx_would_block {} tx_errors {} rx_errors {} oversize {}/{}",
            self.tap().name(),
            s.rx_frames,
            s.tx_frames,
            s.tx_would_block,
            s.tx_errors,
            s.rx_errors,
            s.rx_oversize,
            s.tx_oversize
        );
    }
}

impl Link for Tap {
    fn tap(&self) -> &Tap {
        self
    }
}

impl<D: Link> Link for PcapWriter<D, BufWriter<File>> {
    fn tap(&self) -> &Tap {
        self.device().tap()
    }
    fn poll_at(&self) -> Option<Instant> {
        self.device().poll_at()
    }
    fn flush(&mut self) {
        let _ = PcapWriter::flush(self);
        self.device_mut().flush();
    }
    fn report(&self, out: &mut String) {
        self.device().report(out);
        let s = self.stats();
        let _ = writeln!(
            out,
            "pcap: {} received + {} sent frames recorded, {} dropped{}",
            s.rx_frames,
            s.tx_frames,
            s.dropped,
            if s.failed { ", FAILED" } else { "" }
        );
    }
}

impl<D: Link> Link for Faulty<D> {
    fn tap(&self) -> &Tap {
        self.device().tap()
    }
    fn poll_at(&self) -> Option<Instant> {
        [Faulty::poll_at(self), self.device().poll_at()]
            .into_iter()
            .flatten()
            .min()
    }
    fn flush(&mut self) {
        self.device_mut().flush();
    }
    fn report(&self, out: &mut String) {
        self.device().report(out);
        let _ = writeln!(out, "faults in:  {:?}", self.rx_stats());
        let _ = writeln!(out, "faults out: {:?}", self.tx_stats());
    }
}

/// Opens the TAP device, wraps it as the options say, runs `app` on `stack` until it
/// exits or "quit" arrives on the status port; returns the exit status.
pub fn run<'a, A: App<'a>>(opts: &Options, stack: &mut Stack<'a>, app: &mut A) -> i32 {
    let tap = match Tap::open(&opts.tap) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "cannot open TAP {}: {e} (needs root and /dev/net/tun; see scripts/netns.sh)",
                opts.tap
            );
            return 1;
        }
    };
    if let Err(e) = tap.set_up() {
        eprintln!("cannot bring {} up: {e}", opts.tap);
        return 1;
    }
    let pcap = |tap| match &opts.pcap {
        None => unreachable!(),
        Some(path) => PcapWriter::create(tap, path).unwrap_or_else(|e| {
            eprintln!("cannot create {path}: {e}");
            std::process::exit(1)
        }),
    };
    match (&opts.pcap, opts.faults) {
        (None, None) => run_on(opts, stack, app, tap),
        (Some(_), None) => run_on(opts, stack, app, pcap(tap)),
        (None, Some((f, seed))) => run_on(opts, stack, app, Faulty::new(tap, f, f, seed)),
        (Some(path), Some((f, seed))) if opts.pcap_stack_view => {
            let faulty = Faulty::new(tap, f, f, seed);
            match PcapWriter::create(faulty, path) {
                Ok(dev) => run_on(opts, stack, app, dev),
                Err(e) => {
                    eprintln!("cannot create {path}: {e}");
                    1
                }
            }
        }
        (Some(_), Some((f, seed))) => run_on(opts, stack, app, Faulty::new(pcap(tap), f, f, seed)),
    }
}

/// A connection to the status port.
struct StatusConn<'a> {
    stream: TcpStream<'a>,
    until: Instant,
    input: Vec<u8>,
}

/// The status report: the socket table (without the status connections themselves),
/// the ARP cache, and counters. The line `in_use=N` is for scripts.
pub fn report<'a, D: Link>(
    stack: &Stack<'a>,
    dev: &D,
    app: &dyn App<'a>,
    skip: &[SocketId],
) -> String {
    let mut out = String::new();
    let own: Vec<u16> = skip.iter().map(|id| id.index).collect();
    let conns: Vec<_> = stack
        .sockets()
        .filter(|s| s.listener || !own.contains(&(s.slot as u16)))
        .collect();
    let in_use = conns.iter().filter(|s| !s.listener).count();
    let _ = writeln!(
        out,
        "in_use={in_use} listeners={} capacity={}",
        stack.listeners_in_use(),
        stack.capacity()
    );
    for s in &conns {
        let _ = writeln!(out, "  {s}");
    }
    for (ip, st) in stack.interface().arp_cache().iter() {
        let line = match st {
            NeighborState::Reachable { mac, .. } => format!("arp {ip} {mac} reachable"),
            NeighborState::Probing { mac, .. } => format!("arp {ip} {mac} probing"),
            NeighborState::Incomplete { .. } => format!("arp {ip} incomplete"),
            NeighborState::Failed { .. } => format!("arp {ip} failed"),
        };
        let _ = writeln!(out, "{line}");
    }
    let st = stack.stats();
    let t = st.tcp;
    let _ = writeln!(
        out,
        "tcp: in {} out {} retransmits {} timeouts {} fast_retransmits {} tlp {} lost_rexmits {} undone {} rst_sent {} rst_received {} \
         dup_acks {} ooo {} ooo_dropped {} dropped(checksum {} malformed {} window {} paws {} bad_ack {}) \
         active {} passive {} established {} resets {} timed_out {} syn_dropped {} cookies {}",
        t.segments_in,
        t.segments_out,
        t.retransmits,
        t.timeouts,
        t.fast_retransmits,
        t.tlp_probes,
        t.lost_retransmits,
        t.spurious_recoveries,
        t.rst_sent,
        t.rst_received,
        t.dup_acks,
        t.ooo_segments,
        t.ooo_dropped,
        t.dropped_checksum,
        t.dropped_malformed,
        t.dropped_out_of_window,
        t.dropped_paws,
        t.dropped_bad_ack,
        t.active_opens,
        t.passive_opens,
        t.established,
        t.resets,
        t.timed_out,
        t.syn_dropped,
        t.syncookies_sent
    );
    let _ = writeln!(
        out,
        "ip: in {} out {} arp_in {} bad_checksum {} not_for_us {}; rst_dropped {} rx_budget_exhausted {}",
        st.ip.frames_in,
        st.ip.frames_out,
        st.ip.arp_in,
        st.ip.bad_checksum,
        st.ip.not_for_us,
        st.rst_dropped,
        st.rx_budget_exhausted
    );
    dev.report(&mut out);
    app.report(&mut out);
    out
}

fn clock(start: StdInstant) -> Instant {
    Instant::from_micros(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX))
}

fn run_on<'a, A: App<'a>, D: Link>(
    opts: &Options,
    stack: &mut Stack<'a>,
    app: &mut A,
    mut dev: D,
) -> i32 {
    let start = StdInstant::now();
    let status = if opts.status != 0 {
        match stack.listen(opts.status, 8) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("cannot listen on status port {}: {e:?}", opts.status);
                return 1;
            }
        }
    } else {
        None
    };
    let mut status_conns: Vec<StatusConn<'a>> = Vec::new();
    if opts.dhcp {
        let mut cfg = tidytcp::ip::dhcp::DhcpConfig::new();
        cfg.host_name = Some("tidytcp");
        stack.enable_dhcp(clock(start), cfg);
    }
    println!(
        "ready: {} on {} {} mac {} mtu {}{}{}{}",
        app.describe(),
        opts.tap,
        if opts.dhcp {
            "dhcp".to_string()
        } else {
            opts.ip.to_string()
        },
        opts.mac(),
        dev.capabilities().mtu,
        if opts.status != 0 {
            format!(", status port {}", opts.status)
        } else {
            String::new()
        },
        opts.pcap
            .as_ref()
            .map_or(String::new(), |p| format!(", pcap {p}")),
        opts.faults
            .map_or(String::new(), |(f, s)| format!(", faults {f:?} seed {s}"))
    );
    let mut last_flush = start;
    let code = loop {
        let now = clock(start);
        stack.poll(now, &mut dev);
        while let Some(e) = stack.take_address_event() {
            print_address_event(stack, now, &e);
        }
        let app_at = match app.step(stack, now) {
            Step::Continue(at) => at,
            Step::Exit(code) => break code,
        };
        let mut quit = false;
        if let Some(l) = &status {
            serve_status(stack, &dev, app, l, &mut status_conns, now, &mut quit);
        }
        if quit {
            break 0;
        }
        let next = [
            stack.poll_at(),
            app_at,
            Link::poll_at(&dev),
            status_conns.iter().map(|c| c.until).min(),
        ]
        .into_iter()
        .flatten()
        .min();
        let now = clock(start);
        let timeout = next.map(|t| std::time::Duration::from(t.saturating_duration_since(now)));
        if timeout.is_none_or(|t| !t.is_zero()) && last_flush.elapsed().as_millis() >= 200 {
            dev.flush();
            last_flush = StdInstant::now();
        }
        if timeout.is_none_or(|t| !t.is_zero()) {
            if let Err(e) = dev.tap().wait(timeout) {
                eprintln!("wait on {}: {e}", opts.tap);
                break 1;
            }
        }
    };
    // Say goodbye properly, as an operating system would after the process exits: keep
    // the stack running until every FIN we sent is acknowledged (the last bytes and the
    // FIN would otherwise die with the process if a frame was lost), for 10 s at most.
    for c in status_conns.drain(..) {
        c.stream.close(stack);
    }
    let linger_until = clock(start) + Duration::from_secs(10);
    loop {
        let now = clock(start);
        stack.poll(now, &mut dev);
        let finishing = stack.sockets().any(|s| {
            matches!(s.state, State::FinWait1 | State::Closing | State::LastAck)
                || (s.flags.contains(SocketFlags::NO_HANDLE) && s.send_queue > 0)
        });
        if !finishing || now >= linger_until {
            break;
        }
        let next = [stack.poll_at(), Link::poll_at(&dev), Some(linger_until)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(linger_until);
        let timeout = std::time::Duration::from(next.saturating_duration_since(now));
        if dev.tap().wait(Some(timeout)).is_err() {
            break;
        }
    }
    print!("{}", report(stack, &dev, app, &[]));
    dev.flush();
    if let Some(l) = status {
        l.close(stack);
    }
    code
}

fn serve_status<'a, A: App<'a>, D: Link>(
    stack: &mut Stack<'a>,
    dev: &D,
    app: &A,
    listener: &TcpListener<'a>,
    conns: &mut Vec<StatusConn<'a>>,
    now: Instant,
    quit: &mut bool,
) {
    while let Ok((mut s, _)) = listener.accept(stack) {
        let mut skip: Vec<SocketId> = conns.iter().map(|c| c.stream.id()).collect();
        skip.push(s.id());
        let text = report(stack, dev, app, &skip);
        let _ = s.write(stack, text.as_bytes());
        conns.push(StatusConn {
            stream: s,
            until: now + Duration::from_secs(10),
            input: Vec::new(),
        });
    }
    let mut i = 0;
    while i < conns.len() {
        let c = &mut conns[i];
        let mut buf = [0u8; 256];
        let done = loop {
            match c.stream.read(stack, &mut buf) {
                Ok(0) => break true,
                Ok(n) => c.input.extend_from_slice(&buf[..n]),
                Err(Error::WouldBlock) => break now >= c.until,
                Err(_) => break true,
            }
        };
        if String::from_utf8_lossy(&c.input)
            .lines()
            .any(|l| l.trim() == "quit")
        {
            *quit = true;
        }
        if done || *quit {
            conns.swap_remove(i).stream.close(stack);
        } else {
            i += 1;
        }
    }
}

/// The time now as a daytime line (RFC 867 leaves the format open; this is its
/// example's "Weekday, Month Day, Year Time-Zone" style), in UTC.
pub fn daytime_line() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let tod = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    format!(
        "{}, {} {}, {} {:02}:{:02}:{:02}-UTC\r\n",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        year,
        tod / 3_600,
        tod / 60 % 60,
        tod % 60
    )
}

/// Prints what the IPv6 configuration did, one line each, for people and scripts:
/// `ipv6: usable ADDR/PREFIX`, `ipv6: duplicate ADDR (DAD failed, not used)`, ...
fn print_ipv6_event(e: &tidytcp::ip::slaac::SlaacEvent) {
    use tidytcp::ip::slaac::SlaacEvent;
    match e {
        SlaacEvent::Usable(c) => println!("ipv6: usable {c}"),
        SlaacEvent::Duplicate(a) => {
            println!("ipv6: duplicate {a} (DAD failed, another host uses it; not used)")
        }
        SlaacEvent::Deprecated(a) => println!("ipv6: deprecated {a}"),
        SlaacEvent::Removed(a) => println!("ipv6: removed {a}"),
        SlaacEvent::RouterAdded(a) => println!("ipv6: router {a}"),
        SlaacEvent::RouterLost(a) => println!("ipv6: router lost {a}"),
    }
}

/// Prints an address change, and the lease a DHCP event brings, for people and scripts:
/// `dhcp: bound ADDR/PREFIX gateway GW dns DNS lease SECONDS s`.
fn print_address_event(stack: &Stack<'_>, now: Instant, e: &tidytcp::stack::AddressEvent) {
    use tidytcp::ip::dhcp::DhcpEvent;
    use tidytcp::stack::AddressEvent;
    match e {
        AddressEvent::Changed { old, new } => println!("address: {old} -> {new}"),
        AddressEvent::Ipv6(e) => print_ipv6_event(e),
        AddressEvent::Dhcp(DhcpEvent::Lost) => println!("dhcp: lost the address"),
        AddressEvent::Dhcp(DhcpEvent::Bound(l) | DhcpEvent::Renewed(l)) => {
            let kind = if matches!(e, AddressEvent::Dhcp(DhcpEvent::Bound(_))) {
                "bound"
            } else {
                "renewed"
            };
            let gw = l.router.map_or("none".into(), |g| g.to_string());
            let dns: Vec<String> = l
                .dns_servers
                .iter()
                .flatten()
                .map(|a| a.to_string())
                .collect();
            let secs = l.expires_at.map_or("infinite".into(), |x| {
                format!("{}", (x - now).total_millis() / 1000)
            });
            println!(
                "dhcp: {kind} {} gateway {gw} dns {} server {} lease {secs} s (state {:?})",
                l.address,
                if dns.is_empty() {
                    "none".into()
                } else {
                    dns.join(",")
                },
                l.server,
                stack.dhcp().map(|c| c.state())
            );
        }
    }
}
