// The async adapter's handles are consumed by `close` as well.
use tidytcp::socket::asynch::TcpStream;

fn close_twice(stream: TcpStream<'_, '_>) {
    stream.close();
    stream.close();
}

fn main() {
    let _ = close_twice;
}
