//! The TCP stream buffers: a send ring and a receive ring over caller-provided memory,
//! plus the out-of-order reassembly ranges of the receive side.
//!
//! There is one kind of buffer because there is one protocol: a byte stream. No record
//! boundaries, no address records, no out-of-band data (TCP urgent data is not
//! supported). The state of each ring ([`SendState`], [`RecvState`]) is plain data kept
//! in the socket slot; the bytes live in storage the caller provided. A view
//! ([`SendBuf`], [`RecvBuf`]) joins the two for the duration of an operation.

mod recv;
mod send;

pub use recv::{RecvBuf, RecvState, TooManyRanges, MAX_RANGES};
pub use send::{SendBuf, SendState};
