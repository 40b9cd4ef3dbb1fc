//! A tiny static HTTP/1.1 server on tidytcp over a TAP device: `GET` and `HEAD`,
//! persistent connections (keep-alive) with `Content-Length` framing, pipelined
//! requests answered in order, bodies streamed from files straight into the send buffer.
//!
//! ```text
//! sudo scripts/netns.sh up
//! sudo ip netns exec tidytcp cargo run --release --example http -- --tap tap0 --ip 10.7.0.2/24 --root ./site
//! sudo ip netns exec tidytcp curl -v http://10.7.0.2/ http://10.7.0.2/bytes/10000000 -o /dev/null -o /dev/null
//! ```
//!
//! Own options: `--port N` (80), `--root DIR` (files to serve; without it only the
//! built-in pages), `--conns N` (64). Built-in: `/` (a short page, unless the root has an
//! `index.html`) and `/bytes/N` (N bytes of the RFC 864 chargen pattern, for tests).
//! Idle persistent connections are closed after 5 s (Apache's `KeepAliveTimeout`): with few
//! slots, idle keep-alive connections must make room for clients waiting to connect.

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::{App, Options, Step};
use tidytcp::socket::{HeapStorage, TcpListener, TcpStream};
use tidytcp::stack::Stack;
use tidytcp::{Duration, Error, Instant};

const USAGE: &str = "http [--port N] [--root DIR] [--conns N]";
const MAX_HEAD: usize = 8192;
const IDLE: Duration = Duration::from_secs(5);

enum Body {
    None,
    File(File, u64),
    Pattern { pos: u64, left: u64 },
}

struct Conn<'a> {
    stream: TcpStream<'a>,
    input: Vec<u8>,
    /// Response head not yet queued, and how much of it is.
    head: Vec<u8>,
    head_sent: usize,
    body: Body,
    /// Close once the current response is out.
    close_after: bool,
    /// The request was HTTP/1.0 with `Connection: keep-alive`: the response must say
    /// `Connection: keep-alive` too, or the client waits for the close (RFC 9112 §9.3).
    announce_keep_alive: bool,
    /// Request body bytes still to skip.
    skip: u64,
    idle_since: Instant,
    requests: u64,
}

struct Http<'a> {
    listener: TcpListener<'a>,
    port: u16,
    root: Option<PathBuf>,
    conns: Vec<Conn<'a>>,
    pattern: Vec<u8>,
    served: u64,
    bytes: u64,
}

fn chargen_period() -> Vec<u8> {
    let mut p = Vec::with_capacity(95 * 74);
    for line in 0..95 {
        for col in 0..72 {
            p.push(b' ' + ((line + col) % 95) as u8);
        }
        p.extend_from_slice(b"\r\n");
    }
    p
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// A parsed request head.
struct Request {
    method: String,
    target: String,
    keep_alive: bool,
    /// HTTP/1.0, where persistence is only by the `keep-alive` token.
    http10: bool,
    content_length: u64,
}

fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next()?;
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut keep_alive = version == "HTTP/1.1";
    let mut content_length = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked request bodies are not supported: refuse rather than misframe.
            return None;
        }
    }
    Some(Request {
        method,
        target,
        keep_alive,
        http10: version == "HTTP/1.0",
        content_length,
    })
}

