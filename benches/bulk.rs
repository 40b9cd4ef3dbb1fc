//! Workload 1: 1 GiB one way with plain `write`/`read`, tidytcp against smoltcp, and the
//! memcpy + checksum ceiling. `cargo bench --bench bulk`
mod common;

fn main() {
    common::bulk_bench("bulk", false);
}
