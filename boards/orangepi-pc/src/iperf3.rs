//! The server side of the iperf3 protocol, sans-IO and allocation-free, for one TCP test
//! at a time with one stream (`iperf3 -c`, with or without `-R`, any `-t`).
//!
//! The protocol, as the iperf3 client speaks it on port 5201:
//! 1. The client opens the *control* connection and sends a 37-byte cookie (36
//!    characters and a NUL).
//! 2. The server sends state bytes (one signed byte each): `PARAM_EXCHANGE` (9); the
//!    client sends its parameters as JSON after a 4-byte big-endian length.
//! 3. `CREATE_STREAMS` (10): the client opens the *data* connection and sends the same
//!    cookie on it.
//! 4. `TEST_START` (1), `TEST_RUNNING` (2): data flows one way, client to server, or
//!    server to client with `"reverse": true`.
//! 5. The client sends `TEST_END` (4) when its time is up; the server answers
//!    `EXCHANGE_RESULTS` (13); the client sends its results (length + JSON), the server
//!    its own, then `DISPLAY_RESULTS` (14); the client ends with `IPERF_DONE` (16).
//!
//! Anything unsupported (UDP, several streams, bidirectional) is answered with
//! `ACCESS_DENIED` (-1). The JSON handling only looks up the few keys it needs.
//!
//! The firmware moves bytes between this state machine and its sockets: control bytes
//! in through [`Server::ctrl_input`] and out through [`Server::ctrl_output`]; data-stream
//! bytes in through [`Server::data_input`]; in reverse mode it sends data while
//! [`Server::sending`] says so and reports it with [`Server::data_sent`].

use core::fmt::Write;

use tidytcp::Instant;

/// The iperf3 port.
pub const PORT: u16 = 5201;
/// Cookie length, NUL included.
pub const COOKIE_LEN: usize = 37;
/// Largest parameter or result JSON accepted from the client.
const JSON_MAX: usize = 4096;

const TEST_START: u8 = 1;
const TEST_RUNNING: u8 = 2;
const TEST_END: u8 = 4;
const PARAM_EXCHANGE: u8 = 9;
const CREATE_STREAMS: u8 = 10;
const CLIENT_TERMINATE: u8 = 12;
const EXCHANGE_RESULTS: u8 = 13;
const DISPLAY_RESULTS: u8 = 14;
const IPERF_DONE: u8 = 16;
const ACCESS_DENIED: u8 = (-1i8) as u8;

/// Where the test is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the control connection's cookie.
    Cookie,
    /// Waiting for the parameters' length.
    ParamLen,
    /// Waiting for the parameters.
    Params,
    /// Waiting for the data connection and its cookie.
    Streams,
    /// Data is flowing.
    Running,
    /// Waiting for the client's results' length.
    ResultsLen,
    /// Waiting for the client's results.
    Results,
    /// Results exchanged; waiting for `IPERF_DONE`.
    Display,
    /// The test is over (or was refused): close both connections.
    Done,
}

/// What a data connection turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataVerdict {
    /// Still reading its cookie.
    Pending,
    /// The stream of this test.
    Accepted,
    /// Not ours (wrong cookie, or no test waiting for a stream): close it.
    Rejected,
}

/// One iperf3 test, server side.
pub struct Server {
    phase: Phase,
    cookie: [u8; COOKIE_LEN],
    /// Bytes of the current field (cookie, length, JSON) received so far.
    got: usize,
    /// Length of the JSON being received.
    need: usize,
    json: [u8; JSON_MAX],
    out: [u8; 512],
    out_len: usize,
    reverse: bool,
    data_cookie: [u8; COOKIE_LEN],
    data_got: usize,
    data_verdict: DataVerdict,
    stream_id: i64,
    bytes: u64,
    retransmits: u64,
    start: Instant,
    end: Instant,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// A server waiting for a control connection.
    pub const fn new() -> Self {
        Server {
            phase: Phase::Cookie,
            cookie: [0; COOKIE_LEN],
            got: 0,
            need: 0,
            json: [0; JSON_MAX],
            out: [0; 512],
            out_len: 0,
            reverse: false,
            data_cookie: [0; COOKIE_LEN],
            data_got: 0,
            data_verdict: DataVerdict::Pending,
            stream_id: 1,
            bytes: 0,
            retransmits: 0,
            start: Instant::ZERO,
            end: Instant::ZERO,
        }
    }

