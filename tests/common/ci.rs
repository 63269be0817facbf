//! One rule for every test binary: the tests run in CI when `CI=true` (as `.ci/run` and the
//! usual CI services set it). There a missing tool fails the test instead of skipping it.

/// Whether the tests run in CI.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}
