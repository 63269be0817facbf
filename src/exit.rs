//! hot's exit statuses: one home for every module that ends a run (the engine, the driver, the
//! command line, `hot init`). A leaf: it imports nothing.

/// Everything asked for succeeded.
pub(crate) const OK: u8 = 0;
/// A task failed, or hot could not do what was asked at run time.
pub(crate) const FAILED: u8 = 1;
/// A usage or Hotfile error.
pub(crate) const USAGE: u8 = 2;
/// Stopped by SIGHUP, SIGINT or SIGTERM: 128 + the signal's number, as shells report it.
pub(crate) const SIGHUP: u8 = 129;
pub(crate) const SIGINT: u8 = 130;
pub(crate) const SIGTERM: u8 = 143;
