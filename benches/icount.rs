//! One workload of the benches for N units (tidytcp's, or smoltcp's with `smol-` before
//! the name), to count instructions with
//! `valgrind --tool=callgrind` for N and for 3N and take the difference (setup drops
//! out): per round trip for `rr64`, per connection for `churn`, per MiB for `bulk` and
//! `bulkzc` (zero copy).
//!
//! ```sh
//! cargo build --release -p tidytcp-benches --example icount
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/icount rr64 2000
//! ```
#![allow(dead_code)]
mod common;

use common::{link, smol, tidy};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: Option<u64> = args.get(2).and_then(|a| a.parse().ok());
    match (args.get(1).map(String::as_str), n) {
        (Some("rr64"), Some(n)) => tidy::Rr::new().run(n),
        (Some("churn"), Some(n)) => {
            tidy::Churn::new().run(n);
        }
        (Some(w @ ("bulk" | "bulkzc")), Some(n)) => {
            tidy::Bulk::new(link::LinkCfg::IDEAL, 0).run(n << 20, w == "bulkzc", None)
        }
        (Some("smol-rr64"), Some(n)) => smol::Rr::new().run(n),
        (Some("smol-churn"), Some(n)) => {
            smol::Churn::new().run(n);
        }
        (Some(w @ ("smol-bulk" | "smol-bulkzc")), Some(n)) => {
            smol::Bulk::new(link::LinkCfg::IDEAL, 0).run(n << 20, w == "smol-bulkzc", None)
        }
        _ => {
            eprintln!("usage: icount [smol-]rr64|[smol-]churn|[smol-]bulk|[smol-]bulkzc N");
            std::process::exit(2);
        }
    }
}
