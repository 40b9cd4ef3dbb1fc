// Nothing can be written through a handle after it was aborted.
use tidytcp::socket::{SocketSet, TcpStream};

fn write_after_abort<'a>(mut stream: TcpStream<'a>, set: &mut SocketSet<'a>) {
    stream.abort(set);
    let _ = stream.write(set, b"late");
}

fn main() {
    let _ = write_after_abort;
}
