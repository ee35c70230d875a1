//! Any bytes, both formats, both modes: the parser must never panic, and
//! what it returns must hold together (finite line numbers, label values
//! borrowed or unescaped, columns inside the line).
#![no_main]

use dozor_common::expo::{Format, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Text, Format::OpenMetrics] {
        for strict in [false, true] {
            let Ok(p) = Parser::from_bytes(data, format) else {
                continue;
            };
            let mut p = if strict { p.strict() } else { p };
            let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
            while let Some(r) = p.next_sample() {
                match r {
                    Ok(s) => {
                        assert!(s.line >= 1 && s.line <= lines);
                        assert!(!s.name.is_empty());
                    }
                    Err(e) => {
                        assert!(e.line <= lines + 1 && e.col >= 1);
                        break;
                    }
                }
            }
        }
    }
});
