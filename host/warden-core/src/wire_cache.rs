//! [`WireCache`]: room a request carries for its adapter to keep state between the requests
//! of one run (the adapters keep their encoding of the run's history there, so a request
//! encodes only the messages its predecessor did not have).
//!
//! Invariant: the cache never changes what a request means. It is not serialised, it is
//! equal to every other cache, and whatever an adapter keeps in it must be checked against
//! the request before use; a cache that is empty, busy, poisoned or holds another type
//! only costs a fresh encoding.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex, TryLockError};

/// An adapter's state between the requests of one run, shared by the requests cloned from
/// one another. A new cache is empty; the controller gives each run one.
#[derive(Clone, Default)]
pub struct WireCache(Arc<Mutex<Option<Box<dyn Any + Send>>>>);

impl WireCache {
    /// Runs `f` on the state of type `T` this cache holds, first made with `T::default()`
    /// if it holds none or another type. If the cache is in use elsewhere, `f` gets a
    /// fresh `T` that is then dropped; if an earlier user panicked, the state starts over.
    pub fn with<T: Any + Send + Default, R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = match self.0.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::WouldBlock) => return f(&mut T::default()),
            Err(TryLockError::Poisoned(poisoned)) => {
                // A panic part-way through an update: nothing in it can be trusted.
                let mut guard = poisoned.into_inner();
                *guard = None;
                self.0.clear_poison();
                guard
            }
        };
        let slot = &mut *guard;
        if !slot.as_ref().is_some_and(|state| state.is::<T>()) {
            *slot = Some(Box::new(T::default()));
        }
        match slot.as_mut().and_then(|state| state.downcast_mut::<T>()) {
            Some(state) => f(state),
            // Unreachable (the slot was just filled with a T), but never worth a panic.
            None => f(&mut T::default()),
        }
    }
}

impl fmt::Debug for WireCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WireCache")
    }
}

/// Caches never make two requests differ.
impl PartialEq for WireCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_kept_between_uses_and_shared_by_clones() {
        let cache = WireCache::default();
        cache.with(|n: &mut u32| *n += 1);
        let clone = cache.clone();
        assert_eq!(clone.with(|n: &mut u32| *n), 1);
    }

    #[test]
    fn another_type_starts_over() {
        let cache = WireCache::default();
        cache.with(|n: &mut u32| *n = 7);
        assert_eq!(cache.with(|s: &mut String| s.len()), 0);
        assert_eq!(cache.with(|n: &mut u32| *n), 0);
    }

    #[test]
    fn a_busy_cache_gives_a_fresh_state_and_keeps_its_own() {
        let cache = WireCache::default();
        cache.with(|n: &mut u32| *n = 5);
        let inner = cache.with(|_: &mut u32| cache.with(|n: &mut u32| *n));
        assert_eq!(inner, 0);
        assert_eq!(cache.with(|n: &mut u32| *n), 5);
    }

    #[test]
    fn a_panic_mid_update_empties_the_cache() {
        let cache = WireCache::default();
        cache.with(|n: &mut u32| *n = 5);
        let panicking = cache.clone();
        let result = std::thread::spawn(move || {
            panicking.with(|n: &mut u32| {
                *n = 6;
                panic!("mid-update");
            })
        })
        .join();
        assert!(result.is_err());
        assert_eq!(cache.with(|n: &mut u32| *n), 0);
        assert!(!cache.0.is_poisoned());
    }
}
