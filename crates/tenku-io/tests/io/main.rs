//! Integration tests for tenku-io (one binary, so OpenH264 is linked once).

mod common;
mod errors;
mod external;
mod roundtrip;
