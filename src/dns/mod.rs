//! A DNS stub resolver (RFC 1035) for A and AAAA records (RFC 3596), following CNAMEs,
//! sans-IO.
//!
//! A lookup asks for one [`Family`]: IPv4 (A), IPv6 (AAAA), or either (AAAA first, then
//! A from the same server when the name has no IPv6 address). Servers may be IPv4 or
//! IPv6 addresses; the resolver does not care which carries a question.
//!
//! [`Resolver`] keeps [`MAX_QUERIES`] queries and a [`CACHE_SIZE`]-entry cache bounded by
//! the records' TTLs, in fixed arrays. Each query gets a random ID and a random source
//! port (RFC 5452 §9.2), and an answer is taken only from the server and port it was
//! sent to, with that ID, for that question (RFC 5452 §9.1); everything else is dropped
//! and counted. A query is tried [`ATTEMPTS_PER_SERVER`] times per server, each time
//! waiting [`Resolver::timeout`], then the next server. The `Stack` joins it
//! (`Stack::resolve`, `Stack::query_result`), sending over UDP inside the stack.
//!
//! A truncated answer (TC) is asked again over TCP (RFC 7766): the resolver hands the
//! query to the stack ([`Resolver::tcp_wanted`]), which uses a connection from its own
//! socket table and gives the answer back ([`Resolver::tcp_answer`]). A CNAME whose target's address is not in the same
//! answer ends with [`DnsError::NoAddress`] rather than a second query.

use core::net::IpAddr;

use crate::time::{Duration, Instant};
use crate::wire::dns::{
    self, CLASS_IN, DnsPacket, MAX_NAME_LEN, RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA, TYPE_CNAME,
};

/// Queries in flight at once.
pub const MAX_QUERIES: usize = 4;
/// Names kept in the cache.
pub const CACHE_SIZE: usize = 4;
/// Tries per server before the next one.
pub const ATTEMPTS_PER_SERVER: u8 = 2;
/// CNAMEs followed within one answer.
const MAX_CNAMES: usize = 8;
/// Longest time an answer is cached, whatever its TTL.
const MAX_CACHE_TTL: Duration = Duration::from_secs(3600);

/// Which addresses a lookup asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 only: an A query.
    #[default]
    Ipv4,
    /// IPv6 only: an AAAA query.
    Ipv6,
    /// Either, IPv6 preferred (RFC 6724's default policy): an AAAA query, then an A
    /// query to the same server if the name has no IPv6 address (the answer held no
    /// AAAA record). `Stack::resolve_ip` narrows it to the family the interface can
    /// reach.
    Either,
}

impl Family {
    /// Whether `addr` is of this family.
    pub fn accepts(self, addr: IpAddr) -> bool {
        match self {
            Family::Ipv4 => addr.is_ipv4(),
            Family::Ipv6 => addr.is_ipv6(),
            Family::Either => true,
        }
    }
    /// The record type asked first.
    fn first_qtype(self) -> u16 {
        match self {
            Family::Ipv4 => TYPE_A,
            _ => TYPE_AAAA,
        }
    }
}

/// Why a name could not be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnsError {
    /// No DNS server is configured (none from DHCP, none set).
    NoServer,
    /// The server says the name does not exist (NXDOMAIN).
    NoSuchName,
    /// The name exists but the answer holds no address of the family asked for (or an
    /// address literal of the other family was given).
    NoAddress,
    /// No server answered in time.
    TimedOut,
    /// Every server answered with an error (SERVFAIL, REFUSED, ...) or a malformed message.
    ServerFailure,
    /// The answer was truncated, and asking over TCP failed (no free socket slot, no
    /// connection, no answer in time, an answer larger than the stack's buffer) or is
    /// turned off ([`Resolver::tcp_fallback`]).
    Truncated,
    /// The name is not a valid host name.
    InvalidName,
    /// The handle is not (or no longer) a query of this resolver.
    InvalidHandle,
    /// Every query slot is in use ([`MAX_QUERIES`]); retry when one ends.
    NoQuerySlot,
    /// A lookup the resolver does not make: by address (no PTR), or an IPv6 result
    /// asked for as an IPv4 one (`Stack::query_result` of a `Stack::resolve_ip` query).
    Unsupported,
}

impl core::fmt::Display for DnsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DnsError::NoServer => "no DNS server",
            DnsError::NoSuchName => "no such name",
            DnsError::NoAddress => "no address of that family for the name",
            DnsError::TimedOut => "DNS query timed out",
            DnsError::ServerFailure => "DNS server failure or malformed answer",
            DnsError::Truncated => "truncated DNS answer, and the TCP retry failed",
            DnsError::InvalidName => "invalid host name",
            DnsError::InvalidHandle => "invalid query handle",
            DnsError::NoQuerySlot => "no free DNS query slot",
            DnsError::Unsupported => "lookup not supported",
        })
    }
}

/// A query in progress, to be polled with `Stack::query_result`. Not `Clone`: one owner.
#[derive(Debug, PartialEq, Eq)]
pub struct QueryHandle {
    index: u8,
    generation: u16,
}

