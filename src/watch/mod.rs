//! Watching the project: notify events, filtered and debounced into change sets.
