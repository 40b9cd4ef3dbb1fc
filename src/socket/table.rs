//! The socket table: slots with a generation and a two-sided lifetime, the 4-tuple hash,
//! the timer heap, the list of sockets with output pending, and the readiness list.
//!
//! # Lifetime
//!
//! A connection slot has two owners: the user side ([`Owner`]: a handle, a listener that
//! has not handed it out yet, or nobody any more) and the protocol side (the
//! [`Connection`], done when it reaches CLOSED). Either may finish first. [`SocketSet::release`]
//! is the one function that frees a slot, and it does so only when both are done; freeing
//! bumps the generation, so any index kept elsewhere (a waker table, an accept queue)
//! cannot reach the next connection in the same slot.

use crate::tcp::Endpoint;
use core::sync::atomic::Ordering;

use super::sync::{AtomicBool, fence};

use super::storage::Parts;
use crate::buf::{RecvBuf, RecvState, SendBuf, SendState};
use crate::log::net_log;
use crate::tcp::isn::Secrets;
use crate::tcp::{Connection, Ctx, Events, ListenRoom, State, TcpConfig, TcpStats};
use crate::time::Instant;
use crate::wire::tcp::TcpRepr;

/// "No slot" in the 16-bit intrusive links.
pub(crate) const NONE: u16 = u16::MAX;

/// Who holds the user side of a connection slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The slot is free.
    Free,
    /// A [`super::TcpStream`] handle.
    User,
    /// The user let go (close, abort or drop); the protocol may run on.
    Released,
    /// A listener, until `accept` hands it out.
    Listener { idx: u16, generation: u16 },
}

/// One connection slot. Public only so storage types can hold arrays of it.
#[doc(hidden)]
#[derive(Debug)]
pub struct Slot {
    pub(crate) generation: u16,
    pub(crate) owner: Owner,
    pub(crate) conn: Option<Connection>,
    pub(crate) rx: RecvState,
    pub(crate) tx: SendState,
    /// Next slot in the same hash bucket, or in the free list.
    pub(crate) link: u16,
    pub(crate) heap_pos: u16,
    pub(crate) deadline: Option<Instant>,
    pub(crate) dirty_next: u16,
    /// Next slot in the listener's accept queue.
    pub(crate) q_next: u16,
    /// Readiness events not yet taken by an adapter.
    pub(crate) events: Events,
    pub(crate) ev_next: u16,
    /// Which lists the slot is on, and whether the user shut its read side.
    pub(crate) marks: Marks,
}

/// A slot's yes/no bookkeeping, one bit each (five `bool`s cost 8 bytes per slot after
/// padding on a Cortex-M).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Marks(u8);

impl Marks {
    /// In its hash bucket's chain.
    pub(crate) const HASHED: u8 = 1 << 0;
    /// On the output list (`dirty_next`).
    pub(crate) const DIRTY: u8 = 1 << 1;
    /// In a listener's accept queue (`q_next`).
    pub(crate) const QUEUED: u8 = 1 << 2;
    /// On the readiness-event list (`ev_next`).
    pub(crate) const EV_LISTED: u8 = 1 << 3;
    /// The user shut the read side: received data is discarded.
    pub(crate) const READ_SHUT: u8 = 1 << 4;

    /// Whether mark `m` is set.
    #[inline]
    pub(crate) fn has(self, m: u8) -> bool {
        self.0 & m != 0
    }

    /// Sets mark `m` to `on`.
    #[inline]
    pub(crate) fn set(&mut self, m: u8, on: bool) {
        self.0 = if on { self.0 | m } else { self.0 & !m };
    }
}

impl Slot {
    /// In TIME-WAIT with no handle: a new connection may take the slot over.
    fn reclaimable(&self) -> bool {
        self.owner == Owner::Released
            && self
                .conn
                .as_ref()
                .is_some_and(|c| c.state() == State::TimeWait)
    }

    /// A free slot.
    pub const EMPTY: Slot = Slot {
        generation: 0,
        owner: Owner::Free,
        conn: None,
        rx: RecvState::new(crate::buf::MAX_RANGES),
        tx: SendState::new(),
        link: NONE,
        heap_pos: NONE,
        deadline: None,
        dirty_next: NONE,
        q_next: NONE,
        events: Events::empty(),
        ev_next: NONE,
        marks: Marks(0),
    };
}

/// One listener slot. Public only so storage types can hold arrays of it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct ListenSlot {
    pub(crate) generation: u16,
    pub(crate) open: bool,
    pub(crate) port: u16,
    pub(crate) backlog: u16,
    /// Connections in SYN-RECEIVED owned by this listener.
    pub(crate) embryos: u16,
    pub(crate) q_head: u16,
    pub(crate) q_tail: u16,
    pub(crate) q_len: u16,
    pub(crate) events: Events,
    pub(crate) ev_listed: bool,
}