    /// Forgets the test: ready for the next control connection.
    pub fn reset(&mut self) {
        self.phase = Phase::Cookie;
        self.got = 0;
        self.need = 0;
        self.out_len = 0;
        self.reverse = false;
        self.data_got = 0;
        self.data_verdict = DataVerdict::Pending;
        self.stream_id = 1;
        self.bytes = 0;
        self.retransmits = 0;
    }

    /// Where the test is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the test runs server to client (`-R`).
    pub fn reverse(&self) -> bool {
        self.reverse
    }

    /// Data bytes received or sent so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether the firmware should send test data on the data connection now (reverse
    /// mode, test running).
    pub fn sending(&self) -> bool {
        self.reverse && self.phase == Phase::Running
    }

    /// Whether the data connection is to be closed: the test ended. As iperf3's own
    /// server does on `TEST_END`: the client, which has switched its data socket to
    /// blocking reads of whole blocks, then sees the end of the stream instead of
    /// waiting for the rest of a block that will never come.
    pub fn stream_over(&self) -> bool {
        !matches!(self.phase, Phase::Streams | Phase::Running)
    }

    /// The sender's retransmission count, reported in the results (reverse mode).
    pub fn set_retransmits(&mut self, n: u64) {
        self.retransmits = n;
    }

    /// Whether a new connection should be taken as the data stream (a test is waiting
    /// for one and has none yet).
    pub fn wants_stream(&self) -> bool {
        self.phase == Phase::Streams && self.data_got == 0
    }

    fn state(&mut self, s: u8) {
        if self.out_len < self.out.len() {
            self.out[self.out_len] = s;
            self.out_len += 1;
        }
    }

    /// Control bytes waiting to be sent.
    pub fn ctrl_output(&self) -> &[u8] {
        &self.out[..self.out_len]
    }

    /// `n` bytes of [`ctrl_output`](Self::ctrl_output) were sent.
    pub fn ctrl_sent(&mut self, n: usize) {
        let n = n.min(self.out_len);
        self.out.copy_within(n..self.out_len, 0);
        self.out_len -= n;
    }

    /// Control bytes from the client; returns how many were used (the rest must be
    /// offered again after [`ctrl_output`](Self::ctrl_output) has drained).
    pub fn ctrl_input(&mut self, data: &[u8], now: Instant) -> usize {
        let mut used = 0;
        while used < data.len() && self.phase != Phase::Done {
            // Leave room for a whole results message before reading further.
            if self.out.len() - self.out_len < 400 {
                break;
            }
            let rest = &data[used..];
            used += match self.phase {
                Phase::Cookie => {
                    let n = rest.len().min(COOKIE_LEN - self.got);
                    self.cookie[self.got..self.got + n].copy_from_slice(&rest[..n]);
                    self.got += n;
                    if self.got == COOKIE_LEN {
                        self.got = 0;
                        self.phase = Phase::ParamLen;
                        self.state(PARAM_EXCHANGE);
                    }
                    n
                }
                Phase::ParamLen | Phase::ResultsLen => {
                    let n = rest.len().min(4 - self.got);
                    for &b in &rest[..n] {
                        self.need = (self.need << 8) | usize::from(b);
                    }
                    self.got += n;
                    if self.got == 4 {
                        self.got = 0;
                        if self.need > JSON_MAX {
                            self.deny();
                        } else {
                            self.phase = if self.phase == Phase::ParamLen {
                                Phase::Params
                            } else {
                                Phase::Results
                            };
                        }
                    }
                    n
                }
                Phase::Params | Phase::Results => {
                    let n = rest.len().min(self.need - self.got);
                    self.json[self.got..self.got + n].copy_from_slice(&rest[..n]);
                    self.got += n;
                    if self.got == self.need {
                        let len = self.need;
                        self.got = 0;
                        self.need = 0;
                        if self.phase == Phase::Params {
                            self.on_params(len);
                        } else {
                            self.on_results(len);
                        }
                    }
                    n
                }
                Phase::Streams | Phase::Running | Phase::Display => {
                    match rest[0] {
                        TEST_END if self.phase == Phase::Running => {
                            self.end = now;
                            self.phase = Phase::ResultsLen;
                            self.state(EXCHANGE_RESULTS);
                        }
                        IPERF_DONE if self.phase == Phase::Display => self.phase = Phase::Done,
                        CLIENT_TERMINATE => self.phase = Phase::Done,
                        _ => {}
                    }
                    1
                }
                Phase::Done => 0,
            };
        }
        if self.phase == Phase::Running && self.start == Instant::ZERO {
            self.start = now;
        }
        used
    }

