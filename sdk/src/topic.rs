//! Topic names and the patterns of allow-lists: an exact topic name, or a prefix ending in `*`
//! (`events.*` allows `events.web` and `events.mobile`; `*` allows every topic).

/// Kafka's rule for topic names: 1 to 249 characters of a-z, A-Z, 0-9, `.`, `_` and `-`, and
/// neither `.` nor `..`. The gateway applies this very rule when a filter sets a topic, and
/// stops a filter that sets another (500 `filter_invalid_output`): check names a client chose
/// here first, to answer the client instead.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 249 || !is_legal_text(name) || name == "." || name == ".." {
        return Err(format!(
            "{name:?} is not a Kafka topic name (1 to 249 characters of a-z, A-Z, 0-9, '.', '_', '-')"
        ));
    }
    Ok(())
}

/// True when every character of `text` may appear in a topic name (a-z, A-Z, 0-9, `.`, `_`,
/// `-`): for parts of names, such as a template's fixed text.
pub fn is_legal_text(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// True when `topic` is allowed by `pattern`.
pub fn matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.starts_with(prefix),
        None => pattern == topic,
    }
}

/// True when some pattern of `patterns` allows `topic`.
pub fn allowed<S: AsRef<str>>(patterns: &[S], topic: &str) -> bool {
    patterns.iter().any(|p| matches(p.as_ref(), topic))
}

/// Checks a pattern from a filter's config: a legal topic name (a-z, A-Z, 0-9, `.`, `_`, `-`,
/// 1 to 249 characters), optionally ending in `*`.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let name = pattern.strip_suffix('*').unwrap_or(pattern);
    if (name.is_empty() && !pattern.ends_with('*')) || name.len() > 249 || !is_legal_text(name) {
        return Err(format!(
            "{pattern:?} is neither a topic name nor a prefix ending in * (use a-z, A-Z, 0-9, '.', '_', '-')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_prefixes() {
        assert!(matches("events.web", "events.web"));
        assert!(!matches("events.web", "events.web2"));
        assert!(matches("events.*", "events.web"));
        assert!(!matches("events.*", "orders"));
        assert!(matches("*", "anything"));
        assert!(allowed(&["a", "b.*"], "b.c"));
        assert!(!allowed::<&str>(&[], "a"));
    }

    #[test]
    fn names_follow_kafkas_rule() {
        assert!(check_name("events.web-1_x").is_ok());
        assert!(check_name(&"a".repeat(249)).is_ok());
        for bad in ["", ".", "..", "a b", "ä", "a/b", &"a".repeat(250)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn patterns_are_checked() {
        assert!(check_pattern("events.*").is_ok());
        assert!(check_pattern("*").is_ok());
        assert!(check_pattern("orders").is_ok());
        assert!(check_pattern("").is_err());
        assert!(check_pattern("a b").is_err());
        assert!(check_pattern("a*b").is_err());
    }
}
