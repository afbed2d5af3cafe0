//! Seed files: any bytes as a YAML or JSON seed (the first byte picks which), loaded into a
//! fresh app. Loading either creates the secrets or answers a `SeedError`; it never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smemu::App;
use smemu::clock::{Clock, Timestamp};
use smemu::config::Config;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let dir = smemu_fuzz::TempDir::new("seed");
    let name = if pick & 1 == 0 { "seed.yaml" } else { "seed.json" };
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the seed file");
    let app = App::new(Config::default(), Arc::new(Clock::manual(Timestamp(1_767_225_600_000))));
    if smemu::seed::load(&app, &path).is_ok() {
        // Seeding is idempotent: a second load creates nothing.
        assert_eq!(smemu::seed::load(&app, &path).ok(), Some(0), "a second load of the same seed created secrets");
    }
});