/// Counters of the resolver. They wrap around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DnsStats {
    /// Queries sent (retries included).
    pub sent: u32,
    /// Answers taken.
    pub answers: u32,
    /// Datagrams dropped: no query for that port, server or ID, or another question.
    pub mismatched: u32,
    /// Answers dropped as malformed.
    pub malformed: u32,
    /// Lookups answered from the cache.
    pub cache_hits: u32,
    /// Truncated answers retried over TCP.
    pub truncated: u32,
}

/// A name as text, in a fixed buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Name {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Name {
    const EMPTY: Name = Name {
        bytes: [0; MAX_NAME_LEN],
        len: 0,
    };
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
    /// A valid host name, lower-cased, without a trailing dot (RFC 1035 §2.3.1, with `_`).
    fn parse(s: &str) -> Option<Name> {
        let s = s.strip_suffix('.').unwrap_or(s);
        if s.is_empty() || s.len() > MAX_NAME_LEN - 2 {
            return None;
        }
        let labels_ok = s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= dns::MAX_LABEL_LEN
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !labels_ok {
            return None;
        }
        let mut n = Name::EMPTY;
        for (o, b) in n.bytes.iter_mut().zip(s.bytes()) {
            *o = b.to_ascii_lowercase();
        }
        n.len = s.len() as u8;
        Some(n)
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Free,
    /// To send to server `server` (attempt `attempt`).
    Send,
    /// Sent; waiting until `deadline`.
    Wait,
    /// A truncated answer came: the stack is to ask the same server over TCP.
    TcpWanted,
    /// The stack is asking over TCP.
    TcpRunning,
    /// Finished; the result waits for the user.
    Done(Result<IpAddr, DnsError>),
}

#[derive(Clone, Copy, Debug)]
struct Query {
    phase: Phase,
    generation: u16,
    name: Name,
    /// The record type asked now: [`TYPE_A`] or [`TYPE_AAAA`].
    qtype: u16,
    /// After an AAAA answer without an address, ask for A ([`Family::Either`]).
    then_a: bool,
    id: u16,
    port: u16,
    server: u8,
    attempt: u8,
    deadline: Instant,
    /// A server answered with an error (so running out of servers is not a timeout).
    failed: bool,
    /// Waiting for the server's link-layer address, not for an answer: at the deadline
    /// the same attempt is sent.
    held: bool,
}

#[derive(Clone, Copy, Debug)]
struct CacheEntry {
    name: Name,
    addr: IpAddr,
    expires: Instant,
}

/// A query to send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outgoing<'a> {
    /// The server.
    pub server: IpAddr,
    /// Our UDP source port.
    pub port: u16,
    /// The message ID.
    pub id: u16,
    /// The name, dotted text.
    pub name: &'a str,
    /// The record type to ask for: [`TYPE_A`] or [`TYPE_AAAA`].
    pub qtype: u16,
    /// Which query slot (for [`Resolver::sent`] and [`Resolver::unreachable`]).
    pub slot: usize,
}

/// A DNS stub resolver. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct Resolver {
    queries: [Query; MAX_QUERIES],
    cache: [Option<CacheEntry>; CACHE_SIZE],
    rng: u64,
    /// Time given to one attempt. Default 2 s.
    pub timeout: Duration,
    /// Ask over TCP when an answer is truncated (the `Stack` does it through its own
    /// socket table). Default true; false ends such a query with
    /// [`DnsError::Truncated`].
    pub tcp_fallback: bool,
    stats: DnsStats,
    /// A query finished since the last [`Resolver::take_finished`].
    finished: bool,
    /// Some query may be sending, waiting or over TCP: false lets an idle resolver cost
    /// the stack's every poll one test. Set when a query starts, recomputed by
    /// [`Resolver::poll_transmit`].
    busy: bool,
}

/// What an answer means for its query.
enum Verdict {
    /// Not an answer to this query: drop it.
    Mismatch,
    /// An answer that could not be read: try the next server.
    Malformed,
    /// The outcome, with the TTL of an address.
    Answer(Result<(IpAddr, u32), DnsError>),
}

/// Done results not collected are freed this long after they finish.
const UNCOLLECTED: Duration = Duration::from_secs(60);

