//! The tidytcp demo: two stacks over a lossy in-memory Ethernet link, in virtual time.
//!
//! A client connects to a daytime-style server, sends a request and reads the answer; the
//! server closes first, as a daytime server does; the client reads to the end of the
//! stream and closes. The socket tables are printed before and after (every slot freed),
//! and every frame that crossed the link is written to `demo.pcap` (open it in Wireshark).
//!
//! ```text
//! cargo run --release --example demo [-- --loss 0.05 --seed 7 --bytes 200000 --pcap demo.pcap]
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};

use tidytcp::drivers::{
    DirectionConfig, LinkConfig, SimLink, pcap_global_header as global_header,
    pcap_record_header as record_header,
};
use tidytcp::socket::{HeapStorage, SocketSet};
use tidytcp::stack::{Config, Stack};
use tidytcp::{Duration, Error, Instant};

struct Args {
    loss: f64,
    seed: u64,
    bytes: usize,
    pcap: String,
}

fn args() -> Args {
    let mut a = Args {
        loss: 0.05,
        seed: 7,
        bytes: 200_000,
        pcap: "demo.pcap".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--loss" => a.loss = v.parse().expect("--loss takes a probability"),
            "--seed" => a.seed = v.parse().expect("--seed takes a number"),
            "--bytes" => a.bytes = v.parse().expect("--bytes takes a number"),
            "--pcap" => a.pcap = v,
            _ => {
                eprintln!("usage: demo [--loss P] [--seed N] [--bytes N] [--pcap FILE]");
                std::process::exit(2);
            }
        }
    }
    a
}

fn config(last: u8) -> Config {
    Config::new(
        format!("02:00:00:00:00:{last:02x}").parse().unwrap(),
        format!("10.0.0.{last}/24").parse().unwrap(),
        [last; 16],
    )
}

fn table(name: &str, set: &SocketSet<'_>) {
    println!(
        "  {name}: {} of {} slots in use",
        set.in_use() + set.listeners_in_use(),
        set.capacity()
    );
    for s in set.sockets() {
        println!("    {s}");
    }
}

fn main() -> std::io::Result<()> {
    let args = args();
    let mut client_mem = HeapStorage::new(4, 1, 16 * 1024, 16 * 1024);
    let mut server_mem = HeapStorage::new(4, 1, 16 * 1024, 16 * 1024);
    let mut client = Stack::new(config(1), &mut client_mem);
    let mut server = Stack::new(config(2), &mut server_mem);
    let dir = DirectionConfig {
        loss: args.loss,
        latency: Duration::from_millis(10),
        ..DirectionConfig::PERFECT
    };
    let mut link = SimLink::new(LinkConfig::symmetric(dir), args.seed);
    link.set_logging(true);

    let mut now = Instant::ZERO;
    let listener = server.listen(13, 4).expect("listen");
    let mut conn = Some(
        client
            .connect("10.0.0.2:13".parse().unwrap())
            .expect("connect"),
    );
    println!(
        "tidytcp demo: {} bytes from a daytime-style server over a link losing {:.0}% each way",
        args.bytes,
        args.loss * 100.0
    );
    println!("socket tables after connect():");
    table("client", &client);
    table("server", &server);

    // The answer the server sends: a date line, then filler up to --bytes.
    let mut answer = b"Wed Nov 25 10:25:15 UTC 2026\r\n".to_vec();
    while answer.len() < args.bytes {
        answer.push(b'a' + (answer.len() % 26) as u8);
    }
    let request = b"time, please\r\n";
    let mut served = None;
    let mut got_request = Vec::new();
    let mut sent = 0;
    let mut received = Vec::new();
    let mut client_done = false;
    let mut printed_mid = false;
    let limit = Instant::from_secs(3600);
    while now < limit {
        let next_c = client.poll(now, &mut link.a());
        let next_s = server.poll(now, &mut link.b());

        if served.is_none() {
            if let Ok((mut s, _)) = listener.accept(&mut server) {
                s.set_nodelay(&mut server, true).ok();
                served = Some(s);
            }
        }
        if let Some(c) = conn.as_mut() {
            if !client_done {
                // Send the request once, then read until the end of the stream.
                if c.send_queue(&client) == 0
                    && received.is_empty()
                    && got_request.len() < request.len()
                {
                    let _ = c.write(&mut client, request);
                }
                let mut buf = [0u8; 4096];
                loop {
                    match c.read(&mut client, &mut buf) {
                        Ok(0) => {
                            client_done = true;
                            break;
                        }
                        Ok(n) => received.extend_from_slice(&buf[..n]),
                        Err(Error::WouldBlock) => break,
                        Err(e) => panic!("client read failed: {e}"),
                    }
                }
            }
        }
        if let Some(s) = served.as_mut() {
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = s.read(&mut server, &mut buf) {
                got_request.extend_from_slice(&buf[..n]);
            }
            if got_request.ends_with(b"\r\n") {
                while sent < answer.len() {
                    match s.write(&mut server, &answer[sent..]) {
                        Ok(n) => sent += n,
                        Err(_) => break,
                    }
                }
            }
        }
        if sent == answer.len() {
            if let Some(s) = served.take() {
                // The daytime server closes first: FIN after the answer.
                s.close(&mut server);
                println!("server closed its side at {now}");
            }
        }
        if client_done && !printed_mid {
            printed_mid = true;
            println!("client read end of stream at {now}; socket tables:");
            table("client", &client);
            table("server", &server);
            conn.take().expect("open").close(&mut client);
        }
        if printed_mid && client.in_use() == 0 && server.in_use() == 0 {
            break;
        }
        let next = [next_c, next_s, link.next_delivery()]
            .into_iter()
            .flatten()
            .min();
        now = match next {
            Some(t) if t > now => t,
            _ => now + Duration::from_millis(1),
        };
    }
    listener.close(&mut server);
    client.poll(now, &mut link.a());
    server.poll(now, &mut link.b());

    assert_eq!(
        received, answer,
        "the client must read exactly what the server sent"
    );
    println!(
        "all {} bytes arrived intact; every slot freed at {now} (TIME-WAIT included):",
        received.len()
    );
    table("client", &client);
    table("server", &server);
    let (cs, ss) = (client.stats().tcp, server.stats().tcp);
    println!(
        "segments: client {} out / {} in, server {} out / {} in; retransmitted: {} (client) + {} (server)",
        cs.segments_out,
        cs.segments_in,
        ss.segments_out,
        ss.segments_in,
        cs.retransmits,
        ss.retransmits
    );

    let mut pcap = BufWriter::new(File::create(&args.pcap)?);
    pcap.write_all(&global_header())?;
    for d in link.log() {
        pcap.write_all(&record_header(d.at, d.frame.len()))?;
        pcap.write_all(&d.frame)?;
    }
    pcap.flush()?;
    println!(
        "{} frames that crossed the link written to {}",
        link.log().len(),
        args.pcap
    );
    Ok(())
}
