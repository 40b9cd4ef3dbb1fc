//! Workload 2: the bulk transfer through the in-place APIs (`write_with`/`read_with`;
//! smoltcp's `send`/`recv` closures), and the ceiling. `cargo bench --bench bulk_zero_copy`
mod common;

fn main() {
    common::bulk_bench("bulk_zero_copy", true);
}
