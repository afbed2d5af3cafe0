//! Resource policies: the syntax check and the public-access test, on any text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smemu::services::secretsmanager::policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = policy::check(text) {
        let _ = policy::grants_public_access(&parsed);
    }
});