impl Resolver {
    /// A resolver whose IDs and ports come from `seed` (the stack's secret seed).
    pub fn new(seed: u64) -> Self {
        let q = Query {
            phase: Phase::Free,
            generation: 0,
            name: Name::EMPTY,
            qtype: TYPE_A,
            then_a: false,
            id: 0,
            port: 0,
            server: 0,
            attempt: 0,
            deadline: Instant::ZERO,
            failed: false,
            held: false,
        };
        Resolver {
            queries: [q; MAX_QUERIES],
            cache: [None; CACHE_SIZE],
            rng: seed,
            timeout: Duration::from_secs(2),
            tcp_fallback: true,
            stats: DnsStats::default(),
            finished: false,
            busy: false,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &DnsStats {
        &self.stats
    }

    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Starts resolving `name` to an address of `family` at `now` with `servers`. An
    /// address literal, a cached name, an invalid name or the lack of a server finishes
    /// at once (the result is ready at the first [`Resolver::result`]). With every query
    /// slot taken, [`crate::Error::Exhausted`].
    pub fn resolve(
        &mut self,
        now: Instant,
        name: &str,
        family: Family,
        servers: &[Option<IpAddr>],
    ) -> crate::Result<QueryHandle> {
        let i = self
            .queries
            .iter()
            .position(|q| match q.phase {
                Phase::Free => true,
                Phase::Done(_) => q.deadline <= now,
                _ => false,
            })
            .ok_or(crate::Error::Exhausted(crate::Capacity::Queries))?;
        let immediate = self.immediate(now, name, family, servers);
        let (port, id) = (49152 + (self.random() % 16384) as u16, self.random() as u16);
        let q = &mut self.queries[i];
        q.generation = q.generation.wrapping_add(1);
        q.name = Name::parse(name).unwrap_or(Name::EMPTY);
        (q.qtype, q.then_a) = (family.first_qtype(), family == Family::Either);
        (q.port, q.id, q.server, q.attempt) = (port, id, 0, 0);
        (q.failed, q.held) = (false, false);
        q.deadline = now + UNCOLLECTED;
        q.phase = match immediate {
            Some(r) => Phase::Done(r),
            None => Phase::Send,
        };
        self.busy |= immediate.is_none();
        Ok(QueryHandle {
            index: i as u8,
            generation: q.generation,
        })
    }

    /// The result known without asking a server, if any.
    fn immediate(
        &mut self,
        now: Instant,
        name: &str,
        family: Family,
        servers: &[Option<IpAddr>],
    ) -> Option<Result<IpAddr, DnsError>> {
        if let Ok(a) = name.parse::<IpAddr>() {
            return Some(
                Some(a)
                    .filter(|a| family.accepts(*a))
                    .ok_or(DnsError::NoAddress),
            );
        }
        let Some(n) = Name::parse(name) else {
            return Some(Err(DnsError::InvalidName));
        };
        // IPv6 first for `Either`, as the query would be.
        let cached = |v6: bool| {
            self.cache
                .iter()
                .flatten()
                .find(|e| e.name == n && e.expires > now && e.addr.is_ipv6() == v6)
                .map(|e| e.addr)
        };
        let hit = match family {
            Family::Ipv4 => cached(false),
            Family::Ipv6 => cached(true),
            Family::Either => cached(true).or_else(|| cached(false)),
        };
        if let Some(a) = hit {
            self.stats.cache_hits = self.stats.cache_hits.wrapping_add(1);
            return Some(Ok(a));
        }
        if servers.iter().all(Option::is_none) {
            return Some(Err(DnsError::NoServer));
        }
        None
    }

    /// The result of query `h`: `Pending` while it runs. A ready result frees the query;
    /// asking again is [`DnsError::InvalidHandle`].
    pub fn result(&mut self, h: &QueryHandle) -> core::task::Poll<Result<IpAddr, DnsError>> {
        use core::task::Poll;
        let Some(q) = self.queries.get_mut(usize::from(h.index)) else {
            return Poll::Ready(Err(DnsError::InvalidHandle));
        };
        if q.generation != h.generation || q.phase == Phase::Free {
            return Poll::Ready(Err(DnsError::InvalidHandle));
        }
        match q.phase {
            Phase::Done(r) => {
                q.phase = Phase::Free;
                Poll::Ready(r)
            }
            _ => Poll::Pending,
        }
    }

    /// Gives up query `h`; its slot is free at once.
    pub fn cancel(&mut self, h: QueryHandle) {
        if let Some(q) = self.queries.get_mut(usize::from(h.index)) {
            if q.generation == h.generation {
                q.phase = Phase::Free;
            }
        }
    }

    /// Whether a query finished (with an answer or an error) since the last call; the
    /// stack moves its socket set's epoch then, so that waiters wake up.
    pub fn take_finished(&mut self) -> bool {
        core::mem::take(&mut self.finished)
    }

    /// Whether some query may be sending, waiting or asking over TCP (false: the
    /// resolver has nothing to do until the next [`Resolver::resolve`]).
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// When the resolver next needs to run.
    pub fn poll_at(&self) -> Option<Instant> {
        if !self.busy {
            return None;
        }
        self.queries
            .iter()
            .filter_map(|q| match q.phase {
                Phase::Send => Some(Instant::ZERO),
                Phase::Wait => Some(q.deadline),
                _ => None,
            })
            .min()
    }
}

impl Resolver {
    /// The next query to send at `now` to one of `servers`, after running timeouts. Call
    /// [`Resolver::sent`] once it went out (or [`Resolver::unreachable`]); until then it
    /// is handed out again.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        servers: &[Option<IpAddr>],
    ) -> Option<Outgoing<'_>> {
        if !self.busy {
            return None;
        }
        for i in 0..MAX_QUERIES {
            // The three fields, not the query: a copy would take its name buffer along,
            // on every poll of the stack.
            let (phase, deadline, held) = {
                let q = &self.queries[i];
                (q.phase, q.deadline, q.held)
            };
            if phase == Phase::Wait && deadline <= now {
                if held {
                    self.queries[i].held = false;
                    self.queries[i].phase = Phase::Send;
                } else {
                    self.next_attempt(i, now, servers);
                }
            }
        }
        self.busy = self.queries.iter().any(|q| {
            matches!(
                q.phase,
                Phase::Send | Phase::Wait | Phase::TcpWanted | Phase::TcpRunning
            )
        });
        let i = self.queries.iter().position(|q| q.phase == Phase::Send)?;
        let q = &self.queries[i];
        let server = servers.iter().flatten().nth(usize::from(q.server))?;
        Some(Outgoing {
            server: *server,
            port: q.port,
            id: q.id,
            name: q.name.as_str(),
            qtype: q.qtype,
            slot: i,
        })
    }

