//! RAM per connection: the per-connection state of both stacks, buffers excluded.
//! `cargo bench --bench footprint`
mod common;

use std::mem::size_of;

fn main() {
    let slot = size_of::<tidytcp::socket::Slot>();
    // What SocketStorage keeps per connection besides the slot: the handle-dropped flag,
    // a hash bucket head and a timer-heap entry (u16 each).
    let ours = slot + size_of::<std::sync::atomic::AtomicBool>() + 2 * size_of::<u16>();
    let sock = size_of::<smoltcp::socket::tcp::Socket<'static>>();
    let store = size_of::<smoltcp::iface::SocketStorage<'static>>();
    let mut r = common::Report::new("footprint");
    r.line("RAM per connection on this host (x86-64), socket buffers excluded.\n");
    r.line("| | tidytcp | smoltcp | ratio |");
    r.line("|---|---|---|---|");
    r.line(format!(
        "| connection state (`socket::Slot` / `tcp::Socket` with buffers as references) | {slot} B | {sock} B | {:.2}× |",
        slot as f64 / sock as f64
    ));
    r.line(format!(
        "| per-connection table entry (slot + flag + hash + heap / `iface::SocketStorage`) | {ours} B | {store} B | {:.2}× |",
        ours as f64 / store as f64
    ));
    r.line(format!(
        "| of which `tcp::Connection` (engine) | {} B | | |",
        size_of::<tidytcp::tcp::Connection>()
    ));
    r.finish();
}
