//! An HTTP GET with reqwless (a real `embedded-nal-async` client) over tidytcp's
//! `TcpClient`, the stack run by its async runner over `embassy-net-tuntap`. Writes the
//! body to FILE and prints its length. A host name in the URL is resolved by the stack
//! (its `Dns`), with the server `--dns` names.
//!
//! ```text
//! fetch [--tap tap0] [--ip 10.7.0.2/24] [--dns ADDR] URL FILE
//! ```

use std::io::Write as _;

use embassy_tuntap::open;
use embedded_io_async::Read;
use futures::executor::LocalPool;
use futures::future::{Either, select};
use reqwless::client::HttpClient;
use reqwless::request::Method;
use tidytcp::socket::nal::TcpClient;
use tidytcp::socket::runner::StdTimer;

fn main() {
    let o = embassy_tuntap::options();
    let [url, file] = o.rest.as_slice() else {
        panic!("usage: fetch [--tap NAME] [--ip ADDR/PREFIX] [--dns ADDR] URL FILE");
    };
    let (mut device, net) = open(&o);
    let mut out = std::fs::File::create(file).expect("create FILE");
    let fetch = async {
        let client = TcpClient::new(net).with_connect_timeout(core::time::Duration::from_secs(10));
        let mut http = HttpClient::new(&client, &client);
        let mut head = [0u8; 4096];
        let mut req = http
            .request(Method::GET, url)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let resp = req.send(&mut head).await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status;
        let mut body = resp.body().reader();
        let mut buf = [0u8; 8192];
        let mut total = 0usize;
        loop {
            let n = body.read(&mut buf).await.map_err(|e| format!("{e:?}"))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|e| e.to_string())?;
            total += n;
        }
        Ok::<_, String>((status, total))
    };
    let mut timer = StdTimer::new();
    let runner = net.run(&mut device, &mut timer);
    let mut pool = LocalPool::new();
    match pool.run_until(select(Box::pin(fetch), Box::pin(runner))) {
        Either::Left((Ok((status, n)), _)) => println!("fetched {n} bytes, status {status:?}"),
        Either::Left((Err(e), _)) => {
            eprintln!("fetch failed: {e}");
            std::process::exit(1);
        }
        Either::Right(_) => unreachable!("the runner never ends"),
    }
}
