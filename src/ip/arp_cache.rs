//! The neighbour cache of ARP (IPv4) and Neighbor Discovery (IPv6): a fixed number of
//! entries, each with its resolution state and a small queue of waiter tokens, generic
//! over the address type ([`ArpCache`] for IPv4; the IPv6 side of the interface keeps a
//! `NeighborCache<Ipv6Addr, N>`).
//!
//! The states are RFC 4861 §7.3.2's, which Linux uses for ARP too: INCOMPLETE is
//! `Incomplete`; REACHABLE is `Reachable` before `expires_at`; STALE is `Reachable` after
//! it (an entry learnt unsolicited starts there, `expires_at` being the present); DELAY
//! is `Probing` with no request sent yet; PROBE is `Probing` with requests sent.
//!
//! An entry moves through these states:
//!
//! ```text
//!  (none) --lookup/wait_for--> Incomplete --reply--> Reachable --ttl passes, used--> Probing
//!    ^                           |     ^                ^                            |  |
//!    |             max requests  |     |                +----reply or TCP advice-----+  |
//!    |               unanswered  v     +--------------max polls unanswered--------------+
//!    +-----hold time passes---- Failed
//! ```
//!
//! Requests are sent by the interface when [`NeighborCache::due_request`] says so: the first at
//! once, then one every `request_interval` (RFC 1122 §2.3.2.1: at most one per second per
//! address). A stale entry (Probing) is still used. Its first request waits `probe_delay`
//! for higher-layer advice, and its requests go to the address last learnt rather than to
//! everyone (RFC 1122's unicast poll; Linux's DELAY and PROBE states); when they go
//! unanswered, the neighbour is resolved afresh by broadcast. Entries with waiters are
//! never evicted; otherwise the entry used least recently goes first, failed and expired
//! ones before live ones.

#[cfg(any(test, feature = "proto-ipv4"))]
use core::net::Ipv4Addr;

use crate::time::{Duration, Instant};
use crate::wire::ethernet::EthernetAddress;

/// Waiter tokens one neighbour can hold.
pub const MAX_WAITERS: usize = 4;

/// The resolution state of one neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeighborState {
    /// Being resolved; no address known yet.
    Incomplete {
        /// Requests sent so far.
        requests_sent: u8,
        /// When the next request is due, or, once all were sent, when the entry fails.
        next_at: Instant,
    },
    /// Resolved and fresh.
    Reachable {
        /// The neighbour's address.
        mac: EthernetAddress,
        /// When the entry goes stale.
        expires_at: Instant,
    },
    /// Stale but still in use: the old address is used while it is re-confirmed, first
    /// by waiting for higher-layer advice, then by requests sent to it.
    Probing {
        /// The address last learnt.
        mac: EthernetAddress,
        /// Requests sent so far.
        requests_sent: u8,
        /// When the next request is due, or when the entry fails.
        next_at: Instant,
    },
    /// Resolution failed; lookups fail at once until `until`.
    Failed {
        /// When the entry is removed and resolution may start again.
        until: Instant,
    },
}

/// What [`NeighborCache::lookup`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// A usable address (fresh, or stale and being re-requested).
    Found(EthernetAddress),
    /// Resolution in progress.
    Pending,
    /// Resolution failed recently.
    Failed,
    /// No entry.
    Missing,
}

/// One neighbour.
#[derive(Clone, Copy, Debug)]
struct Entry<A> {
    ip: A,
    state: NeighborState,
    last_used: Instant,
    waiters: [u32; MAX_WAITERS],
    n_waiters: u8,
}

impl<A: Copy + Eq> Entry<A> {
    fn new(ip: A, state: NeighborState, now: Instant) -> Self {
        Entry {
            ip,
            state,
            last_used: now,
            waiters: [0; MAX_WAITERS],
            n_waiters: 0,
        }
    }

    fn waiters(&self) -> &[u32] {
        self.waiters
            .get(..usize::from(self.n_waiters))
            .unwrap_or(&[])
    }