    fn deny(&mut self) {
        self.state(ACCESS_DENIED);
        self.phase = Phase::Done;
    }

    fn on_params(&mut self, len: usize) {
        let Ok(j) = core::str::from_utf8(&self.json[..len]) else {
            return self.deny();
        };
        let supported = json_bool(j, "tcp") != Some(false)
            && json_bool(j, "udp") != Some(true)
            && json_bool(j, "sctp") != Some(true)
            && json_bool(j, "bidirectional") != Some(true)
            && json_int(j, "parallel").unwrap_or(1) == 1;
        if !supported {
            return self.deny();
        }
        self.reverse = json_bool(j, "reverse") == Some(true);
        self.phase = Phase::Streams;
        self.state(CREATE_STREAMS);
    }

    fn on_results(&mut self, len: usize) {
        if let Some(id) = core::str::from_utf8(&self.json[..len])
            .ok()
            .and_then(|j| json_int(j, "id"))
        {
            self.stream_id = id;
        }
        let secs = self
            .end
            .saturating_duration_since(self.start)
            .total_micros();
        let mut body = Buf::<400>::new();
        let (has_retr, retr) = if self.reverse {
            (1, self.retransmits as i64)
        } else {
            (0, -1)
        };
        let _ = write!(
            body,
            "{{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,\
             \"sender_has_retransmits\":{has_retr},\"streams\":[{{\"id\":{},\"bytes\":{},\
             \"retransmits\":{retr},\"jitter\":0,\"errors\":0,\"packets\":0,\
             \"start_time\":0,\"end_time\":{}.{:06}}}]}}",
            self.stream_id,
            self.bytes,
            secs / 1_000_000,
            secs % 1_000_000
        );
        let len = (body.len as u32).to_be_bytes();
        for b in len {
            self.state(b);
        }
        let n = body.len;
        for i in 0..n {
            self.state(body.data[i]);
        }
        self.state(DISPLAY_RESULTS);
        self.phase = Phase::Display;
    }

    /// Bytes from the data connection: its cookie first, then (client to server) test
    /// data, which is counted. Returns how many were used and what the connection is.
    pub fn data_input(&mut self, data: &[u8], now: Instant) -> (usize, DataVerdict) {
        let mut used = 0;
        if self.stream_over() && self.data_verdict == DataVerdict::Accepted {
            // Bytes still arriving after TEST_END are not part of the test.
            return (data.len(), DataVerdict::Accepted);
        }
        if self.data_verdict == DataVerdict::Pending {
            if self.phase != Phase::Streams {
                return (0, DataVerdict::Rejected);
            }
            let n = data.len().min(COOKIE_LEN - self.data_got);
            self.data_cookie[self.data_got..self.data_got + n].copy_from_slice(&data[..n]);
            self.data_got += n;
            used = n;
            if self.data_got < COOKIE_LEN {
                return (used, DataVerdict::Pending);
            }
            if self.data_cookie != self.cookie {
                self.data_got = 0;
                return (used, DataVerdict::Rejected);
            }
            self.data_verdict = DataVerdict::Accepted;
            self.phase = Phase::Running;
            self.start = now;
            self.state(TEST_START);
            self.state(TEST_RUNNING);
        }
        let rest = data.len() - used;
        self.bytes += rest as u64;
        (data.len(), DataVerdict::Accepted)
    }

