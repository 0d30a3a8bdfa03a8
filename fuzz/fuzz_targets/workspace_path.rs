//! `WorkspacePath::new`: never panics; anything accepted is relative,
//! normalised, `/`-separated, stays inside the project, and round-trips.
#![no_main]

use cloesce_engine::path::is_absolute;
use cloesce_engine::WorkspacePath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = WorkspacePath::new(raw) {
        let s = path.as_str();
        assert!(!s.is_empty());
        assert!(!is_absolute(s), "{raw:?} -> {s:?} is absolute");
        assert!(!s.contains('\\') && !s.contains('\0'));
        for segment in s.split('/') {
            assert!(!segment.is_empty() && segment != "." && segment != "..");
        }
        assert_eq!(WorkspacePath::new(s).as_ref(), Ok(&path), "not idempotent");
        let _ = path.parent();
        let _ = path.join("x");
    }
});