    fn pop_waiter(&mut self) -> Option<u32> {
        let n = usize::from(self.n_waiters);
        let first = *self.waiters().first()?;
        // From a copy rather than `copy_within`: an overlapping copy would link the
        // general `memmove` (1.5 KiB on a Cortex-M) for this one use.
        let old = self.waiters;
        if let (Some(dst), Some(src)) = (self.waiters.get_mut(..n - 1), old.get(1..n)) {
            dst.copy_from_slice(src);
        }
        self.n_waiters -= 1;
        Some(first)
    }

    /// Eviction rank: lower goes first; `None` is never evicted.
    /// How readily this entry gives way to a new one (lower goes first), or `None` if it
    /// must stay. An entry nobody has answered for (incomplete) never pushes out a
    /// neighbour that has answered: under a flood of spoofed sources the real neighbours
    /// keep their entries, and an incomplete entry is cheap to make again.
    fn eviction_rank(&self, now: Instant, incoming_resolved: bool) -> Option<u8> {
        if self.n_waiters > 0 {
            return None;
        }
        match self.state {
            NeighborState::Failed { .. } => Some(0),
            NeighborState::Reachable { expires_at, .. } if expires_at <= now => Some(0),
            NeighborState::Incomplete { .. } => Some(1),
            NeighborState::Reachable { .. } | NeighborState::Probing { .. } => {
                incoming_resolved.then_some(2)
            }
        }
    }
}

/// The neighbour table of an interface, `N` entries keyed by addresses of type `A`, no
/// heap.
#[derive(Clone, Debug)]
pub struct NeighborCache<A, const N: usize> {
    entries: [Option<Entry<A>>; N],
    /// Every entry is empty or reachable with nobody waiting: nothing for the per-poll
    /// scans (requests, expiry, waiters) to find. Cleared by anything that may change
    /// that, set again by the next [`NeighborCache::expire`] that finds it true.
    calm: bool,
}

/// The ARP cache: the neighbour table keyed by IPv4 addresses (feature `proto-ipv4`).
#[cfg(any(test, feature = "proto-ipv4"))]
pub type ArpCache<const N: usize> = NeighborCache<Ipv4Addr, N>;

impl<A: Copy + Eq, const N: usize> Default for NeighborCache<A, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Copy + Eq, const N: usize> NeighborCache<A, N> {
    /// An empty table.
    pub const fn new() -> Self {
        NeighborCache {
            entries: [None; N],
            calm: true,
        }
    }

    /// Every entry resolved and fresh when last checked, and no token waiting: no request,
    /// failure or waiter to hand out (what `calm` records).
    #[inline]
    pub(crate) fn is_calm(&self) -> bool {
        self.calm
    }

    /// Number of entries in use.
    pub fn len(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The state of the entry for `ip`, if there is one.
    pub fn get(&self, ip: A) -> Option<NeighborState> {
        self.entries
            .iter()
            .flatten()
            .find(|e| e.ip == ip)
            .map(|e| e.state)
    }

    /// Every entry with its state, for diagnostics (`arp -a`).
    pub fn iter(&self) -> impl Iterator<Item = (A, NeighborState)> + '_ {
        self.entries.iter().flatten().map(|e| (e.ip, e.state))
    }

    /// Removes every entry that has no waiters.
    pub fn flush(&mut self) {
        for slot in &mut self.entries {
            if slot.is_some_and(|e| e.n_waiters == 0) {
                *slot = None;
            }
        }
    }

    fn find_mut(&mut self, ip: A) -> Option<&mut Entry<A>> {
        self.entries.iter_mut().flatten().find(|e| e.ip == ip)
    }

    /// The slot holding `ip`, trying `hint` (where it was last found) first.
    #[inline]
    fn position(&self, ip: A, hint: Option<usize>) -> Option<usize> {
        if let Some(h) = hint {
            if matches!(self.entries.get(h), Some(Some(e)) if e.ip == ip) {
                return Some(h);
            }
        }
        self.entries
            .iter()
            .position(|e| e.as_ref().is_some_and(|e| e.ip == ip))
    }

