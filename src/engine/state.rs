//! The engine's state and transitions.

/// The scheduler.
#[derive(Debug)]
pub struct Engine {}
