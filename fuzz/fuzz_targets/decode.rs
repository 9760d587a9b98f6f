//! Any bytes as a 200 body: the decoder returns a Release or ERR_LD_DECODE, never panics.
#![no_main]

use ld_release::error::ErrorCode;
use ld_release::release::decode_release;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  match decode_release(data, 200) {
    Ok(release) => {
      // What decodes must encode again and decode to the same value.
      let again = serde_json::to_vec(&release).expect("a decoded release encodes");
      assert_eq!(decode_release(&again, 200).expect("round trip"), release);
    }
    Err(error) => assert_eq!(error.code, ErrorCode::Decode),
  }
});
