//! Random bytes for key material, data keys, nonces and identifiers: the operating system's
//! (through `ring`), drawn 4 KiB at a time per thread instead of one system call per draw — a
//! PutSecretValue needs three (its data key and two nonces). Each byte is handed out once and
//! wiped from the pool as it is, so no key or nonce stays behind in it.

use ring::rand::{SecureRandom, SystemRandom};
use std::cell::RefCell;
use zeroize::{Zeroize, Zeroizing};

const POOL_LEN: usize = 4096;
/// Draws larger than this go to the system directly.
const MAX_POOLED: usize = 256;

struct Pool {
    bytes: Zeroizing<[u8; POOL_LEN]>,
    /// Where the bytes not yet handed out start.
    next: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool { bytes: Zeroizing::new([0; POOL_LEN]), next: POOL_LEN });
}

/// The operating system's random source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// Fills `dest` with random bytes.
///
/// # Errors
/// When the operating system gives none.
pub fn fill(dest: &mut [u8]) -> Result<(), Unavailable> {
    if dest.len() > MAX_POOLED {
        return SystemRandom::new().fill(dest).map_err(|_| Unavailable);
    }
    POOL.with_borrow_mut(|pool| {
        if POOL_LEN - pool.next < dest.len() {
            SystemRandom::new().fill(pool.bytes.as_mut()).map_err(|_| Unavailable)?;
            pool.next = 0;
        }
        let taken = &mut pool.bytes[pool.next..pool.next + dest.len()];
        dest.copy_from_slice(taken);
        taken.zeroize();
        pool.next += dest.len();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_draw_is_fresh_across_refills_and_what_was_handed_out_is_wiped() {
        let mut seen = std::collections::HashSet::new();
        // Several pools' worth, in sizes that do not divide the pool, and some past the limit.
        for size in [12usize, 32, 7, 100, 256, 257, 1000].iter().cycle().take(400) {
            let mut draw = vec![0u8; *size];
            fill(&mut draw).unwrap();
            assert!(draw.iter().any(|&b| b != 0), "{size} bytes, all zero");
            assert!(seen.insert(draw), "a draw came out twice");
        }
        POOL.with_borrow(|pool| {
            assert!(pool.bytes[..pool.next].iter().all(|&b| b == 0), "handed-out bytes stay wiped");
        });
    }

    #[test]
    fn an_empty_draw_takes_nothing() {
        fill(&mut []).unwrap();
    }
}
