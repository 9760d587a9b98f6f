//! Any JSON as a caller's patch: the validator accepts it or answers
//! ERR_LD_INVALID_ARGUMENT naming the argument, never panics.
#![no_main]

use ld_release_core::error::ErrorCode;
use ld_release_core::patch::parse_patch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
    return;
  };
  match parse_patch("patch", &value) {
    Ok(ops) => {
      assert!(!ops.is_empty());
      for op in ops {
        assert!(op.path.is_empty() || op.path.starts_with('/'));
      }
    }
    Err(error) => {
      assert_eq!(error.code, ErrorCode::InvalidArgument);
      assert!(error.message.starts_with("patch"), "{}", error.message);
    }
  }
});
