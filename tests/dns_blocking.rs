//! The resolver through the blocking adapter: a thread waiting with `wait_for` wakes when
//! the query ends, with no socket activity to wake it. Real time and threads: the query
//! goes to our own address over a loopback wire, where nobody answers port 53, so it
//! ends with `TimedOut` after its attempts (4 s).

mod common;

use std::task::Poll;
use std::time::Duration as StdDuration;

use common::loopwire::LoopWire;
use tidytcp::dns::DnsError;
use tidytcp::socket::HeapStorage;
use tidytcp::socket::blocking::BlockingStack;
use tidytcp::stack::{Config, Stack};

#[test]
fn a_blocked_resolve_wakes_when_the_query_ends() {
    let cfg = Config::new(
        "02:00:00:00:00:01".parse().unwrap(),
        "10.0.0.1/24".parse().unwrap(),
        [9; 16],
    );
    let mut storage = HeapStorage::new(2, 1, 1024, 1024);
    let mut stack = Stack::new(cfg, &mut storage);
    stack.set_dns_servers([Some("10.0.0.1".parse().unwrap()), None, None]);
    let mut net = BlockingStack::new(stack);
    net.set_max_idle(StdDuration::from_secs(3600));
    let mut wire = LoopWire::default();
    std::thread::scope(|s| {
        s.spawn(|| net.run(&mut wire));
        let q = net.with(|st| st.resolve("www.test")).unwrap().unwrap();
        let mut result = None;
        let ended = net
            .wait_for(Some(StdDuration::from_secs(60)), |st| {
                match st.query_result(&q) {
                    Poll::Ready(r) => {
                        result = Some(r);
                        true
                    }
                    Poll::Pending => false,
                }
            })
            .unwrap();
        assert!(ended);
        assert_eq!(result, Some(Err(DnsError::TimedOut)));
        net.stop();
    });
}
