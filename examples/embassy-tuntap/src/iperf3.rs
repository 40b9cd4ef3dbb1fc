//! An iperf3 server (`iperf3 -c HOST`, with or without `-R`, one TCP stream) written
//! with the async handles, for checking the bridge with Linux's iperf3. The protocol:
//! the client's control connection sends a 37-byte cookie; the server sends state bytes:
//! `PARAM_EXCHANGE` (the client sends its JSON parameters behind a 4-byte big-endian
//! length), `CREATE_STREAMS` (the client opens the data connection, which starts with
//! the same cookie), `TEST_START` and `TEST_RUNNING`. Data flows (to the server, or from
//! it with `"reverse":true`) until the client sends `TEST_END`; then `EXCHANGE_RESULTS`
//! (the client's results come in, the server's go out, both length-prefixed JSON),
//! `DISPLAY_RESULTS`, and the client's `IPERF_DONE`. Anything else is `ACCESS_DENIED`.

use std::cell::Cell;
use std::time::Instant as StdInstant;

use embedded_io_async::{Read, Write};
use futures::future::{Either, select};
use tidytcp::socket::asynch::{TcpListener, TcpStream};

const TEST_START: u8 = 1;
const TEST_RUNNING: u8 = 2;
const TEST_END: u8 = 4;
const PARAM_EXCHANGE: u8 = 9;
const CREATE_STREAMS: u8 = 10;
const EXCHANGE_RESULTS: u8 = 13;
const DISPLAY_RESULTS: u8 = 14;
const IPERF_DONE: u8 = 16;
const ACCESS_DENIED: u8 = (-1i8) as u8;
const COOKIE: usize = 37;

type Stream = TcpStream<'static, 'static>;
type Failure = String;

/// Serves one test after another on `listener` (port 5201).
pub async fn serve(listener: TcpListener<'static, 'static>) {
    loop {
        let Ok((ctrl, peer)) = listener.accept().await else {
            continue;
        };
        match test(ctrl, &listener).await {
            Ok((bytes, reverse)) => {
                let dir = if reverse { "sent" } else { "received" };
                println!("iperf3 {peer}: {dir} {bytes} bytes, results exchanged");
            }
            Err(e) => println!("iperf3 {peer}: failed: {e}"),
        }
    }
}

async fn read_exact(s: &mut Stream, buf: &mut [u8]) -> Result<(), Failure> {
    s.read_exact(buf).await.map_err(|e| format!("{e:?}"))
}

async fn send(s: &mut Stream, bytes: &[u8]) -> Result<(), Failure> {
    s.write_all(bytes).await.map_err(|e| e.to_string())
}

/// Reads a length-prefixed JSON document (at most 64 KiB).
async fn read_json(s: &mut Stream) -> Result<String, Failure> {
    let mut len = [0u8; 4];
    read_exact(s, &mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 65536 {
        return Err(format!("JSON of {len} bytes"));
    }
    let mut doc = vec![0u8; len];
    read_exact(s, &mut doc).await?;
    String::from_utf8(doc).map_err(|_| "JSON not UTF-8".to_string())
}

/// One test on control connection `ctrl`; returns the bytes moved and the direction.
async fn test(
    mut ctrl: Stream,
    listener: &TcpListener<'static, 'static>,
) -> Result<(u64, bool), Failure> {
    let mut cookie = [0u8; COOKIE];
    read_exact(&mut ctrl, &mut cookie).await?;
    send(&mut ctrl, &[PARAM_EXCHANGE]).await?;
    let params: String = read_json(&mut ctrl).await?.split_whitespace().collect();
    let reverse = params.contains("\"reverse\":true") || params.contains("\"reverse\":1");
    let one_stream = !params.contains("\"parallel\":")
        || params.contains("\"parallel\":1,")
        || params.contains("\"parallel\":1}");
    if !params.contains("\"tcp\":true") || !one_stream || params.contains("\"bidirectional\":true")
    {
        send(&mut ctrl, &[ACCESS_DENIED]).await?;
        ctrl.close();
        return Err(format!("unsupported test: {params}"));
    }
    send(&mut ctrl, &[CREATE_STREAMS]).await?;
    let mut data = loop {
        let (mut d, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut c = [0u8; COOKIE];
        if read_exact(&mut d, &mut c).await.is_ok() && c == cookie {
            break d;
        }
        d.abort();
    };
    send(&mut ctrl, &[TEST_START, TEST_RUNNING]).await?;
    let start = StdInstant::now();
    let moved = Cell::new(0u64);
    let flow = async {
        if reverse {
            let block = vec![b'x'; 128 * 1024];
            loop {
                match data.write(&block).await {
                    Ok(n) => moved.set(moved.get() + n as u64),
                    Err(e) => return Err(e.to_string()),
                }
            }
        } else {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match data.read(&mut buf).await {
                    Ok(0) => return Ok(()),
                    Ok(n) => moved.set(moved.get() + n as u64),
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    };
    let mut state = [0u8; 1];
    let end = async {
        ctrl.read_exact(&mut state)
            .await
            .map_err(|e| format!("{e:?}"))
    };
    // Either the client sends a state byte (TEST_END) while data flows, or (forward
    // mode) the data stream ends first and TEST_END follows.
    let state_read = match select(Box::pin(flow), Box::pin(end)).await {
        Either::Right((r, _)) => r.map(|()| true),
        Either::Left((r, _)) => r.map(|()| false),
    }?;
    if !state_read {
        read_exact(&mut ctrl, &mut state).await?;
    }
    if state[0] != TEST_END {
        return Err(format!("state {} instead of TEST_END", state[0]));
    }
    let secs = start.elapsed().as_secs_f64();
    // Like iperf3's own server: end the data stream now, so a client still reading a
    // block gets its end rather than waiting.
    data.close();
    send(&mut ctrl, &[EXCHANGE_RESULTS]).await?;
    let _client_results = read_json(&mut ctrl).await?;
    let bytes = moved.get();
    let results = format!(
        "{{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,\
         \"sender_has_retransmits\":0,\"streams\":[{{\"id\":1,\"bytes\":{bytes},\
         \"retransmits\":0,\"jitter\":0,\"errors\":0,\"packets\":0,\
         \"start_time\":0,\"end_time\":{secs:.6}}}]}}"
    );
    send(&mut ctrl, &(results.len() as u32).to_be_bytes()).await?;
    send(&mut ctrl, results.as_bytes()).await?;
    send(&mut ctrl, &[DISPLAY_RESULTS]).await?;
    read_exact(&mut ctrl, &mut state).await?;
    if state[0] != IPERF_DONE {
        return Err(format!("state {} instead of IPERF_DONE", state[0]));
    }
    ctrl.close();
    Ok((bytes, reverse))
}