    /// Looks `ip` up for sending at `now`. A fresh entry is returned; an expired one is
    /// returned too and starts being re-confirmed (its first request `delay` later,
    /// unless higher-layer advice comes first). Marks the entry used.
    #[cfg(test)]
    pub(crate) fn lookup(&mut self, now: Instant, ip: A, delay: Duration) -> Lookup {
        self.lookup_hinted(now, ip, None, delay).0
    }

    /// [`NeighborCache::lookup`], trying slot `hint` first; also returns the slot the entry is
    /// in.
    pub(crate) fn lookup_hinted(
        &mut self,
        now: Instant,
        ip: A,
        hint: Option<usize>,
        delay: Duration,
    ) -> (Lookup, Option<usize>) {
        let Some(idx) = self.position(ip, hint) else {
            return (Lookup::Missing, None);
        };
        (self.lookup_at(now, idx, delay), Some(idx))
    }

    /// [`NeighborCache::lookup_hinted`] for the common case: `ip` is in slot `idx`, resolved
    /// and fresh at `now`. Marks it used and returns its address; `None` (changing
    /// nothing) in every other case.
    #[cfg(feature = "proto-ipv4")]
    #[inline]
    pub(crate) fn fresh_at(&mut self, now: Instant, ip: A, idx: usize) -> Option<EthernetAddress> {
        match self.entries.get_mut(idx) {
            Some(Some(e)) if e.ip == ip => match e.state {
                NeighborState::Reachable { mac, expires_at } if now < expires_at => {
                    e.last_used = now;
                    Some(mac)
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn lookup_at(&mut self, now: Instant, idx: usize, delay: Duration) -> Lookup {
        let Some(Some(e)) = self.entries.get_mut(idx) else {
            return Lookup::Missing;
        };
        e.last_used = now;
        match e.state {
            NeighborState::Reachable { mac, expires_at } => {
                if expires_at <= now {
                    self.calm = false;
                    e.state = NeighborState::Probing {
                        mac,
                        requests_sent: 0,
                        next_at: now + delay,
                    };
                }
                Lookup::Found(mac)
            }
            NeighborState::Probing { mac, .. } => Lookup::Found(mac),
            NeighborState::Incomplete { .. } => Lookup::Pending,
            NeighborState::Failed { until } if now < until => Lookup::Failed,
            NeighborState::Failed { .. } => {
                if e.n_waiters == 0 {
                    self.entries[idx] = None;
                    Lookup::Missing
                } else {
                    Lookup::Failed
                }
            }
        }
    }

    /// Starts resolving `ip` (first request due at once) unless it has an entry. Returns
    /// false when the table is full of entries that cannot be evicted.
    pub(crate) fn start(&mut self, now: Instant, ip: A) -> bool {
        if self.find_mut(ip).is_some() {
            return true;
        }
        let state = NeighborState::Incomplete {
            requests_sent: 0,
            next_at: now,
        };
        self.put(now, Entry::new(ip, state, now))
    }

    /// RFC 826's merge step: if `ip` has an entry, its address becomes `mac`, fresh for
    /// `ttl`. Returns whether there was an entry (the "merge flag").
    pub(crate) fn merge(
        &mut self,
        now: Instant,
        ip: A,
        mac: EthernetAddress,
        ttl: Duration,
    ) -> bool {
        match self.find_mut(ip) {
            Some(e) => {
                e.state = NeighborState::Reachable {
                    mac,
                    expires_at: now + ttl,
                };
                true
            }
            None => false,
        }
    }

    /// Higher-layer advice that `ip` is reachable (RFC 1122 §2.3.2.1: e.g. TCP saw the
    /// peer acknowledge new data): a known address, fresh or being re-probed, becomes
    /// fresh for `ttl` without another request. Returns whether an address was known.
    #[cfg(test)]
    pub(crate) fn confirm(&mut self, now: Instant, ip: A, ttl: Duration) -> bool {
        self.confirm_hinted(now, ip, ttl, None)
    }

    /// [`NeighborCache::confirm`], trying slot `hint` first.
    pub(crate) fn confirm_hinted(
        &mut self,
        now: Instant,
        ip: A,
        ttl: Duration,
        hint: Option<usize>,
    ) -> bool {
        let e = self
            .position(ip, hint)
            .and_then(|i| self.entries.get_mut(i))
            .and_then(Option::as_mut);
        // A stale entry not used since it went stale is not re-confirmed: its address may
        // be new and unproven (`learn_stale`) while the advice is about frames that went
        // to the old one. Its next use starts the re-confirmation, which advice may end.
        match e {
            Some(e) => match e.state {
                NeighborState::Reachable { mac, expires_at } if expires_at > now => {
                    e.state = NeighborState::Reachable {
                        mac,
                        expires_at: now + ttl,
                    };
                    true
                }
                NeighborState::Probing { mac, .. } => {
                    e.state = NeighborState::Reachable {
                        mac,
                        expires_at: now + ttl,
                    };
                    true
                }
                _ => false,
            },
            None => false,
        }
    }

    /// Adds or updates `ip` at `mac`, fresh for `ttl`. Returns false when there was no
    /// room.
    #[cfg(any(test, feature = "proto-ipv4"))]
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        ip: A,
        mac: EthernetAddress,
        ttl: Duration,
    ) -> bool {
        if self.merge(now, ip, mac, ttl) {
            return true;
        }
        let state = NeighborState::Reachable {
            mac,
            expires_at: now + ttl,
        };
        self.put(now, Entry::new(ip, state, now))
    }

    /// A link-layer address learnt without confirmation that the path works (RFC 4861
    /// §7.2.3, §7.2.5: a solicitation's or advertisement's link-layer option; an ARP
    /// request or announcement): a new or
    /// incomplete entry, or one whose address differs, becomes STALE at `mac` (used, and
    /// re-confirmed after the probe delay); an entry already at `mac` is left as it is.
    /// Returns false when there was no room.
    pub(crate) fn learn_stale(&mut self, now: Instant, ip: A, mac: EthernetAddress) -> bool {
        let stale = NeighborState::Reachable {
            mac,
            expires_at: now,
        };
        if let Some(e) = self.find_mut(ip) {
            let known = match e.state {
                NeighborState::Reachable { mac: m, .. } | NeighborState::Probing { mac: m, .. } => {
                    Some(m)
                }
                _ => None,
            };
            if known != Some(mac) {
                e.state = stale;
            }
            self.calm = false;
            return true;
        }
        self.put(now, Entry::new(ip, stale, now))
    }

    /// Stores a new entry in a free slot or in place of the best eviction candidate.
    fn put(&mut self, now: Instant, entry: Entry<A>) -> bool {
        self.calm = false;
        let resolved = matches!(entry.state, NeighborState::Reachable { .. });
        let slot = match self.entries.iter().position(Option::is_none) {
            Some(i) => Some(i),
            None => self
                .entries
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let e = e.as_ref()?;
                    Some((e.eviction_rank(now, resolved)?, e.last_used, i))
                })
                .min()
                .map(|(_, _, i)| i),
        };
        match slot.and_then(|i| self.entries.get_mut(i)) {
            Some(s) => {
                *s = Some(entry);
                true
            }
            None => false,
        }
    }

    /// Queues `token` on the entry for `ip`. `Ok(())` also when it is already queued;
    /// `Err(())` when there is no entry or its queue is full.
    pub(crate) fn add_waiter(&mut self, ip: A, token: u32) -> Result<(), ()> {
        let e = self.find_mut(ip).ok_or(())?;
        if e.waiters().contains(&token) {
            return Ok(());
        }
        let slot = e.waiters.get_mut(usize::from(e.n_waiters)).ok_or(())?;
        *slot = token;
        e.n_waiters += 1;
        self.calm = false;
        Ok(())
    }

    /// A token whose neighbour now has an address.
    pub(crate) fn pop_resolved(&mut self) -> Option<u32> {
        if self.calm {
            return None;
        }
        self.entries
            .iter_mut()
            .flatten()
            .find_map(|e| match e.state {
                NeighborState::Reachable { .. } | NeighborState::Probing { .. } => e.pop_waiter(),
                _ => None,
            })
    }

    /// A token whose neighbour could not be resolved.
    pub(crate) fn pop_failed(&mut self) -> Option<u32> {
        if self.calm {
            return None;
        }
        self.entries
            .iter_mut()
            .flatten()
            .find_map(|e| match e.state {
                NeighborState::Failed { .. } => e.pop_waiter(),
                _ => None,
            })
    }

    /// Whether any entry has tokens ready for [`NeighborCache::pop_resolved`] or
    /// [`NeighborCache::pop_failed`].
    pub(crate) fn has_ready_waiters(&self) -> bool {
        if self.calm {
            return false;
        }
        self.entries
            .iter()
            .flatten()
            .any(|e| e.n_waiters > 0 && !matches!(e.state, NeighborState::Incomplete { .. }))
    }

    /// Marks entries whose last request went unanswered as failed (held for `hold`), sends
    /// stale entries whose polls went unanswered back to resolution by broadcast, and
    /// removes failed entries whose hold has passed. Returns how many failed now.
    pub(crate) fn expire(&mut self, now: Instant, max_requests: u8, hold: Duration) -> u32 {
        if self.calm {
            return 0;
        }
        let mut failed = 0u32;
        let mut calm = true;
        for slot in &mut self.entries {
            let Some(e) = slot else { continue };
            match e.state {
                NeighborState::Incomplete {
                    requests_sent,
                    next_at,
                } if requests_sent >= max_requests && next_at <= now => {
                    e.state = NeighborState::Failed { until: now + hold };
                    failed = failed.saturating_add(1);
                }
                NeighborState::Probing {
                    requests_sent,
                    next_at,
                    ..
                } if requests_sent >= max_requests && next_at <= now => {
                    // The neighbour no longer answers at its old address (it may have
                    // a new one): forget it and ask everyone, as for a new neighbour.
                    e.state = NeighborState::Incomplete {
                        requests_sent: 0,
                        next_at: now,
                    };
                }
                NeighborState::Failed { until } if until <= now && e.n_waiters == 0 => {
                    *slot = None;
                    continue;
                }
                _ => {}
            }
            calm &= e.n_waiters == 0 && matches!(e.state, NeighborState::Reachable { .. });
        }
        self.calm = calm;
        failed
    }

    /// The address of a neighbour whose next request is due, and the Ethernet address to
    /// send it to (broadcast to resolve, the last known address to re-confirm), marking
    /// it sent (the next one is due `interval` later).
    pub(crate) fn due_request(
        &mut self,
        now: Instant,
        interval: Duration,
        max_requests: u8,
    ) -> Option<(A, EthernetAddress)> {
        if self.calm {
            return None;
        }
        for e in self.entries.iter_mut().flatten() {
            let (requests_sent, next_at, to) = match &mut e.state {
                NeighborState::Incomplete {
                    requests_sent,
                    next_at,
                } => (requests_sent, next_at, EthernetAddress::BROADCAST),
                NeighborState::Probing {
                    requests_sent,
                    next_at,
                    mac,
                } => (requests_sent, next_at, *mac),
                _ => continue,
            };
            if *requests_sent < max_requests && *next_at <= now {
                *requests_sent += 1;
                *next_at = now + interval;
                return Some((e.ip, to));
            }
        }
        None
    }

    /// The earliest time a request or a failure is due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.calm {
            return None;
        }
        self.entries
            .iter()
            .flatten()
            .filter_map(|e| match e.state {
                NeighborState::Incomplete { next_at, .. }
                | NeighborState::Probing { next_at, .. } => Some(next_at),
                _ => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);
    const SEC: Duration = Duration::from_secs(1);

    fn ip(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, n)
    }
    fn mac(n: u8) -> EthernetAddress {
        EthernetAddress([2, 0, 0, 0, 0, n])
    }