    /// `n` test bytes were queued on the data connection (reverse mode).
    pub fn data_sent(&mut self, n: usize) {
        self.bytes += n as u64;
    }
}

/// A fixed-size text buffer for `write!`.
struct Buf<const N: usize> {
    data: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    fn new() -> Self {
        Buf {
            data: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        let end = self.len + b.len();
        if end > N {
            return Err(core::fmt::Error);
        }
        self.data[self.len..end].copy_from_slice(b);
        self.len = end;
        Ok(())
    }
}

/// The text after `"key":` (whitespace skipped), up to the end of `j`.
fn json_value<'j>(j: &'j str, key: &str) -> Option<&'j str> {
    let mut from = 0;
    while let Some(i) = j[from..].find(key) {
        let at = from + i;
        from = at + key.len();
        let quoted = at > 0
            && j.as_bytes()[at - 1] == b'"'
            && j.as_bytes().get(at + key.len()) == Some(&b'"');
        if !quoted {
            continue;
        }
        let rest = j[at + key.len() + 1..].trim_start();
        if let Some(v) = rest.strip_prefix(':') {
            return Some(v.trim_start());
        }
    }
    None
}

/// The boolean at `key`, if present.
fn json_bool(j: &str, key: &str) -> Option<bool> {
    let v = json_value(j, key)?;
    if v.starts_with("true") {
        Some(true)
    } else if v.starts_with("false") {
        Some(false)
    } else {
        None
    }
}

