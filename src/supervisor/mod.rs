//! Processes: spawning nodes in their own process groups, stopping them, reporting exits.
