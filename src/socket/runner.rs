//! The async network task: [`AsyncStack::run`] owns the device and polls the stack
//! whenever there is something to do — the device woke it (a frame, room to send, a link
//! change), a handle needs the stack ([`AsyncStack::needs_poll`]), or the stack's next
//! deadline has come — and otherwise awaits. Firmware spawns it as a task and uses
//! [`TcpStream`](super::asynch::TcpStream)s from other tasks.
//!
//! It is executor-agnostic: time comes from a small [`Timer`] trait, implemented on
//! `embassy-time` (`EmbassyTimer`, feature `embassy-time`) and on `std`
//! ([`StdTimer`]). The device must be able to take the task's waker ([`AsyncDevice`]):
//! [`EmbassyDevice`](crate::drivers::EmbassyDevice) is, over any `embassy-net-driver`
//! driver.
//!
//! ```ignore
//! #[embassy_executor::task]
//! async fn net_task(net: &'static Net, device: EmbassyDevice<Ethernet<'static, ETH, GenericPhy>>) -> ! {
//!     let mut device = device;
//!     match net.run(&mut device, &mut EmbassyTimer).await {}
//! }
//! ```

use core::convert::Infallible;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use super::asynch::AsyncStack;
use super::{Drive, SocketSet};
use crate::drivers::AsyncDevice;
use crate::time::Instant;

/// Time for the runner: the stack's clock, and a way to sleep until an instant.
pub trait Timer {
    /// What [`sleep_until`](Timer::sleep_until) returns.
    type Sleep: Future<Output = ()>;
    /// The current time on the stack's clock (any origin, never going backwards).
    fn now(&mut self) -> Instant;
    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(&mut self, deadline: Instant) -> Self::Sleep;
}

/// Polls that the runner makes in a row, when deadlines come due while it polls,
/// before it lets other tasks run.
const POLLS_IN_A_ROW: usize = 4;

impl<'a, T, const N: usize, const L: usize> AsyncStack<T, N, L>
where
    T: AsMut<SocketSet<'a>> + Send,
{
    /// The network task: polls the stack over `device` whenever the device wakes it, a
    /// handle needs the stack, or the stack's next deadline comes, and awaits otherwise
    /// (it never spins). Runs for ever.
    pub async fn run<D, C>(&self, device: &mut D, timer: &mut C) -> Infallible
    where
        T: Drive<D>,
        D: AsyncDevice,
        C: Timer,
    {
        let mut sleep = pin!(None::<C::Sleep>);
        let mut armed: Option<Instant> = None;
        poll_fn(|cx| {
            for _ in 0..POLLS_IN_A_ROW {
                device.set_waker(cx.waker());
                // Activity before this poll is what the poll handles.
                let _ = self.poll_activity(cx);
                let now = timer.now();
                let next = self.with(|s| s.drive(now, device)).ok().flatten();
                if self.poll_activity(cx).is_ready() || device.burst_exhausted() {
                    // More to do at once: after the other tasks have had a turn.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                let Some(at) = next else {
                    sleep.set(None);
                    armed = None;
                    return Poll::Pending;
                };
                if armed != Some(at) {
                    sleep.set(Some(timer.sleep_until(at)));
                    armed = Some(at);
                }
                let due = sleep
                    .as_mut()
                    .as_pin_mut()
                    .is_some_and(|s| s.poll(cx).is_ready());
                if !due {
                    return Poll::Pending;
                }
                sleep.set(None);
                armed = None;
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }
}

/// [`Timer`] on `embassy-time`'s clock and timer queue (feature `embassy-time`); the
/// stack's instants are microseconds since embassy-time's epoch (boot).
#[cfg(feature = "embassy-time")]
#[derive(Clone, Copy, Debug, Default)]
pub struct EmbassyTimer;

#[cfg(feature = "embassy-time")]
impl Timer for EmbassyTimer {
    type Sleep = embassy_time::Timer;

    fn now(&mut self) -> Instant {
        Instant::from_micros(embassy_time::Instant::now().as_micros())
    }

    fn sleep_until(&mut self, deadline: Instant) -> Self::Sleep {
        embassy_time::Timer::at(embassy_time::Instant::from_micros(deadline.total_micros()))
    }
}

#[cfg(feature = "std")]
pub use std_timer::{StdSleep, StdTimer};

#[cfg(feature = "std")]
mod std_timer {
    use core::future::Future;
    use core::pin::Pin;
    use core::task::{Context, Poll, Waker};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
    use std::time::Instant as StdInstant;

    use super::Timer;
    use crate::time::Instant;

    /// The one sleep a [`StdTimer`] tracks, and its thread's instructions.
    #[derive(Default)]
    struct Alarm {
        deadline: Option<StdInstant>,
        waker: Option<Waker>,
        stop: bool,
    }

    #[derive(Default)]
    struct Shared {
        alarm: Mutex<Alarm>,
        changed: Condvar,
    }

    fn lock(s: &Shared) -> MutexGuard<'_, Alarm> {
        s.alarm.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// [`Timer`] for hosts, with any executor: the stack's clock counts from the timer's
    /// creation, and one thread per timer wakes the sleeping task at its deadline. It
    /// tracks one sleep at a time (the runner's).
    pub struct StdTimer {
        start: StdInstant,
        shared: Arc<Shared>,
    }

    impl StdTimer {
        /// A timer whose clock starts now, with its waking thread.
        pub fn new() -> Self {
            let shared = Arc::new(Shared::default());
            let s = Arc::clone(&shared);
            std::thread::spawn(move || alarm_thread(&s));
            StdTimer {
                start: StdInstant::now(),
                shared,
            }
        }
    }

    impl Default for StdTimer {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Drop for StdTimer {
        fn drop(&mut self) {
            lock(&self.shared).stop = true;
            self.shared.changed.notify_all();
        }
    }

    /// Waits for the alarm's deadline, then wakes its waker; ends when the timer is
    /// dropped.
    fn alarm_thread(s: &Shared) {
        let mut a = lock(s);
        loop {
            if a.stop {
                return;
            }
            let now = StdInstant::now();
            a = match a.deadline {
                Some(d) if d <= now => {
                    a.deadline = None;
                    if let Some(w) = a.waker.take() {
                        w.wake();
                    }
                    a
                }
                Some(d) => {
                    let wait = s.changed.wait_timeout(a, d - now);
                    wait.unwrap_or_else(PoisonError::into_inner).0
                }
                None => s.changed.wait(a).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }

    impl Timer for StdTimer {
        type Sleep = StdSleep;

        fn now(&mut self) -> Instant {
            let us = self.start.elapsed().as_micros();
            Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
        }

        fn sleep_until(&mut self, deadline: Instant) -> StdSleep {
            let d = std::time::Duration::from_micros(deadline.total_micros());
            StdSleep {
                deadline: self.start.checked_add(d),
                shared: Arc::clone(&self.shared),
            }
        }
    }

    /// The future of [`StdTimer::sleep_until`].
    pub struct StdSleep {
        /// `None`: too far away to represent; never completes.
        deadline: Option<StdInstant>,
        shared: Arc<Shared>,
    }

    impl Future for StdSleep {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let Some(d) = self.deadline else {
                return Poll::Pending;
            };
            if StdInstant::now() >= d {
                return Poll::Ready(());
            }
            let mut a = lock(&self.shared);
            a.deadline = Some(d);
            a.waker = Some(cx.waker().clone());
            drop(a);
            self.shared.changed.notify_all();
            Poll::Pending
        }
    }
}