    #[test]
    fn higher_layer_advice_keeps_an_entry_fresh() {
        let t0 = Instant::from_secs(1);
        let mut c = ArpCache::<4>::new();
        assert!(c.insert(t0, ip(1), mac(1), TTL));
        // Confirmed before it goes stale: stays reachable past the first TTL.
        assert!(c.confirm(t0 + TTL - SEC, ip(1), TTL));
        assert!(
            matches!(c.get(ip(1)), Some(NeighborState::Reachable { expires_at, .. }) if expires_at > t0 + TTL)
        );
        // Nothing to confirm for an unknown or unresolved neighbour.
        assert!(!c.confirm(t0, ip(2), TTL));
        assert!(c.start(t0, ip(3)));
        assert!(!c.confirm(t0, ip(3), TTL));
    }

    /// An address learnt unconfirmed (a request's sender, perhaps damaged) is not made
    /// fresh by advice about frames sent before it: only its use, then advice or a
    /// probe's answer, confirms it.
    #[test]
    fn advice_does_not_confirm_an_unproven_new_address() {
        let t0 = Instant::from_secs(1);
        let mut c = ArpCache::<4>::new();
        assert!(c.insert(t0, ip(1), mac(1), TTL));
        assert!(c.learn_stale(t0 + SEC, ip(1), mac(9)));
        assert!(!c.confirm(t0 + SEC, ip(1), TTL));
        assert_eq!(
            c.lookup(t0 + SEC, ip(1), SEC.saturating_mul(5)),
            Lookup::Found(mac(9)),
            "used at the new address while it is re-confirmed"
        );
        assert!(matches!(c.get(ip(1)), Some(NeighborState::Probing { .. })));
        // Once in use, advice (a peer acknowledging data sent there) confirms it.
        assert!(c.confirm(t0 + SEC + SEC, ip(1), TTL));
        assert!(
            matches!(c.get(ip(1)), Some(NeighborState::Reachable { mac: m, .. }) if m == mac(9))
        );
    }

