//! The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones' complement
//! sum of the data taken as big-endian 16-bit words.
//!
//! The public path of the crate's leaf checksum module, which sits below `wire` and `buf`
//! so that the stream buffers can sum what they copy without importing `wire`.

pub use crate::checksum::{Checksum, checksum, checksum20, pseudo_header};