    /// The query in `slot` was sent at `now`.
    pub fn sent(&mut self, slot: usize, now: Instant) {
        let timeout = self.timeout;
        if let Some(q) = self.queries.get_mut(slot) {
            q.phase = Phase::Wait;
            q.held = false;
            q.deadline = now + timeout;
            self.stats.sent = self.stats.sent.wrapping_add(1);
        }
    }

    /// The query in `slot` cannot go out before `until` (the server's link-layer address
    /// is being resolved); the attempt is not counted.
    pub fn hold(&mut self, slot: usize, until: Instant) {
        if let Some(q) = self.queries.get_mut(slot) {
            q.phase = Phase::Wait;
            q.held = true;
            q.deadline = until;
        }
    }

    /// The server of the query in `slot` cannot be reached (ARP failed, no route): the
    /// next server is tried.
    pub fn unreachable(&mut self, slot: usize, now: Instant, servers: &[Option<IpAddr>]) {
        if let Some(q) = self.queries.get_mut(slot) {
            q.attempt = ATTEMPTS_PER_SERVER;
            self.next_attempt(slot, now, servers);
        }
    }

    /// Retry, next server, or give up.
    fn next_attempt(&mut self, i: usize, now: Instant, servers: &[Option<IpAddr>]) {
        let count = servers.iter().flatten().count();
        let q = &mut self.queries[i];
        q.attempt = q.attempt.saturating_add(1);
        if q.attempt >= ATTEMPTS_PER_SERVER {
            q.attempt = 0;
            q.server = q.server.saturating_add(1);
        }
        if usize::from(q.server) >= count {
            let e = if q.failed {
                DnsError::ServerFailure
            } else {
                DnsError::TimedOut
            };
            q.phase = Phase::Done(Err(e));
            q.deadline = now + UNCOLLECTED;
            self.finished = true;
        } else {
            q.phase = Phase::Send;
        }
    }
}

impl Resolver {
    /// A UDP datagram from `src:src_port` to our port `dst_port`. Returns whether it
    /// answered a query; anything else is dropped and counted.
    pub fn receive(
        &mut self,
        now: Instant,
        src: IpAddr,
        src_port: u16,
        dst_port: u16,
        msg: &[u8],
        servers: &[Option<IpAddr>],
    ) -> bool {
        // RFC 5452 §9.1: the port, the server and its port, the ID, the question.
        let found = self.queries.iter().position(|q| {
            q.phase == Phase::Wait
                && q.port == dst_port
                && src_port == dns::PORT
                && servers.iter().flatten().nth(usize::from(q.server)) == Some(&src)
        });
        let Some(i) = found else {
            self.stats.mismatched = self.stats.mismatched.wrapping_add(1);
            return false;
        };
        let q = self.queries[i];
        match judge(msg, q.id, &q.name, q.qtype) {
            Verdict::Mismatch => {
                self.stats.mismatched = self.stats.mismatched.wrapping_add(1);
                false
            }
            Verdict::Malformed | Verdict::Answer(Err(DnsError::ServerFailure)) => {
                self.stats.malformed = self.stats.malformed.wrapping_add(1);
                self.queries[i].failed = true;
                self.queries[i].attempt = ATTEMPTS_PER_SERVER;
                self.next_attempt(i, now, servers);
                true
            }
            Verdict::Answer(Err(DnsError::Truncated)) if self.tcp_fallback => {
                // RFC 1035 §4.2.2 / RFC 7766 §5: ask again over TCP.
                self.stats.truncated = self.stats.truncated.wrapping_add(1);
                self.queries[i].phase = Phase::TcpWanted;
                true
            }
            Verdict::Answer(r) => {
                self.answered(i, now, r);
                true
            }
        }
    }

    /// Query `i` got its answer `r`: cached and done, or (no IPv6 address for
    /// [`Family::Either`]) asked again for A, from the same server, with a new ID.
    fn answered(&mut self, i: usize, now: Instant, r: Result<(IpAddr, u32), DnsError>) {
        self.stats.answers = self.stats.answers.wrapping_add(1);
        let q = self.queries[i];
        if r == Err(DnsError::NoAddress) && q.then_a {
            let id = self.random() as u16;
            let q = &mut self.queries[i];
            (q.qtype, q.then_a, q.id, q.attempt) = (TYPE_A, false, id, 0);
            q.phase = Phase::Send;
            self.busy = true;
            return;
        }
        if let Ok((addr, ttl)) = r {
            self.cache_insert(now, q.name, addr, ttl);
        }
        let q = &mut self.queries[i];
        q.phase = Phase::Done(r.map(|(a, _)| a));
        q.deadline = now + UNCOLLECTED;
        self.finished = true;
    }

