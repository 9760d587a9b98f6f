//! Any bytes as a 200 body: the release check returns a Release or ERR_LD_DECODE, never
//! panics; what it accepts is JSON, and so is what it hands on.
#![no_main]

use ld_release_core::error::ErrorCode;
use ld_release_core::release::Release;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  match Release::from_body(data.to_vec(), 200) {
    Ok(release) => {
      let value: serde_json::Value =
        serde_json::from_str(release.json()).expect("a checked release is JSON");
      assert!(value.is_object(), "a checked release is an object");
      match release.view() {
        Ok(view) => assert!(view.phases.len() <= data.len()),
        Err(error) => assert_eq!(error.code, ErrorCode::Decode),
      }
    }
    Err(error) => assert_eq!(error.code, ErrorCode::Decode),
  }
});