    #[test]
    fn unanswered_entries_never_push_out_answered_ones() {
        let t0 = Instant::from_secs(1);
        let mut c = ArpCache::<2>::new();
        assert!(c.insert(t0, ip(1), mac(1), TTL));
        assert!(c.start(t0, ip(2)));
        // A flood of spoofed sources: each new incomplete entry replaces the previous
        // incomplete one, never the neighbour that answered.
        for n in 3..50 {
            assert!(c.start(t0 + SEC, ip(n)));
            assert!(matches!(
                c.get(ip(1)),
                Some(NeighborState::Reachable { .. })
            ));
        }
        // Full of answered neighbours, an incomplete entry finds no room...
        assert!(c.insert(t0 + SEC, ip(60), mac(60), TTL));
        assert!(!c.start(t0 + SEC, ip(61)));
        // ...but a newly answered neighbour does, in place of the oldest.
        assert!(c.insert(t0 + SEC + SEC, ip(62), mac(62), TTL));
        assert!(c.get(ip(62)).is_some());
    }
    fn t(s: u64) -> Instant {
        Instant::from_secs(s)
    }

    #[test]
    fn insert_lookup_and_expiry() {
        const DELAY: Duration = Duration::from_secs(5);
        let mut c = ArpCache::<4>::new();
        assert_eq!(c.lookup(t(0), ip(1), DELAY), Lookup::Missing);
        assert!(c.insert(t(0), ip(1), mac(1), TTL));
        assert_eq!(c.lookup(t(59), ip(1), DELAY), Lookup::Found(mac(1)));
        assert_eq!(c.due_request(t(59), SEC, 3), None);
        // Past its lifetime the entry is still used; it is re-requested after the delay,
        // from the address last learnt.
        assert_eq!(c.lookup(t(60), ip(1), DELAY), Lookup::Found(mac(1)));
        assert!(matches!(c.get(ip(1)), Some(NeighborState::Probing { .. })));
        assert_eq!(c.next_deadline(), Some(t(65)));
        assert_eq!(c.due_request(t(64), SEC, 3), None);
        assert_eq!(c.due_request(t(65), SEC, 3), Some((ip(1), mac(1))));
        // A reply makes it fresh again.
        assert!(c.merge(t(65), ip(1), mac(9), TTL));
        assert_eq!(c.lookup(t(66), ip(1), DELAY), Lookup::Found(mac(9)));
        // Unanswered polls send it back to resolution by broadcast, which fails it too.
        assert_eq!(c.lookup(t(200), ip(1), DELAY), Lookup::Found(mac(9)));
        for s in 205..208 {
            assert_eq!(c.due_request(t(s), SEC, 3), Some((ip(1), mac(9))));
            assert_eq!(c.expire(t(s), 3, Duration::from_secs(20)), 0);
        }
        assert_eq!(c.expire(t(208), 3, Duration::from_secs(20)), 0);
        assert_eq!(c.lookup(t(208), ip(1), DELAY), Lookup::Pending);
        for s in 208..211 {
            let bcast = Some((ip(1), EthernetAddress::BROADCAST));
            assert_eq!(c.due_request(t(s), SEC, 3), bcast);
            assert_eq!(c.expire(t(s), 3, Duration::from_secs(20)), 0);
        }
        assert_eq!(c.expire(t(211), 3, Duration::from_secs(20)), 1);
        assert_eq!(c.lookup(t(212), ip(1), DELAY), Lookup::Failed);
        // After the hold the entry goes and resolution may start over.
        assert_eq!(c.lookup(t(231), ip(1), DELAY), Lookup::Missing);
        assert!(c.is_empty());
    }

