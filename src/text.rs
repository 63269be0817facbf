//! [`Text`]: a string of the Hotfile as the model keeps it.
//!
//! A 500-node Hotfile's model held ~7,000 heap strings (each name, `run`, glob, `env` key and
//! value), most of the allocations and fresh heap pages of a one-shot `hot check`, `hot ci
//! --dry-run` or `hot graph`. A `Text` is a range of the Hotfile's text, which the model shares
//! (one reference count, no copy); a value that is not written as-is in the text (an escaped
//! string, one built by hand) owns its own.

use std::borrow::Borrow;
use std::ffi::OsStr;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

/// A shared, immutable string: `Deref<Target = str>`, compared, hashed and shown as its `str`.
/// As large as a `String`.
#[derive(Clone)]
pub struct Text {
    source: Arc<String>,
    range: std::ops::Range<usize>,
}

impl Text {
    /// `value` as a range of `source` when it lies within it (a string the Hotfile's reader
    /// borrowed from the text), else a copy of it.
    pub fn within(source: &Arc<String>, value: &str) -> Text {
        let start = (value.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
        match start.checked_add(value.len()) {
            Some(end) if end <= source.len() => Text {
                source: source.clone(),
                range: start..end,
            },
            _ => Text::from(value),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source[self.range.clone()]
    }
}

impl From<String> for Text {
    fn from(value: String) -> Text {
        Text {
            range: 0..value.len(),
            source: Arc::new(value),
        }
    }
}

impl From<&str> for Text {
    fn from(value: &str) -> Text {
        Text::from(value.to_owned())
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self
    }
}

impl AsRef<OsStr> for Text {
    fn as_ref(&self) -> &OsStr {
        OsStr::new(self.as_str())
    }
}

impl AsRef<Path> for Text {
    fn as_ref(&self) -> &Path {
        Path::new(self.as_str())
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::from(String::new())
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    // As the `str`'s, so a map keyed by `Text` is looked up by `&str` (`Borrow`).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_inside_the_source_shares_it_and_one_outside_is_copied() {
        let source = Arc::new("task \"build\" {}".to_owned());
        let inside = Text::within(&source, &source[6..11]);
        assert_eq!(inside, "build");
        assert!(Arc::ptr_eq(&inside.source, &source));
        let elsewhere = "build".to_owned();
        let outside = Text::within(&source, &elsewhere);
        assert_eq!(outside, "build");
        assert!(!Arc::ptr_eq(&outside.source, &source));
    }

    #[test]
    fn an_empty_value_at_the_source_end_is_inside_it() {
        let source = Arc::new("ab".to_owned());
        let end = Text::within(&source, &source[2..]);
        assert_eq!(end, "");
        assert!(Arc::ptr_eq(&end.source, &source));
    }
}