impl ListenSlot {
    /// A free listener slot.
    pub const EMPTY: ListenSlot = ListenSlot {
        generation: 0,
        open: false,
        port: 0,
        backlog: 0,
        embryos: 0,
        q_head: NONE,
        q_tail: NONE,
        q_len: 0,
        events: Events::empty(),
        ev_listed: false,
    };
}

/// The sockets of a stack: connection slots, listeners, their buffers, and the indexes
/// that keep the cost of a segment independent of how many connections exist.
pub struct SocketSet<'a> {
    pub(crate) slots: &'a mut [Slot],
    pub(crate) listeners: &'a mut [ListenSlot],
    rx_mem: &'a mut [u8],
    tx_mem: &'a mut [u8],
    rx_size: usize,
    tx_size: usize,
    pub(crate) stream_flags: &'a [AtomicBool],
    pub(crate) listener_flags: &'a [AtomicBool],
    pub(crate) any_dropped: &'a AtomicBool,
    buckets: &'a mut [u16],
    heap: &'a mut [u16],
    heap_len: usize,
    free_head: u16,
    dirty_head: u16,
    dirty_tail: u16,
    ev_head: u16,
    /// Protocol settings.
    pub(crate) cfg: TcpConfig,
    pub(crate) secrets: Secrets,
    /// The interface's IPv4 address, the source of new IPv4 connections; the stack
    /// keeps it current.
    #[cfg(feature = "proto-ipv4")]
    pub(crate) local_ip: core::net::Ipv4Addr,
    /// Our usable IPv6 addresses for new connections (RFC 6724 source selection, the
    /// simple host cases): a link-local and a global one; the stack keeps them current.
    #[cfg(feature = "proto-ipv6")]
    pub(crate) local_ip6: Ipv6Sources,
    /// The IP MTU: the stack's setting, capped by the device's.
    pub(crate) mtu: usize,
    /// The IPv6 link MTU: `mtu`, lowered to what a router advertises (RFC 4861 §6.3.4);
    /// the stack keeps it current.
    #[cfg(feature = "proto-ipv6")]
    pub(crate) mtu6: usize,
    pub(crate) stats: TcpStats,
    pub(crate) next_ephemeral: u32,
    /// Resets waiting for the next poll (from abort/close calls made between polls).
    pending_rst: [Option<(Endpoint, Endpoint, TcpRepr)>; 8],
    /// How many of `pending_rst` are `Some` (every poll asks; the array is large).
    n_pending_rst: u8,
    pub(crate) rst_dropped: u64,
    /// Bumped whenever anything a user may wait for changes (the blocking adapter's
    /// condition variable checks it).
    pub(crate) epoch: u64,
    /// The time of the latest poll: user calls between polls happen "now".
    pub(crate) now: Instant,
    /// Slots handed out by `alloc` and freed by `release`, since creation: their
    /// difference is always `in_use()`, which the lifetime tests check.
    allocated: u64,
    freed: u64,
}

/// The remote address as the 32 bits the table hash takes: an IPv4 address itself (the
/// hash of an IPv4 tuple is what it was before IPv6), an IPv6 address folded under the
/// table key, so that a peer choosing its interface identifiers cannot aim them at one
/// bucket.
#[inline]
fn addr_word(e: &Endpoint, k: (u64, u64)) -> u32 {
    #[cfg(feature = "proto-ipv4")]
    if let Some(a) = e.ipv4() {
        return u32::from(a);
    }
    let mut h = k.0;
    for w in e.addr_bytes().chunks_exact(8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_be_bytes(b))
            .wrapping_mul(k.1 | 1)
            .rotate_left(29);
    }
    (h ^ (h >> 32)) as u32
}

/// Our IPv6 source addresses for new connections (see [`Ipv6Sources::for_peer`]).
#[cfg(feature = "proto-ipv6")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ipv6Sources {
    /// A usable link-local address.
    pub link_local: Option<core::net::Ipv6Addr>,
    /// A usable address of wider scope (static or SLAAC).
    pub global: Option<core::net::Ipv6Addr>,
}

#[cfg(feature = "proto-ipv6")]
impl Ipv6Sources {
    /// RFC 6724 rule 2 for a host with one interface: the source of `dst`'s scope, else
    /// the other.
    pub fn for_peer(&self, dst: core::net::Ipv6Addr) -> Option<core::net::Ipv6Addr> {
        match dst.is_unicast_link_local() {
            true => self.link_local.or(self.global),
            false => self.global.or(self.link_local),
        }
    }
}