impl<'a> Http<'a> {
    /// Builds the response to `req` into `c`.
    fn respond(&mut self, c: &mut Conn<'a>, req: Option<Request>) {
        c.requests += 1;
        self.served += 1;
        let Some(req) = req else {
            self.start(
                c,
                "400 Bad Request",
                "text/plain",
                Body::None,
                0,
                true,
                true,
            );
            return;
        };
        c.skip = req.content_length;
        let head_only = req.method == "HEAD";
        if req.method != "GET" && !head_only {
            self.start(
                c,
                "501 Not Implemented",
                "text/plain",
                Body::None,
                0,
                true,
                false,
            );
            return;
        }
        let path = req.target.split('?').next().unwrap_or("/").to_string();
        let close = !req.keep_alive;
        c.announce_keep_alive = req.keep_alive && req.http10;
        if let Some(n) = path
            .strip_prefix("/bytes/")
            .and_then(|n| n.parse::<u64>().ok())
        {
            let body = Body::Pattern { pos: 0, left: n };
            self.start(
                c,
                "200 OK",
                "application/octet-stream",
                body,
                n,
                close,
                head_only,
            );
            return;
        }
        if let Some(root) = &self.root {
            let rel = if path == "/" {
                "/index.html"
            } else {
                path.as_str()
            };
            let safe = rel
                .split('/')
                .all(|seg| seg != ".." && !seg.contains('\\') && !seg.contains('\0'));
            if safe {
                let full = root.join(rel.trim_start_matches('/'));
                if let Ok(f) = File::open(&full) {
                    if let Ok(meta) = f.metadata() {
                        if meta.is_file() {
                            let len = meta.len();
                            let ct = content_type(&full);
                            self.start(c, "200 OK", ct, Body::File(f, len), len, close, head_only);
                            return;
                        }
                    }
                }
            }
        }
        if path == "/" {
            let page = format!(
                "<!doctype html><title>tidytcp</title><p>Served by tidytcp on port {} \
                 ({} requests so far). Try <a href=\"/bytes/1048576\">/bytes/1048576</a>.\n",
                self.port, self.served
            );
            let n = page.len() as u64;
            c.head.clear();
            self.start(
                c,
                "200 OK",
                "text/html; charset=utf-8",
                Body::None,
                n,
                close,
                head_only,
            );
            if !head_only {
                c.head.extend_from_slice(page.as_bytes());
            }
            return;
        }
        self.start(
            c,
            "404 Not Found",
            "text/plain",
            Body::None,
            0,
            close,
            head_only,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        c: &mut Conn<'a>,
        status: &str,
        ctype: &str,
        body: Body,
        len: u64,
        close: bool,
        head_only: bool,
    ) {
        let mut h = String::new();
        let _ = write!(
            h,
            "HTTP/1.1 {status}\r\nServer: tidytcp\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\n"
        );
        if close {
            h.push_str("Connection: close\r\n");
        } else if c.announce_keep_alive {
            h.push_str("Connection: keep-alive\r\n");
        }
        h.push_str("\r\n");
        c.head = h.into_bytes();
        c.head_sent = 0;
        c.body = if head_only { Body::None } else { body };
        c.close_after = close;
    }

    /// Moves one connection on; returns false once it should be closed.
    fn serve(&mut self, stack: &mut Stack<'a>, c: &mut Conn<'a>, now: Instant) -> bool {
        // Output first: the response in progress.
        loop {
            if c.head_sent < c.head.len() {
                match c.stream.write(stack, &c.head[c.head_sent..]) {
                    Ok(n) => c.head_sent += n,
                    Err(Error::WouldBlock) => return true,
                    Err(_) => return false,
                }
                continue;
            }
            let pattern = &self.pattern;
            let r = match &mut c.body {
                Body::None => break,
                Body::Pattern { left: 0, .. } | Body::File(_, 0) => {
                    c.body = Body::None;
                    continue;
                }
                Body::Pattern { pos, left } => c.stream.write_with(stack, |b| {
                    let n = b.len().min(*left as usize);
                    let mut at = (*pos % pattern.len() as u64) as usize;
                    let mut done = 0;
                    while done < n {
                        let k = (pattern.len() - at).min(n - done);
                        b[done..done + k].copy_from_slice(&pattern[at..at + k]);
                        done += k;
                        at = 0;
                    }
                    *pos += n as u64;
                    *left -= n as u64;
                    n
                }),
                Body::File(f, left) => {
                    let mut failed = false;
                    let r = c.stream.write_with(stack, |b| {
                        let want = b.len().min(*left as usize);
                        match f.read(&mut b[..want]) {
                            Ok(n) if n > 0 => {
                                *left -= n as u64;
                                n
                            }
                            _ => {
                                failed = true;
                                0
                            }
                        }
                    });
                    if failed {
                        // The file shrank or failed: the framing is broken, so close.
                        return false;
                    }
                    r
                }
            };
            match r {
                Ok(n) => self.bytes += n as u64,
                Err(Error::WouldBlock) => return true,
                Err(_) => return false,
            }
        }
        if c.close_after {
            return false;
        }
        // Then input: the next request (pipelined ones wait in `input`).
        let mut buf = [0u8; 4096];
        loop {
            match c.stream.read(stack, &mut buf) {
                Ok(0) => {
                    // The client is done; close unless a request is still pending.
                    if c.input.is_empty() {
                        return false;
                    }
                    break;
                }
                Ok(n) => {
                    c.idle_since = now;
                    let mut data = &buf[..n];
                    if c.skip > 0 {
                        let k = (c.skip as usize).min(data.len());
                        c.skip -= k as u64;
                        data = &data[k..];
                    }
                    c.input.extend_from_slice(data);
                    if c.input.len() > MAX_HEAD * 4 {
                        break;
                    }
                }
                Err(Error::WouldBlock) => break,
                Err(_) => return false,
            }
        }
        if let Some(end) = c.input.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&c.input[..end]).into_owned();
            let mut rest = c.input.split_off(end + 4);
            let req = parse_head(&head);
            let body_len = req.as_ref().map_or(0, |r| r.content_length);
            let k = (body_len as usize).min(rest.len());
            rest.drain(..k);
            c.input = rest;
            self.respond(c, req);
            c.skip = body_len - k as u64;
            return self.serve(stack, c, now);
        }
        if c.input.len() > MAX_HEAD {
            self.respond(c, None);
            return self.serve(stack, c, now);
        }
        now.saturating_duration_since(c.idle_since) < IDLE
    }
}