    fn cache_insert(&mut self, now: Instant, name: Name, addr: IpAddr, ttl: u32) {
        if ttl == 0 {
            return;
        }
        let life = Duration::from_secs(u64::from(ttl)).min(MAX_CACHE_TTL);
        // The same name, else a free or expired entry, else the one expiring first.
        let slot = self
            .cache
            .iter()
            .position(|e| e.is_some_and(|e| e.name == name && e.addr.is_ipv6() == addr.is_ipv6()))
            .or_else(|| {
                self.cache
                    .iter()
                    .position(|e| e.is_none_or(|e| e.expires <= now))
            })
            .or_else(|| {
                (0..CACHE_SIZE).min_by_key(|&k| self.cache[k].map_or(Instant::ZERO, |e| e.expires))
            });
        if let Some(k) = slot {
            self.cache[k] = Some(CacheEntry {
                name,
                addr,
                expires: now + life,
            });
        }
    }
}

/// What `msg` says about the query with `id` for `name` of type `qtype` (RFC 1035
/// §4.1, §7.3).
fn judge(msg: &[u8], id: u16, name: &Name, qtype: u16) -> Verdict {
    let Ok(p) = DnsPacket::new_checked(msg) else {
        return Verdict::Mismatch;
    };
    if p.id() != id || !p.is_response() || p.opcode() != 0 || p.question_count() != 1 {
        return Verdict::Mismatch;
    }
    let mut buf = [0u8; MAX_NAME_LEN];
    let Ok(n) = p.read_name(dns::HEADER_LEN, &mut buf) else {
        return Verdict::Mismatch;
    };
    let Ok(q_end) = p.skip_name(dns::HEADER_LEN) else {
        return Verdict::Mismatch;
    };
    let question = msg.get(q_end..q_end + 4);
    let [t0, t1] = qtype.to_be_bytes();
    if &buf[..n] != name.as_bytes() || question != Some(&[t0, t1, 0, 1]) {
        return Verdict::Mismatch;
    }
    if p.truncated() {
        return Verdict::Answer(Err(DnsError::Truncated));
    }
    match p.rcode() {
        0 => {}
        RCODE_NXDOMAIN => return Verdict::Answer(Err(DnsError::NoSuchName)),
        _ => return Verdict::Answer(Err(DnsError::ServerFailure)),
    }
    match address_for(&p, name, qtype) {
        Ok(r) => Verdict::Answer(r),
        Err(_) => Verdict::Malformed,
    }
}

/// The address of `name` in the answer section from a record of type `qtype` (A or
/// AAAA), through up to [`MAX_CNAMES`] CNAMEs.
fn address_for(
    p: &DnsPacket<'_>,
    name: &Name,
    qtype: u16,
) -> Result<Result<(IpAddr, u32), DnsError>, crate::wire::WireError> {
    let mut target = *name;
    let mut owner = [0u8; MAX_NAME_LEN];
    for _ in 0..=MAX_CNAMES {
        let mut at = p.answers_at()?;
        let mut next = None;
        for _ in 0..p.answer_count() {
            let (r, after) = p.record(at)?;
            at = after;
            let n = p.read_name(r.name_at, &mut owner)?;
            if &owner[..n] != target.as_bytes() || r.class != CLASS_IN {
                continue;
            }
            match r.rtype {
                TYPE_A | TYPE_AAAA if r.rtype == qtype => {
                    if let Some(a) = r.address() {
                        return Ok(Ok((a, r.ttl)));
                    }
                }
                TYPE_CNAME => {
                    let mut t = Name::EMPTY;
                    t.len = p.read_name(r.data_at, &mut t.bytes)? as u8;
                    next = Some(t);
                }
                _ => {}
            }
        }
        match next {
            Some(t) => target = t,
            None => break,
        }
    }
    Ok(Err(DnsError::NoAddress))
}