impl<'a> SocketSet<'a> {
    pub(crate) fn new(p: Parts<'a>, cfg: TcpConfig, secrets: Secrets, mtu: usize) -> Self {
        let n = p
            .slots
            .len()
            .min(usize::from(NONE))
            .min(p.stream_flags.len())
            .min(p.buckets.len())
            .min(p.heap.len());
        let rx_size =
            p.rx.len()
                .checked_div(n)
                .map_or(0, |per| p.rx_size.min(per));
        let tx_size =
            p.tx.len()
                .checked_div(n)
                .map_or(0, |per| p.tx_size.min(per));
        let slots = &mut p.slots[..n];
        let mut free_head = NONE;
        for (i, s) in slots.iter_mut().enumerate().rev() {
            *s = Slot {
                generation: s.generation,
                ..Slot::EMPTY
            };
            s.rx = RecvState::new(usize::from(cfg.max_ooo_ranges));
            s.link = free_head;
            free_head = i as u16;
        }
        for f in p.stream_flags.iter().chain(p.listener_flags.iter()) {
            f.store(false, Ordering::Relaxed);
        }
        p.any_dropped.store(false, Ordering::Relaxed);
        let l = p
            .listeners
            .len()
            .min(p.listener_flags.len())
            .min(usize::from(NONE));
        for ls in p.listeners.iter_mut() {
            *ls = ListenSlot {
                generation: ls.generation,
                ..ListenSlot::EMPTY
            };
        }
        for b in p.buckets.iter_mut() {
            *b = NONE;
        }
        let (lo, hi) = cfg.ephemeral_ports;
        let _ = (lo, hi);
        SocketSet {
            slots,
            listeners: &mut p.listeners[..l],
            rx_mem: p.rx,
            tx_mem: p.tx,
            rx_size,
            tx_size,
            stream_flags: p.stream_flags,
            listener_flags: p.listener_flags,
            any_dropped: p.any_dropped,
            buckets: &mut p.buckets[..n],
            heap: &mut p.heap[..n],
            heap_len: 0,
            free_head,
            dirty_head: NONE,
            dirty_tail: NONE,
            ev_head: NONE,
            cfg,
            secrets,
            #[cfg(feature = "proto-ipv4")]
            local_ip: core::net::Ipv4Addr::UNSPECIFIED,
            #[cfg(feature = "proto-ipv6")]
            local_ip6: Ipv6Sources::default(),
            mtu,
            #[cfg(feature = "proto-ipv6")]
            mtu6: mtu,
            stats: TcpStats::default(),
            next_ephemeral: 0,
            pending_rst: [None; 8],
            n_pending_rst: 0,
            rst_dropped: 0,
            epoch: 0,
            now: Instant::ZERO,
            allocated: 0,
            freed: 0,
        }
    }