    #[test]
    fn advice_during_the_probe_delay_saves_the_request() {
        const DELAY: Duration = Duration::from_secs(5);
        let mut c = ArpCache::<4>::new();
        assert!(c.insert(t(0), ip(1), mac(1), TTL));
        // Stale at 60 s: used at once, nothing sent yet.
        assert_eq!(c.lookup(t(70), ip(1), DELAY), Lookup::Found(mac(1)));
        assert_eq!(c.due_request(t(70), SEC, 3), None);
        // The peer acknowledges new data within the delay: fresh again, no request.
        assert!(c.confirm(t(72), ip(1), TTL));
        assert!(matches!(
            c.get(ip(1)),
            Some(NeighborState::Reachable { expires_at, .. }) if expires_at == t(72) + TTL
        ));
        assert_eq!(c.due_request(t(75), SEC, 3), None);
        assert_eq!(c.expire(t(80), 3, SEC), 0);
        assert_eq!(c.next_deadline(), None);
    }

    #[test]
    fn merge_only_updates_existing() {
        let mut c = ArpCache::<4>::new();
        assert!(!c.merge(t(0), ip(1), mac(1), TTL));
        assert!(c.is_empty());
        assert!(c.start(t(0), ip(1)));
        assert_eq!(c.lookup(t(0), ip(1), SEC), Lookup::Pending);
        assert!(c.merge(t(1), ip(1), mac(1), TTL));
        assert_eq!(c.lookup(t(1), ip(1), SEC), Lookup::Found(mac(1)));
        // A failed neighbour that speaks up is reachable again.
        c.entries[0].as_mut().unwrap().state = NeighborState::Failed { until: t(100) };
        assert!(c.merge(t(2), ip(1), mac(2), TTL));
        assert_eq!(c.lookup(t(2), ip(1), SEC), Lookup::Found(mac(2)));
    }