impl<'a> App<'a> for Http<'a> {
    fn describe(&self) -> String {
        match &self.root {
            Some(r) => format!("http:{} serving {}", self.port, r.display()),
            None => format!("http:{} (built-in pages only)", self.port),
        }
    }

    fn step(&mut self, stack: &mut Stack<'a>, now: Instant) -> Step {
        while let Ok((stream, _)) = self.listener.accept(stack) {
            self.conns.push(Conn {
                stream,
                input: Vec::new(),
                head: Vec::new(),
                head_sent: 0,
                body: Body::None,
                close_after: false,
                announce_keep_alive: false,
                skip: 0,
                idle_since: now,
                requests: 0,
            });
        }
        let mut i = 0;
        let mut next: Option<Instant> = None;
        while i < self.conns.len() {
            let mut c = self.conns.swap_remove(i);
            if self.serve(stack, &mut c, now) {
                let at = c.idle_since + IDLE;
                next = Some(next.map_or(at, |n| n.min(at)));
                self.conns.push(c);
                let last = self.conns.len() - 1;
                self.conns.swap(i, last);
                i += 1;
            } else {
                let peer = c.stream.peer_addr(stack);
                println!(
                    "http {}: {} request(s), closed",
                    peer.map_or("?".into(), |p| p.to_string()),
                    c.requests
                );
                c.stream.close(stack);
            }
        }
        Step::Continue(next)
    }

    fn report(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "http: {} open, {} responses, {} body bytes",
            self.conns.len(),
            self.served,
            self.bytes
        );
    }
}

fn main() {
    let opts = Options::parse(USAGE);
    let (mut port, mut root, mut conns) = (80u16, None, 64usize);
    let mut it = opts.rest.iter();
    while let Some(k) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| common::usage_exit(USAGE, &format!("{k} needs a value")));
        let bad = |_| -> ! { common::usage_exit(USAGE, &format!("bad value for {k}: {v}")) };
        match k.as_str() {
            "--port" => port = v.parse().unwrap_or_else(|e| bad(e)),
            "--conns" => conns = v.parse().unwrap_or_else(|e| bad(e)),
            "--root" => root = Some(PathBuf::from(v)),
            _ => common::usage_exit(USAGE, &format!("unknown option {k}")),
        }
    }
    let mut storage = HeapStorage::new(conns + 8, 4, 64 * 1024, 256 * 1024);
    let mut stack = Stack::new(opts.config(), &mut storage);
    let listener = stack.listen(port, conns).unwrap_or_else(|e| {
        eprintln!("cannot listen on {port}: {e}");
        std::process::exit(1)
    });
    let mut app = Http {
        listener,
        port,
        root,
        conns: Vec::new(),
        pattern: chargen_period(),
        served: 0,
        bytes: 0,
    };
    let code = common::run(&opts, &mut stack, &mut app);
    std::process::exit(code);
}