    /// The control blocks of every connection, for debugging.
    #[doc(hidden)]
    pub fn connections(&self) -> impl Iterator<Item = &Connection> + '_ {
        self.slots.iter().filter_map(|s| s.conn.as_ref())
    }

    /// Number of connection slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Connection slots in use (any state, including TIME-WAIT and queued connections).
    pub fn in_use(&self) -> usize {
        self.slots.iter().filter(|s| s.owner != Owner::Free).count()
    }

    /// Connection slots allocated since the set was made (each new connection counts once).
    pub fn slots_allocated(&self) -> u64 {
        self.allocated
    }

    /// Connection slots freed since the set was made. Each slot is freed by one function,
    /// once per allocation, so `slots_allocated() - slots_freed() == in_use()` always.
    pub fn slots_freed(&self) -> u64 {
        self.freed
    }

    /// Listener slots in use.
    pub fn listeners_in_use(&self) -> usize {
        self.listeners.iter().filter(|l| l.open).count()
    }

    /// Receive buffer size of each connection.
    pub fn rx_buffer_size(&self) -> usize {
        self.rx_size
    }

    /// Send buffer size of each connection.
    pub fn tx_buffer_size(&self) -> usize {
        self.tx_size
    }

    /// The connection, receive buffer and send buffer of slot `i`.
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        &mut self,
        i: usize,
    ) -> Option<(
        &mut Connection,
        RecvBuf<'_>,
        SendBuf<'_>,
        &mut TcpStats,
        &TcpConfig,
    )> {
        let rs = self.rx_size;
        let ts = self.tx_size;
        let Slot { conn, rx, tx, .. } = self.slots.get_mut(i)?;
        let conn = conn.as_mut()?;
        let rxm = self.rx_mem.get_mut(i * rs..(i + 1) * rs)?;
        let txm = self.tx_mem.get_mut(i * ts..(i + 1) * ts)?;
        Some((
            conn,
            RecvBuf::joined(rxm, rx),
            SendBuf::joined(txm, tx),
            &mut self.stats,
            &self.cfg,
        ))
    }

    /// Whether slot `i` holds a connection.
    pub(crate) fn live(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(|s| s.conn.is_some())
    }

    // ----- allocation and the one release function -----

    /// Takes a free slot, or recycles the oldest TIME-WAIT connection nobody holds (as
    /// Linux does under pressure), or fails.
    /// Whether [`alloc`](Self::alloc) would find a slot: a free one, or one in
    /// TIME-WAIT with no handle that it may take over.
    pub(crate) fn has_free_slot(&self) -> bool {
        self.free_head != NONE || self.slots.iter().any(Slot::reclaimable)
    }

    /// Whether some listener has handshakes in progress (SYN-RECEIVED slots).
    pub(crate) fn has_half_open(&self) -> bool {
        self.listeners.iter().any(|l| l.open && l.embryos > 0)
    }

    /// The room listener `li` and the table have, as `tcp::Listener` weighs it.
    pub(crate) fn listen_room(&self, li: usize) -> ListenRoom {
        self.listeners
            .get(li)
            .map_or(ListenRoom::default(), |l| ListenRoom {
                backlog: l.backlog,
                queued: l.q_len,
                embryos: l.embryos,
                free_slot: self.has_free_slot(),
                half_open: self.has_half_open(),
            })
    }

    pub(crate) fn alloc(&mut self) -> Option<usize> {
        if self.free_head == NONE {
            let victim = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.reclaimable())
                .min_by_key(|(_, s)| s.deadline)
                .map(|(i, _)| i)?;
            if let Some(c) = self.slots[victim].conn.as_mut() {
                c.enter_closed(None);
            }
            self.release(victim);
        }
        let i = usize::from(self.free_head);
        let s = self.slots.get_mut(i)?;
        self.free_head = s.link;
        s.link = NONE;
        s.rx = RecvState::new(usize::from(self.cfg.max_ooo_ranges));
        s.tx = SendState::new();
        s.events = Events::empty();
        s.marks.set(Marks::READ_SHUT, false);
        self.allocated += 1;
        Some(i)
    }

    /// Frees slot `i` if both sides are done with it: the user side released and the
    /// protocol side CLOSED. Also frees a listener-owned slot whose connection died. This is
    /// the only place a slot is freed; it bumps the generation so stale indices miss.
    pub(crate) fn release(&mut self, i: usize) -> bool {
        let Some(s) = self.slots.get(i) else {
            return false;
        };
        let closed = s.conn.as_ref().is_none_or(|c| c.state() == State::Closed);
        let user_done = match s.owner {
            Owner::Free => return false,
            Owner::User => false,
            Owner::Released => true,
            Owner::Listener { .. } => true,
        };
        if !(closed && user_done) {
            return false;
        }
        if let Owner::Listener { idx, generation } = s.owner {
            self.detach_from_listener(i, usize::from(idx), generation);
        }
        self.unhash(i);
        self.heap_remove(i);
        self.undirty(i);
        let s = &mut self.slots[i];
        s.conn = None;
        s.owner = Owner::Free;
        s.generation = s.generation.wrapping_add(1);
        s.deadline = None;
        s.events = Events::empty();
        s.rx = RecvState::new(usize::from(self.cfg.max_ooo_ranges));
        s.tx = SendState::new();
        s.link = self.free_head;
        self.free_head = i as u16;
        self.epoch = self.epoch.wrapping_add(1);
        self.freed += 1;
        debug_assert!(self.freed <= self.allocated, "slot {i} freed twice");
        true
    }

    fn detach_from_listener(&mut self, i: usize, li: usize, generation: u16) {
        let queued = self.slots[i].marks.has(Marks::QUEUED);
        let Some(l) = self.listeners.get_mut(li) else {
            return;
        };
        if l.generation != generation {
            return;
        }
        if queued {
            // Unlink from the singly linked accept queue.
            let mut prev = NONE;
            let mut cur = l.q_head;
            while cur != NONE {
                let next = self.slots[usize::from(cur)].q_next;
                if usize::from(cur) == i {
                    if prev == NONE {
                        l.q_head = next;
                    } else {
                        self.slots[usize::from(prev)].q_next = next;
                    }
                    if l.q_tail == cur {
                        l.q_tail = prev;
                    }
                    l.q_len = l.q_len.saturating_sub(1);
                    break;
                }
                prev = cur;
                cur = next;
            }
            self.slots[i].marks.set(Marks::QUEUED, false);
            self.slots[i].q_next = NONE;
        } else {
            l.embryos = l.embryos.saturating_sub(1);
        }
    }

    /// Puts a new passive connection in slot `i`, owned by listener `li` until accepted.
    pub(crate) fn adopt(&mut self, i: usize, conn: Connection, li: usize) {
        let generation = self.listeners[li].generation;
        self.listeners[li].embryos += 1;
        let s = &mut self.slots[i];
        s.conn = Some(conn);
        s.owner = Owner::Listener {
            idx: li as u16,
            generation,
        };
        s.marks.set(Marks::QUEUED, false);
        self.hash_insert(i);
        self.after_change(i);
    }

    /// The token naming slot `i` while it waits for ARP: index and generation.
    pub(crate) fn token(&self, i: usize) -> u32 {
        (i as u32) | (u32::from(self.slots[i].generation) << 16)
    }

    /// The slot a token names, if it still holds the same connection.
    pub(crate) fn token_slot(&self, t: u32) -> Option<usize> {
        let i = (t & 0xffff) as usize;
        let s = self.slots.get(i)?;
        (s.generation == (t >> 16) as u16 && s.conn.is_some()).then_some(i)
    }

    /// The IP MTU toward `remote`: the link MTU of its family.
    #[inline]
    pub(crate) fn mtu_to(&self, remote: &Endpoint) -> usize {
        #[cfg(feature = "proto-ipv6")]
        if !remote.is_ipv4() {
            return self.mtu6;
        }
        let _ = remote;
        self.mtu
    }

    /// ARP could not resolve the connection's next hop (RFC 1122 §4.2.3.9 soft error; a
    /// connection still opening fails at once, as Linux's connect does).
    /// The segment that could not go out is as good as lost: if the connection has
    /// something to send and no timer, its retransmission timer is armed so that it
    /// retries (and ends with the soft error after `max_retransmits` tries), as a dropped
    /// packet does in Linux and BSD.
    pub(crate) fn neighbor_failed(&mut self, i: usize) {
        let held = self.slots[i].tx.len();
        let (now, cfg) = (self.now, &self.cfg);
        if let Some(c) = self.slots[i].conn.as_mut() {
            c.on_neighbor_failed();
            let stats = &mut self.stats;
            c.on_output_blocked(&mut Ctx { now, cfg, stats }, held);
        }
        self.after_change(i);
    }

    // ----- the 4-tuple hash -----

    fn bucket(&self, local: Endpoint, remote: Endpoint) -> usize {
        let n = self.buckets.len();
        if n == 0 {
            return 0;
        }
        let k = self.secrets.table_key;
        let x = (u64::from(addr_word(&remote, k)) << 32
            | u64::from(remote.port()) << 16
            | u64::from(local.port()))
            ^ k.0;
        let mut h = x.wrapping_mul(k.1 | 1);
        h ^= h >> 32;
        h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (((h >> 32) * n as u64) >> 32) as usize
    }

    pub(crate) fn hash_insert(&mut self, i: usize) {
        let Some(c) = self.slots[i].conn.as_ref() else {
            return;
        };
        if self.slots[i].marks.has(Marks::HASHED) {
            return;
        }
        let b = self.bucket(c.local(), c.remote());
        self.slots[i].link = self.buckets[b];
        self.slots[i].marks.set(Marks::HASHED, true);
        self.buckets[b] = i as u16;
    }

    fn unhash(&mut self, i: usize) {
        if !self.slots[i].marks.has(Marks::HASHED) {
            return;
        }
        let Some(c) = self.slots[i].conn.as_ref() else {
            return;
        };
        let b = self.bucket(c.local(), c.remote());
        let mut prev = NONE;
        let mut cur = self.buckets[b];
        while cur != NONE {
            let next = self.slots[usize::from(cur)].link;
            if usize::from(cur) == i {
                if prev == NONE {
                    self.buckets[b] = next;
                } else {
                    self.slots[usize::from(prev)].link = next;
                }
                break;
            }
            prev = cur;
            cur = next;
        }
        self.slots[i].marks.set(Marks::HASHED, false);
        self.slots[i].link = NONE;
    }

    /// The connection slot for a 4-tuple.
    pub(crate) fn lookup(&self, local: Endpoint, remote: Endpoint) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut cur = self.buckets[self.bucket(local, remote)];
        while cur != NONE {
            let s = &self.slots[usize::from(cur)];
            if let Some(c) = s.conn.as_ref() {
                if c.remote() == remote && c.local() == local {
                    return Some(usize::from(cur));
                }
            }
            cur = s.link;
        }
        None
    }

    /// The open listener on `port`.
    pub(crate) fn listener_for(&self, port: u16) -> Option<usize> {
        self.listeners.iter().position(|l| l.open && l.port == port)
    }

    // ----- the timer heap -----

    /// Re-reads slot `i`'s earliest deadline and fixes its place in the heap.
    #[cfg_attr(target_pointer_width = "64", inline)]
    pub(crate) fn update_timer(&mut self, i: usize) {
        let Some(s) = self.slots.get(i) else {
            return;
        };
        let d = s.conn.as_ref().and_then(|c| c.poll_at());
        if d == s.deadline && (d.is_none() || s.heap_pos != NONE) {
            return;
        }
        self.move_timer(i, d);
    }

    /// Sets slot `i`'s deadline to `d` and fixes its place in the heap.
    fn move_timer(&mut self, i: usize, d: Option<Instant>) {
        self.slots[i].deadline = d;
        if d.is_none() {
            self.heap_remove(i);
            return;
        }
        let pos = self.slots[i].heap_pos;
        if pos == NONE {
            let p = self.heap_len;
            if p >= self.heap.len() {
                return;
            }
            self.heap[p] = i as u16;
            self.slots[i].heap_pos = p as u16;
            self.heap_len += 1;
            self.sift_up(p);
        } else if self.heap_len > 1 {
            let p = usize::from(pos);
            self.sift_up(p);
            self.sift_down(usize::from(self.slots[i].heap_pos));
        }
    }

    #[inline]
    fn key(&self, p: usize) -> u64 {
        Instant::deadline_key(self.slots[usize::from(self.heap[p])].deadline)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        let (ia, ib) = (usize::from(self.heap[a]), usize::from(self.heap[b]));
        self.slots[ia].heap_pos = a as u16;
        self.slots[ib].heap_pos = b as u16;
    }

    fn sift_up(&mut self, mut p: usize) {
        while p > 0 {
            let parent = (p - 1) / 2;
            if self.key(p) < self.key(parent) {
                self.swap(p, parent);
                p = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut p: usize) {
        loop {
            let l = 2 * p + 1;
            let r = l + 1;
            let mut m = p;
            if l < self.heap_len && self.key(l) < self.key(m) {
                m = l;
            }
            if r < self.heap_len && self.key(r) < self.key(m) {
                m = r;
            }
            if m == p {
                break;
            }
            self.swap(p, m);
            p = m;
        }
    }

    fn heap_remove(&mut self, i: usize) {
        let pos = self.slots[i].heap_pos;
        if pos == NONE {
            return;
        }
        let p = usize::from(pos);
        let last = self.heap_len - 1;
        if p != last {
            self.swap(p, last);
        }
        self.heap_len -= 1;
        self.slots[i].heap_pos = NONE;
        if p < self.heap_len {
            self.sift_up(p);
            self.sift_down(p);
        }
    }

    /// The earliest deadline of any connection.
    #[inline]
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match self.heap_len {
            0 => None,
            _ => self.slots[usize::from(self.heap[0])].deadline,
        }
    }

    /// The slot whose deadline is earliest, if it is due at `now`.
    #[inline]
    pub(crate) fn due(&self, now: Instant) -> Option<usize> {
        (self.heap_len > 0 && self.key(0) <= now.total_micros()).then(|| usize::from(self.heap[0]))
    }

    // ----- output pending -----

    /// Queues slot `i` for the output pass.
    pub(crate) fn mark_dirty(&mut self, i: usize) {
        if self.slots[i].marks.has(Marks::DIRTY) {
            return;
        }
        self.slots[i].marks.set(Marks::DIRTY, true);
        self.slots[i].dirty_next = NONE;
        if self.dirty_tail == NONE {
            self.dirty_head = i as u16;
        } else {
            self.slots[usize::from(self.dirty_tail)].dirty_next = i as u16;
        }
        self.dirty_tail = i as u16;
    }

    /// The first slot with output pending (left in the queue).
    #[inline]
    pub(crate) fn first_dirty(&self) -> Option<usize> {
        (self.dirty_head != NONE).then_some(usize::from(self.dirty_head))
    }

    /// Moves the head of the output queue to its tail (one segment per connection in turn).
    pub(crate) fn rotate_dirty(&mut self) {
        let h = self.dirty_head;
        if h == NONE || h == self.dirty_tail {
            return;
        }
        let hi = usize::from(h);
        self.dirty_head = self.slots[hi].dirty_next;
        self.slots[hi].dirty_next = NONE;
        let t = usize::from(self.dirty_tail);
        self.slots[t].dirty_next = h;
        self.dirty_tail = h;
    }

    /// Removes slot `i` from the output queue.
    pub(crate) fn undirty(&mut self, i: usize) {
        if !self.slots[i].marks.has(Marks::DIRTY) {
            return;
        }
        let mut prev = NONE;
        let mut cur = self.dirty_head;
        while cur != NONE {
            let next = self.slots[usize::from(cur)].dirty_next;
            if usize::from(cur) == i {
                if prev == NONE {
                    self.dirty_head = next;
                } else {
                    self.slots[usize::from(prev)].dirty_next = next;
                }
                if self.dirty_tail == cur {
                    self.dirty_tail = prev;
                }
                break;
            }
            prev = cur;
            cur = next;
        }
        self.slots[i].marks.set(Marks::DIRTY, false);
        self.slots[i].dirty_next = NONE;
    }

    // ----- readiness -----

    /// Moves the connection's events into the slot's readiness and lists the slot for
    /// adapters; bumps the epoch if anything changed.
    pub(crate) fn absorb_events(&mut self, i: usize) {
        let Some(c) = self.slots[i].conn.as_mut() else {
            return;
        };
        let ev = c.take_events();
        if ev.is_empty() {
            return;
        }
        self.absorb(i, ev);
    }

    /// [`SocketSet::absorb_events`] with the events `ev` already taken.
    fn absorb(&mut self, i: usize, ev: Events) {
        self.epoch = self.epoch.wrapping_add(1);
        log_events(&self.slots[i], ev);
        let s = &mut self.slots[i];
        s.events |= ev;
        if ev.contains(Events::CONNECTED) {
            if let Owner::Listener { idx, generation } = s.owner {
                self.enqueue_accepted(i, usize::from(idx), generation);
                return;
            }
        }
        if !s.marks.has(Marks::EV_LISTED) && s.owner == Owner::User {
            s.marks.set(Marks::EV_LISTED, true);
            s.ev_next = self.ev_head;
            self.ev_head = i as u16;
        }
    }

    /// An embryonic connection reached ESTABLISHED: it moves to its listener's accept
    /// queue.
    fn enqueue_accepted(&mut self, i: usize, li: usize, generation: u16) {
        let Some(l) = self.listeners.get_mut(li) else {
            return;
        };
        if l.generation != generation || self.slots[i].marks.has(Marks::QUEUED) {
            return;
        }
        l.embryos = l.embryos.saturating_sub(1);
        l.q_len += 1;
        self.slots[i].marks.set(Marks::QUEUED, true);
        self.slots[i].q_next = NONE;
        if l.q_tail == NONE {
            l.q_head = i as u16;
        } else {
            self.slots[usize::from(l.q_tail)].q_next = i as u16;
        }
        l.q_tail = i as u16;
        l.events |= Events::RECV;
        l.ev_listed = true;
    }

    /// Calls `f` with each stream slot `(index, generation, events)` and each listener
    /// `(index, generation)` whose readiness changed since the last call, and clears them.
    pub fn take_events(
        &mut self,
        mut stream: impl FnMut(usize, u16, Events),
        mut listener: impl FnMut(usize, u16),
    ) {
        let mut cur = self.ev_head;
        self.ev_head = NONE;
        while cur != NONE {
            let s = &mut self.slots[usize::from(cur)];
            let next = s.ev_next;
            s.marks.set(Marks::EV_LISTED, false);
            s.ev_next = NONE;
            let ev = core::mem::take(&mut s.events);
            stream(usize::from(cur), s.generation, ev);
            cur = next;
        }
        for (i, l) in self.listeners.iter_mut().enumerate() {
            if l.ev_listed {
                l.ev_listed = false;
                l.events = Events::empty();
                listener(i, l.generation);
            }
        }
    }

    /// A counter bumped whenever a socket's readiness may have changed.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    // ----- resets queued by user calls -----

    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    pub(crate) fn queue_rst(&mut self, local: Endpoint, remote: Endpoint, rst: TcpRepr) {
        match self.pending_rst.iter_mut().find(|r| r.is_none()) {
            Some(slot) => {
                *slot = Some((local, remote, rst));
                self.n_pending_rst += 1;
            }
            None => self.rst_dropped += 1,
        }
    }

    #[inline]
    pub(crate) fn has_pending_rst(&self) -> bool {
        self.n_pending_rst > 0
    }

    pub(crate) fn take_rst(&mut self) -> Option<(Endpoint, Endpoint, TcpRepr)> {
        if self.n_pending_rst == 0 {
            return None;
        }
        let r = self.pending_rst.iter_mut().find_map(|r| r.take());
        if r.is_some() {
            self.n_pending_rst -= 1;
        }
        r
    }

    pub(crate) fn put_back_rst(&mut self, r: (Endpoint, Endpoint, TcpRepr)) {
        if let Some(slot) = self.pending_rst.iter_mut().find(|r| r.is_none()) {
            *slot = Some(r);
            self.n_pending_rst += 1;
        }
    }

    /// Handles whose owners dropped them since the last poll are closed now.
    #[inline]
    pub(crate) fn reap_dropped(&mut self, now: Instant) {
        if self.any_dropped.load(Ordering::Relaxed) {
            self.reap_dropped_slow(now);
        }
    }

    fn reap_dropped_slow(&mut self, now: Instant) {
        self.any_dropped.store(false, Ordering::Relaxed);
        // Pairs with the fence in the handles' `Drop` (which stores the slot's flag, then
        // "any"). Without the two fences this store of `false` could overwrite the "any"
        // of a handle dropped just now while the loads below still miss its slot flag:
        // that connection would never be closed. With them, either the loads below see
        // the flag, or the handle's "any" comes after our `false` and the next poll looks.
        fence(Ordering::SeqCst);
        for i in 0..self.slots.len() {
            if self.stream_flags[i].load(Ordering::Relaxed) {
                self.stream_flags[i].store(false, Ordering::Relaxed);
                if self.slots[i].owner == Owner::User {
                    self.close_slot(now, i);
                }
            }
        }
        for li in 0..self.listeners.len() {
            if self.listener_flags[li].load(Ordering::Relaxed) {
                self.listener_flags[li].store(false, Ordering::Relaxed);
                if self.listeners[li].open {
                    self.close_listener(li);
                }
            }
        }
    }

    /// The user side of slot `i` closes (orderly): FIN after queued data, or RST if
    /// unread data remains.
    pub(crate) fn close_slot(&mut self, now: Instant, i: usize) {
        let unread = self.slots[i].rx.len();
        let (cfg, stats) = (&self.cfg, &mut self.stats);
        if let Some(c) = self.slots[i].conn.as_mut() {
            if let Some(rst) = c.close(&mut Ctx { now, cfg, stats }, unread) {
                let (l, r) = (c.local(), c.remote());
                self.queue_rst(l, r, rst);
            }
        }
        self.slots[i].owner = Owner::Released;
        self.after_change(i);
    }

    /// The user side of slot `i` aborts: RST, CLOSED at once.
    pub(crate) fn abort_slot(&mut self, i: usize) {
        if let Some(c) = self.slots[i].conn.as_mut() {
            if let Some(rst) = c.abort() {
                let (l, r) = (c.local(), c.remote());
                self.queue_rst(l, r, rst);
            }
        }
        self.slots[i].owner = Owner::Released;
        self.after_change(i);
    }

    /// After anything touched slot `i`: readiness, timer, output, and maybe freeing.
    pub(crate) fn after_change(&mut self, i: usize) {
        if self
            .slots
            .get(i)
            .is_some_and(|s| s.marks.has(Marks::READ_SHUT) && !s.rx.is_empty())
        {
            self.discard_received(i);
        }
        let Some(s) = self.slots.get_mut(i) else {
            return;
        };
        // What `absorb_events` and `release` would find, read once: most changes leave
        // no event and a connection that is not closed.
        let (ev, closed) = match s.conn.as_mut() {
            Some(c) => (c.take_events(), c.state() == State::Closed),
            None => (Events::empty(), true),
        };
        if !ev.is_empty() {
            self.absorb(i, ev);
        }
        if closed && self.release(i) {
            return;
        }
        self.update_timer(i);
        if !self.slots[i].marks.has(Marks::DIRTY) && self.may_output(i) {
            self.mark_dirty(i);
        }
    }

    /// Drops what slot `i` has received and not read (its read side is shut, as BSD's
    /// `sorflush`), opening the window again. Rare: kept out of `after_change`'s lines.
    #[inline(never)]
    fn discard_received(&mut self, i: usize) {
        if let Some((c, mut rx, ..)) = self.parts(i) {
            while rx.read_with(|b| b.len()) > 0 {}
            c.on_user_read(&rx);
        }
    }

    /// Whether slot `i`'s connection may have a segment to send ([`Connection::may_output`]:
    /// conservative, cheap, no buffers joined).
    #[inline]
    pub(crate) fn may_output(&self, i: usize) -> bool {
        let Some(s) = self.slots.get(i) else {
            return false;
        };
        s.conn.as_ref().is_some_and(|c| {
            c.may_output(
                s.tx.len(),
                self.rx_size,
                self.rx_size.saturating_sub(s.rx.len()),
            )
        })
    }

    /// Closes listener `li`: every connection it still owns (embryonic or waiting in the
    /// accept queue) is reset and freed.
    pub(crate) fn close_listener(&mut self, li: usize) {
        let generation = self.listeners[li].generation;
        for i in 0..self.slots.len() {
            if self.slots[i].owner
                == (Owner::Listener {
                    idx: li as u16,
                    generation,
                })
            {
                if let Some(c) = self.slots[i].conn.as_mut() {
                    if let Some(rst) = c.abort() {
                        let (l, r) = (c.local(), c.remote());
                        self.queue_rst(l, r, rst);
                    }
                }
                self.release(i);
            }
        }
        let l = &mut self.listeners[li];
        *l = ListenSlot {
            generation: l.generation.wrapping_add(1),
            ..ListenSlot::EMPTY
        };
        self.epoch = self.epoch.wrapping_add(1);
    }
}

/// A connection's life for the log: established (debug), failed (warn), closed (debug).
fn log_events(slot: &Slot, ev: Events) {
    let Some(c) = slot.conn.as_ref() else {
        return;
    };
    if !ev.intersects(Events::CONNECTED | Events::ERROR | Events::CLOSED) {
        return;
    }
    let (local, remote) = (c.local(), c.remote());
    if ev.contains(Events::CONNECTED) {
        net_log!(debug, "tcp {} -> {}: established", local, remote);
    }
    if let Some(e) = c.error().filter(|_| ev.contains(Events::ERROR)) {
        net_log!(warn, "tcp {} -> {}: {}", local, remote, e);
    } else if ev.contains(Events::CLOSED) {
        net_log!(debug, "tcp {} -> {}: closed", local, remote);
    }
}