/// The integer at `key`, if present.
fn json_int(j: &str, key: &str) -> Option<i64> {
    let v = json_value(j, key)?;
    let end = v
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(v.len(), |(i, _)| i);
    v[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    //! The server against a scripted client that speaks as iperf3 3.12 does, fed in odd
    //! pieces (one byte, then whole messages) to check the framing.
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    const COOKIE: &[u8; COOKIE_LEN] = b"abcdefghijklmnopqrstuvwxyz0123456789\0";

    fn json_msg(j: &str) -> Vec<u8> {
        let mut m = (j.len() as u32).to_be_bytes().to_vec();
        m.extend_from_slice(j.as_bytes());
        m
    }

    /// Feeds `data` in pieces of `step` bytes, re-offering what was not used.
    fn feed(s: &mut Server, data: &[u8], step: usize, now: Instant) {
        let mut at = 0;
        while at < data.len() {
            let end = (at + step).min(data.len());
            let n = s.ctrl_input(&data[at..end], now);
            assert!(n > 0 || s.phase() == Phase::Done, "no progress at {at}");
            at += n;
            if s.phase() == Phase::Done {
                break;
            }
        }
    }

    fn take(s: &mut Server) -> Vec<u8> {
        let out = s.ctrl_output().to_vec();
        s.ctrl_sent(out.len());
        out
    }

    fn params(reverse: bool) -> String {
        std::format!(
            "{{\"tcp\":\ttrue,\"omit\":0,\"time\":2,\"num\":0,\"blockcount\":0,\"parallel\":1,\
             \"reverse\":\t{reverse},\"len\":131072,\"pacing_timer\":1000,\"client_version\":\"3.12\"}}"
        )
    }

    fn run(reverse: bool, step: usize) {
        let t0 = Instant::from_secs(1);
        let mut s = Server::new();
        feed(&mut s, COOKIE, step, t0);
        assert_eq!(take(&mut s), [PARAM_EXCHANGE]);
        feed(&mut s, &json_msg(&params(reverse)), step, t0);
        assert_eq!(take(&mut s), [CREATE_STREAMS]);
        assert!(s.wants_stream());
        // The data connection: its cookie, in two pieces, then (forward) test data.
        assert_eq!(s.data_input(&COOKIE[..10], t0), (10, DataVerdict::Pending));
        let mut first = COOKIE[10..].to_vec();
        if !reverse {
            first.extend_from_slice(&[0u8; 1000]);
        }
        let (n, v) = s.data_input(&first, t0);
        assert_eq!((n, v), (first.len(), DataVerdict::Accepted));
        assert_eq!(take(&mut s), [TEST_START, TEST_RUNNING]);
        assert_eq!(s.sending(), reverse);
        if reverse {
            s.data_sent(5000);
            s.set_retransmits(3);
        } else {
            s.data_input(&[0u8; 4000], t0);
        }
        assert!(!s.stream_over());
        let t1 = Instant::from_secs(3);
        feed(&mut s, &[TEST_END], step, t1);
        assert_eq!(take(&mut s), [EXCHANGE_RESULTS]);
        assert!(
            s.stream_over() && !s.sending(),
            "the data connection closes now"
        );
        // Bytes still arriving are not counted.
        s.data_input(&[0u8; 100], t1);
        let client = "{\"cpu_util_total\":1,\"cpu_util_user\":0.5,\"cpu_util_system\":0.5,\
             \"sender_has_retransmits\":0,\"streams\":[{\"id\":1,\"bytes\":5000,\
             \"retransmits\":0,\"jitter\":0,\"errors\":0,\"packets\":0}]}";
        feed(&mut s, &json_msg(client), step, t1);
        let out = take(&mut s);
        let len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(out.len(), 4 + len + 1);
        assert_eq!(out[4 + len], DISPLAY_RESULTS);
        let j = core::str::from_utf8(&out[4..4 + len]).unwrap();
        assert_eq!(json_int(j, "bytes"), Some(5000));
        assert_eq!(json_int(j, "id"), Some(1));
        assert_eq!(
            json_int(j, "retransmits"),
            Some(if reverse { 3 } else { -1 })
        );
        assert_eq!(
            json_int(j, "sender_has_retransmits"),
            Some(i64::from(reverse))
        );
        for key in [
            "cpu_util_total",
            "cpu_util_user",
            "cpu_util_system",
            "jitter",
            "errors",
            "packets",
        ] {
            assert!(json_value(j, key).is_some(), "{key} missing from {j}");
        }
        assert!(j.contains("\"end_time\":2.000000"), "{j}");
        feed(&mut s, &[IPERF_DONE], step, t1);
        assert_eq!(s.phase(), Phase::Done);
    }

    #[test]
    fn forward_test_whole_messages() {
        run(false, usize::MAX);
    }

    #[test]
    fn reverse_test_one_byte_at_a_time() {
        run(true, 1);
    }

    #[test]
    fn unsupported_tests_are_denied() {
        for p in [
            "{\"udp\":true,\"parallel\":1}",
            "{\"tcp\":true,\"parallel\":2}",
            "{\"tcp\":true,\"bidirectional\":true}",
        ] {
            let mut s = Server::new();
            feed(&mut s, COOKIE, 64, Instant::ZERO);
            take(&mut s);
            feed(&mut s, &json_msg(p), 64, Instant::ZERO);
            assert_eq!(take(&mut s), [ACCESS_DENIED], "{p}");
            assert_eq!(s.phase(), Phase::Done);
        }
        // Parameters longer than the server takes.
        let mut s = Server::new();
        feed(&mut s, COOKIE, 64, Instant::ZERO);
        take(&mut s);
        feed(&mut s, &[0, 1, 0, 0], 64, Instant::ZERO);
        assert_eq!(take(&mut s), [ACCESS_DENIED]);
    }

    #[test]
    fn a_stranger_on_the_data_port_is_rejected() {
        let mut s = Server::new();
        feed(&mut s, COOKIE, 64, Instant::ZERO);
        feed(&mut s, &json_msg(&params(false)), 64, Instant::ZERO);
        take(&mut s);
        let mut wrong = *COOKIE;
        wrong[0] = b'X';
        assert_eq!(s.data_input(&wrong, Instant::ZERO).1, DataVerdict::Rejected);
        assert!(s.wants_stream(), "the real stream may still come");
        assert_eq!(s.data_input(COOKIE, Instant::ZERO).1, DataVerdict::Accepted);
    }

    #[test]
    fn client_terminate_ends_the_test() {
        let mut s = Server::new();
        feed(&mut s, COOKIE, 64, Instant::ZERO);
        feed(&mut s, &json_msg(&params(false)), 64, Instant::ZERO);
        feed(&mut s, &[CLIENT_TERMINATE], 64, Instant::ZERO);
        assert_eq!(s.phase(), Phase::Done);
    }
}
