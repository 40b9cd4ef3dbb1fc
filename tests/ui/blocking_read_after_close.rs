// The blocking adapter's handles cannot be read after `close`.
use std::io::Read;
use tidytcp::socket::blocking::TcpStream;

fn read_after_close(mut stream: TcpStream<'_, '_>) {
    stream.close();
    let mut buf = [0u8; 8];
    let _ = stream.read(&mut buf);
}

fn main() {
    let _ = read_after_close;
}
