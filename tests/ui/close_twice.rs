// A handle is closed once: `close` consumes it.
use tidytcp::socket::{SocketSet, TcpStream};

fn close_twice<'a>(stream: TcpStream<'a>, set: &mut SocketSet<'a>) {
    stream.close(set);
    stream.close(set);
}

fn main() {
    let _ = close_twice;
}
