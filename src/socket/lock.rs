//! The lock the shared and async adapters keep a stack behind: a
//! `critical_section::Mutex<RefCell<T>>`, so that handles can be used from other tasks and
//! from interrupt handlers on any target. Under `--cfg loom` it is loom's mutex instead, so
//! the model test explores every interleaving of the real code.
//!
//! The critical section is held for the whole call made through the lock, a `poll`
//! included: on a single-core board that keeps interrupts off for that long.

#[cfg(not(loom))]
use core::cell::RefCell;

/// A value behind the adapters' lock.
pub(crate) struct Lock<T> {
    #[cfg(not(loom))]
    cell: critical_section::Mutex<RefCell<T>>,
    #[cfg(loom)]
    cell: loom::sync::Mutex<T>,
}

impl<T> Lock<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Self {
        Lock {
            cell: critical_section::Mutex::new(RefCell::new(value)),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        Lock {
            cell: loom::sync::Mutex::new(value),
        }
    }

    /// Runs `f` on the value with the lock held. `None` only if the value is already
    /// borrowed further up the same call stack (a call made from inside another `f`): other
    /// contexts wait for the critical section instead.
    #[cfg(not(loom))]
    pub(crate) fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        critical_section::with(|cs| {
            let mut v = self.cell.borrow(cs).try_borrow_mut().ok()?;
            Some(f(&mut v))
        })
    }

    #[cfg(loom)]
    pub(crate) fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut v = self.cell.lock().ok()?;
        Some(f(&mut v))
    }

    /// The value, when the lock is owned.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        #[cfg(not(loom))]
        {
            self.cell.get_mut().get_mut()
        }
        #[cfg(loom)]
        {
            self.cell.get_mut().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// The value, unwrapped.
    pub(crate) fn into_inner(self) -> T {
        #[cfg(not(loom))]
        {
            self.cell.into_inner().into_inner()
        }
        #[cfg(loom)]
        {
            self.cell.into_inner().unwrap_or_else(|e| e.into_inner())
        }
    }
}
