// Nothing can be read through a handle after it was closed.
use tidytcp::socket::{SocketSet, TcpStream};

fn read_after_close<'a>(mut stream: TcpStream<'a>, set: &mut SocketSet<'a>) {
    stream.close(set);
    let mut buf = [0u8; 16];
    let _ = stream.read(set, &mut buf);
}

fn main() {
    let _ = read_after_close;
}
