// A handle cannot be duplicated: two owners could close the same connection.
use tidytcp::socket::TcpStream;

fn duplicate<'a>(stream: &TcpStream<'a>) -> TcpStream<'a> {
    stream.clone()
}

fn main() {
    let _ = duplicate;
}
