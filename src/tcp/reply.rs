//! Replies that need no connection.

use crate::wire::tcp::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// The reset answering a segment that no connection accepts (RFC 9293 §3.10.7.1): none
/// for a RST; `<SEQ=SEG.ACK><CTL=RST>` if it carried an ACK; otherwise
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. Ports are swapped.
///
/// ```
/// use tidytcp::tcp::rst_for;
/// use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions, TcpRepr};
/// let syn = TcpRepr { src_port: 40000, dst_port: 7, seq: SeqNum(100), ack: SeqNum(0),
///     flags: TcpFlags::SYN, window: 1024, options: TcpOptions::NONE };
/// let rst = rst_for(&syn, 0).unwrap();
/// assert_eq!(rst.flags, TcpFlags::RST | TcpFlags::ACK);
/// assert_eq!(rst.ack, SeqNum(101));
/// assert_eq!((rst.src_port, rst.dst_port), (7, 40000));
/// ```
pub fn rst_for(seg: &TcpRepr, payload_len: usize) -> Option<TcpRepr> {
    if seg.flags.contains(TcpFlags::RST) {
        return None;
    }
    let (seq, ack, flags) = if seg.flags.contains(TcpFlags::ACK) {
        (seg.ack, SeqNum(0), TcpFlags::RST)
    } else {
        (
            SeqNum(0),
            seg.seq + seg.seq_len(payload_len),
            TcpFlags::RST | TcpFlags::ACK,
        )
    };
    Some(TcpRepr {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        seq,
        ack,
        flags,
        window: 0,
        options: TcpOptions::NONE,
    })
}