impl Resolver {
    /// A query whose answer was truncated, to ask over TCP: its slot, server, ID and name.
    /// Call [`Resolver::tcp_started`] once the connection is opened.
    pub fn tcp_wanted(&self, servers: &[Option<IpAddr>]) -> Option<Outgoing<'_>> {
        if !self.busy {
            return None;
        }
        let i = self
            .queries
            .iter()
            .position(|q| q.phase == Phase::TcpWanted)?;
        let q = &self.queries[i];
        let server = servers.iter().flatten().nth(usize::from(q.server))?;
        Some(Outgoing {
            server: *server,
            port: dns::PORT,
            id: q.id,
            name: q.name.as_str(),
            qtype: q.qtype,
            slot: i,
        })
    }

    /// The TCP query for `slot` is under way.
    pub fn tcp_started(&mut self, slot: usize) {
        if let Some(q) = self
            .queries
            .get_mut(slot)
            .filter(|q| q.phase == Phase::TcpWanted)
        {
            q.phase = Phase::TcpRunning;
        }
    }

    /// The answer that came over TCP for `slot` (without its 2-byte length prefix), or
    /// `None` when the TCP query failed.
    pub fn tcp_answer(&mut self, slot: usize, now: Instant, msg: Option<&[u8]>) {
        let Some(q) = self.queries.get(slot).copied() else {
            return;
        };
        if !matches!(q.phase, Phase::TcpWanted | Phase::TcpRunning) {
            return;
        }
        let r = match msg.map(|m| judge(m, q.id, &q.name, q.qtype)) {
            Some(Verdict::Answer(r)) => r,
            _ => Err(DnsError::Truncated),
        };
        self.answered(slot, now, r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::task::Poll;
    use std::vec::Vec;

    use core::net::{Ipv4Addr, Ipv6Addr};

    const S1: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 8, 0, 1));
    const S2: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 8, 0, 2));
    const SERVERS: [Option<IpAddr>; 3] = [Some(S1), None, Some(S2)];
    const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 8, 0, 13));
    const ADDR6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x13));

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// A response to `id` for `name`: rcode, then A records `(owner, addr)` or CNAMEs.
    fn answer(id: u16, name: &str, rcode: u8, records: &[(&str, Result<IpAddr, &str>)]) -> Vec<u8> {
        answer_to(TYPE_A, id, name, rcode, records)
    }

    /// A response to a question of type `qtype`; records of either family.
    fn answer_to(
        qtype: u16,
        id: u16,
        name: &str,
        rcode: u8,
        records: &[(&str, Result<IpAddr, &str>)],
    ) -> Vec<u8> {
        let mut v = std::vec![0u8; 600];
        let n = dns::emit_query(&mut v, id, name, qtype).unwrap();
        v.truncate(n);
        v[2] |= 0x80;
        v[3] = rcode;
        v[7] = records.len() as u8;
        for (owner, data) in records {
            let mut q = [0u8; 300];
            let n = dns::emit_query(&mut q, 0, owner, 0).unwrap();
            v.extend_from_slice(&q[12..n - 4]);
            match data {
                Ok(IpAddr::V4(a)) => {
                    v.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
                    v.extend_from_slice(&a.octets());
                }
                Ok(IpAddr::V6(a)) => {
                    v.extend_from_slice(&[0, 28, 0, 1, 0, 0, 0, 30, 0, 16]);
                    v.extend_from_slice(&a.octets());
                }
                Err(target) => {
                    let n = dns::emit_query(&mut q, 0, target, 0).unwrap();
                    let name = &q[12..n - 4];
                    v.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 30, 0, name.len() as u8]);
                    v.extend_from_slice(name);
                }
            }
        }
        v
    }

    fn start(r: &mut Resolver, name: &str) -> (QueryHandle, IpAddr, u16, u16) {
        start_as(r, name, Family::Ipv4)
    }

    fn start_as(r: &mut Resolver, name: &str, f: Family) -> (QueryHandle, IpAddr, u16, u16) {
        let h = r.resolve(t(0), name, f, &SERVERS).unwrap();
        let o = r.poll_transmit(t(0), &SERVERS).unwrap();
        assert_eq!(o.qtype, f.first_qtype());
        assert_eq!(o.name, name.to_ascii_lowercase().trim_end_matches('.'));
        let (server, port, id, slot) = (o.server, o.port, o.id, o.slot);
        assert!(port >= 49152);
        r.sent(slot, t(0));
        (h, server, port, id)
    }

    #[test]
    fn a_record_through_a_cname_and_cached() {
        let mut r = Resolver::new(7);
        let (h, server, port, id) = start(&mut r, "Daytime.Test.");
        assert_eq!(server, S1);
        assert_eq!(r.result(&h), Poll::Pending);
        let msg = answer(
            id,
            "daytime.test",
            0,
            &[("daytime.test", Err("host.test")), ("host.test", Ok(ADDR))],
        );
        assert!(r.receive(t(5), S1, 53, port, &msg, &SERVERS));
        assert_eq!(r.result(&h), Poll::Ready(Ok(ADDR)));
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::InvalidHandle)));
        // From the cache, until the TTL (30 s) runs out.
        let h = r
            .resolve(t(1000), "daytime.test", Family::Ipv4, &SERVERS)
            .unwrap();
        assert_eq!(r.result(&h), Poll::Ready(Ok(ADDR)));
        assert_eq!(r.stats().cache_hits, 1);
        r.resolve(t(31_000), "daytime.test", Family::Ipv4, &SERVERS)
            .unwrap();
        assert!(r.poll_transmit(t(31_000), &SERVERS).is_some());
    }

    #[test]
    fn spoofed_answers_are_dropped() {
        let mut r = Resolver::new(7);
        let (h, _, port, id) = start(&mut r, "daytime.test");
        let good = answer(id, "daytime.test", 0, &[("daytime.test", Ok(ADDR))]);
        let cases: [(IpAddr, u16, u16, Vec<u8>); 5] = [
            (S2, 53, port, good.clone()),                           // other server
            (S1, 5353, port, good.clone()),                         // other source port
            (S1, 53, port ^ 1, good.clone()),                       // other destination port
            (S1, 53, port, answer(id ^ 1, "daytime.test", 0, &[])), // other ID
            (S1, 53, port, answer(id, "other.test", 0, &[])),       // other question
        ];
        for (src, sport, dport, msg) in &cases {
            assert!(!r.receive(t(1), *src, *sport, *dport, msg, &SERVERS));
        }
        assert_eq!(r.stats().mismatched, 5);
        assert_eq!(r.result(&h), Poll::Pending);
        assert!(r.receive(t(1), S1, 53, port, &good, &SERVERS));
        assert_eq!(r.result(&h), Poll::Ready(Ok(ADDR)));
    }

    #[test]
    fn errors_say_what_failed() {
        let mut r = Resolver::new(1);
        let (h, _, port, id) = start(&mut r, "nope.test");
        assert!(r.receive(
            t(1),
            S1,
            53,
            port,
            &answer(id, "nope.test", 3, &[]),
            &SERVERS
        ));
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::NoSuchName)));
        let (h, _, port, id) = start(&mut r, "alias.test");
        let only_cname = answer(id, "alias.test", 0, &[("alias.test", Err("far.test"))]);
        assert!(r.receive(t(1), S1, 53, port, &only_cname, &SERVERS));
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::NoAddress)));
        r.tcp_fallback = false;
        let (h, _, port, id) = start(&mut r, "big.test");
        let mut tc = answer(id, "big.test", 0, &[]);
        tc[2] |= 0x02;
        assert!(r.receive(t(1), S1, 53, port, &tc, &SERVERS));
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::Truncated)));
        r.tcp_fallback = true;
        let h = r.resolve(t(0), "a..b", Family::Ipv4, &SERVERS).unwrap();
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::InvalidName)));
        let h = r
            .resolve(t(0), "a.test", Family::Ipv4, &[None, None, None])
            .unwrap();
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::NoServer)));
        let h = r.resolve(t(0), "10.1.2.3", Family::Ipv4, &[]).unwrap();
        assert_eq!(
            r.result(&h),
            Poll::Ready(Ok(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))))
        );
    }

    #[test]
    fn retries_then_next_server_then_timeout() {
        let mut r = Resolver::new(3);
        let (h, _, _, _) = start(&mut r, "slow.test");
        let mut sent = std::vec![(0u64, S1)];
        let mut now = 0;
        while r.result(&h) == Poll::Pending {
            now += 100;
            assert!(now < 20_000);
            if let Some(o) = r.poll_transmit(t(now), &SERVERS) {
                let (server, slot) = (o.server, o.slot);
                sent.push((now, server));
                r.sent(slot, t(now));
            }
        }
        assert_eq!(sent, [(0, S1), (2000, S1), (4000, S2), (6000, S2)]);
        assert_eq!(now, 8000);
        assert_eq!(r.stats().sent, 4);
        // (the last result call above freed the query with TimedOut)
        let (h, _, port, id) = start(&mut r, "fail.test");
        assert!(r.receive(
            t(1),
            S1,
            53,
            port,
            &answer(id, "fail.test", 2, &[]),
            &SERVERS
        ));
        let o = r.poll_transmit(t(1), &SERVERS).unwrap();
        assert_eq!(o.server, S2, "SERVFAIL: next server at once");
        let slot = o.slot;
        r.sent(slot, t(1));
        let mut now = 1;
        while r.result(&h) == Poll::Pending {
            now += 100;
            let _ = r
                .poll_transmit(t(now), &SERVERS)
                .map(|o| o.slot)
                .map(|s| r.sent(s, t(now)));
        }
    }

    #[test]
    fn bounded_queries_and_uncollected_results_freed() {
        let mut r = Resolver::new(3);
        let hs: Vec<_> = (0..MAX_QUERIES)
            .map(|i| {
                r.resolve(t(0), &std::format!("h{i}.test"), Family::Ipv4, &SERVERS)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            r.resolve(t(0), "more.test", Family::Ipv4, &SERVERS),
            Err(crate::Error::Exhausted(crate::Capacity::Queries))
        );
        r.cancel(hs.into_iter().next().unwrap());
        let h = r.resolve(t(0), "1.2.3.4", Family::Ipv4, &SERVERS).unwrap();
        // Never collected: freed 60 s after it finished.
        assert_eq!(
            r.resolve(t(1), "more.test", Family::Ipv4, &SERVERS),
            Err(crate::Error::Exhausted(crate::Capacity::Queries))
        );
        assert!(
            r.resolve(t(60_000), "more.test", Family::Ipv4, &SERVERS)
                .is_ok()
        );
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::InvalidHandle)));
    }

    #[test]
    fn truncated_answers_are_asked_again_over_tcp() {
        let mut r = Resolver::new(5);
        let (h, _, port, id) = start(&mut r, "big.test");
        let mut tc = answer(id, "big.test", 0, &[]);
        tc[2] |= 0x02;
        assert!(r.tcp_wanted(&SERVERS).is_none());
        assert!(r.receive(t(1), S1, 53, port, &tc, &SERVERS));
        assert_eq!(r.result(&h), Poll::Pending);
        let o = r.tcp_wanted(&SERVERS).unwrap();
        assert_eq!((o.server, o.port, o.id, o.name), (S1, 53, id, "big.test"));
        let slot = o.slot;
        r.tcp_started(slot);
        assert!(r.tcp_wanted(&SERVERS).is_none());
        assert_eq!(r.poll_at(), None, "the stack drives the TCP query");
        let full = answer(id, "big.test", 0, &[("big.test", Ok(ADDR))]);
        r.tcp_answer(slot, t(2), Some(&full));
        assert_eq!(r.result(&h), Poll::Ready(Ok(ADDR)));
        assert_eq!(r.stats().truncated, 1);
        // A failed TCP query says so.
        let (h, _, port, id) = start(&mut r, "big2.test");
        let mut tc = answer(id, "big2.test", 0, &[]);
        tc[2] |= 0x02;
        r.receive(t(1), S1, 53, port, &tc, &SERVERS);
        let slot = r.tcp_wanted(&SERVERS).unwrap().slot;
        r.tcp_answer(slot, t(3), None);
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::Truncated)));
    }

    #[test]
    fn aaaa_record_over_an_ipv6_server() {
        let s6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
        let servers = [Some(s6), None];
        let mut r = Resolver::new(9);
        let h = r.resolve(t(0), "v6.test", Family::Ipv6, &servers).unwrap();
        let o = r.poll_transmit(t(0), &servers).unwrap();
        assert_eq!((o.server, o.qtype), (s6, TYPE_AAAA));
        let (port, id, slot) = (o.port, o.id, o.slot);
        r.sent(slot, t(0));
        // An answer to an A question, or holding only an A record, is not the answer.
        let wrong_q = answer_to(TYPE_A, id, "v6.test", 0, &[("v6.test", Ok(ADDR))]);
        assert!(!r.receive(t(1), s6, 53, port, &wrong_q, &servers));
        let msg = answer_to(
            TYPE_AAAA,
            id,
            "v6.test",
            0,
            &[("v6.test", Ok(ADDR)), ("v6.test", Ok(ADDR6))],
        );
        assert!(r.receive(t(1), s6, 53, port, &msg, &servers));
        assert_eq!(r.result(&h), Poll::Ready(Ok(ADDR6)));
        // Cached per family: an IPv4 lookup of the name still asks.
        let h = r
            .resolve(t(2), "v6.test", Family::Either, &servers)
            .unwrap();
        assert_eq!(r.result(&h), Poll::Ready(Ok(ADDR6)));
        r.resolve(t(2), "v6.test", Family::Ipv4, &servers).unwrap();
        assert_eq!(r.poll_transmit(t(2), &servers).unwrap().qtype, TYPE_A);
    }

    #[test]
    fn either_falls_back_to_a_and_literals_keep_their_family() {
        let mut r = Resolver::new(11);
        let (h, _, port, id) = start_as(&mut r, "old.test", Family::Either);
        let none = answer_to(TYPE_AAAA, id, "old.test", 0, &[]);
        assert!(r.receive(t(1), S1, 53, port, &none, &SERVERS));
        assert_eq!(r.result(&h), Poll::Pending);
        let o = r.poll_transmit(t(1), &SERVERS).unwrap();
        assert_eq!((o.server, o.qtype), (S1, TYPE_A));
        assert_ne!(o.id, id, "a new ID for the new question");
        let (port, id, slot) = (o.port, o.id, o.slot);
        r.sent(slot, t(1));
        let a = answer(id, "old.test", 0, &[("old.test", Ok(ADDR))]);
        assert!(r.receive(t(2), S1, 53, port, &a, &SERVERS));
        assert_eq!(r.result(&h), Poll::Ready(Ok(ADDR)));
        // No AAAA for an IPv6-only lookup: no address, no A query.
        let (h, _, port, id) = start_as(&mut r, "old2.test", Family::Ipv6);
        let none = answer_to(TYPE_AAAA, id, "old2.test", 0, &[]);
        assert!(r.receive(t(1), S1, 53, port, &none, &SERVERS));
        assert_eq!(r.result(&h), Poll::Ready(Err(DnsError::NoAddress)));
        for (name, f, want) in [
            ("2001:db8::13", Family::Ipv6, Ok(ADDR6)),
            ("2001:db8::13", Family::Either, Ok(ADDR6)),
            ("2001:db8::13", Family::Ipv4, Err(DnsError::NoAddress)),
            ("10.8.0.13", Family::Ipv6, Err(DnsError::NoAddress)),
        ] {
            let h = r.resolve(t(3), name, f, &SERVERS).unwrap();
            assert_eq!(r.result(&h), Poll::Ready(want), "{name} {f:?}");
        }
    }

    #[test]
    fn held_for_arp_does_not_count_an_attempt() {
        let mut r = Resolver::new(3);
        r.resolve(t(0), "a.test", Family::Ipv4, &SERVERS).unwrap();
        let slot = r.poll_transmit(t(0), &SERVERS).unwrap().slot;
        r.hold(slot, t(100));
        assert!(r.poll_transmit(t(50), &SERVERS).is_none());
        assert_eq!(r.poll_at(), Some(t(100)));
        assert_eq!(r.poll_transmit(t(100), &SERVERS).unwrap().server, S1);
    }
}