    #[test]
    fn eviction_order() {
        let mut c = ArpCache::<3>::new();
        c.insert(t(0), ip(1), mac(1), TTL);
        c.insert(t(1), ip(2), mac(2), TTL);
        c.insert(t(2), ip(3), mac(3), TTL);
        c.lookup(t(3), ip(1), SEC); // 1 used most recently: 2 is now the oldest
        assert!(c.insert(t(4), ip(4), mac(4), TTL));
        assert_eq!(c.get(ip(2)), None);
        assert_eq!(c.len(), 3);
        // An expired entry goes before a fresher-used live one.
        c.insert(t(5), ip(5), mac(5), Duration::from_secs(1)); // evicts 3 (oldest use)
        assert_eq!(c.get(ip(3)), None);
        c.lookup(t(6), ip(1), SEC);
        c.lookup(t(6), ip(4), SEC);
        assert!(c.insert(t(7), ip(6), mac(6), TTL));
        assert_eq!(c.get(ip(5)), None);
        // Entries with waiters are never evicted.
        let mut c = ArpCache::<2>::new();
        c.start(t(0), ip(1));
        c.start(t(0), ip(2));
        c.add_waiter(ip(1), 10).unwrap();
        c.add_waiter(ip(2), 20).unwrap();
        assert!(!c.start(t(1), ip(3)));
        assert!(!c.insert(t(1), ip(3), mac(3), TTL));
    }

