//! Any text as a simulation file: parsed and validated, it must give a simulation or an
//! error, never a panic, and every error must name a field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match devsim::config::parse_simulation(text) {
        Ok(sim) => {
            if let Err(e) = devsim::config::validate(&sim) {
                assert!(!e.to_string().is_empty());
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