    #[test]
    fn request_schedule_and_failure() {
        let mut c = ArpCache::<4>::new();
        c.start(t(0), ip(1));
        assert_eq!(c.next_deadline(), Some(t(0)));
        assert_eq!(
            c.due_request(t(0), SEC, 3),
            Some((ip(1), EthernetAddress::BROADCAST))
        );
        assert_eq!(c.due_request(t(0), SEC, 3), None); // rate limited
        assert_eq!(c.next_deadline(), Some(t(1)));
        assert_eq!(c.due_request(Instant::from_millis(999), SEC, 3), None);
        assert_eq!(
            c.due_request(t(1), SEC, 3),
            Some((ip(1), EthernetAddress::BROADCAST))
        );
        assert_eq!(
            c.due_request(t(2), SEC, 3),
            Some((ip(1), EthernetAddress::BROADCAST))
        );
        assert_eq!(c.due_request(t(3), SEC, 3), None); // all three sent
        assert_eq!(c.next_deadline(), Some(t(3)));
        assert_eq!(c.expire(Instant::from_millis(2999), 3, SEC), 0);
        assert_eq!(c.expire(t(3), 3, SEC), 1);
        assert_eq!(c.next_deadline(), None);
        assert_eq!(c.get(ip(1)), Some(NeighborState::Failed { until: t(4) }));
    }

    #[test]
    fn waiters_bounded_and_delivered() {
        let mut c = ArpCache::<4>::new();
        assert_eq!(c.add_waiter(ip(1), 1), Err(()));
        c.start(t(0), ip(1));
        for tok in 1..=MAX_WAITERS as u32 {
            assert_eq!(c.add_waiter(ip(1), tok), Ok(()));
        }
        assert_eq!(c.add_waiter(ip(1), 1), Ok(())); // already queued
        assert_eq!(c.add_waiter(ip(1), 99), Err(()));
        assert!(!c.has_ready_waiters());
        assert_eq!(c.pop_resolved(), None);
        c.merge(t(0), ip(1), mac(1), TTL);
        assert!(c.has_ready_waiters());
        let got: std::vec::Vec<u32> = core::iter::from_fn(|| c.pop_resolved()).collect();
        assert_eq!(got, [1, 2, 3, 4]);
        assert_eq!(c.pop_failed(), None);
        assert!(!c.has_ready_waiters());
    }

    #[test]
    fn failed_waiters_delivered() {
        let mut c = ArpCache::<4>::new();
        c.start(t(0), ip(1));
        c.add_waiter(ip(1), 7).unwrap();
        assert_eq!(c.expire(t(0), 0, SEC), 1);
        assert_eq!(c.pop_resolved(), None);
        assert_eq!(c.pop_failed(), Some(7));
        assert_eq!(c.pop_failed(), None);
    }
}
