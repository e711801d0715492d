//! Topic patterns for allow-lists: an exact topic name, or a prefix ending in `*`
//! (`events.*` allows `events.web` and `events.mobile`; `*` allows every topic).

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
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if (name.is_empty() && !pattern.ends_with('*')) || name.len() > 249 || !name.chars().all(legal)
    {
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
    fn patterns_are_checked() {
        assert!(check_pattern("events.*").is_ok());
        assert!(check_pattern("*").is_ok());
        assert!(check_pattern("orders").is_ok());
        assert!(check_pattern("").is_err());
        assert!(check_pattern("a b").is_err());
        assert!(check_pattern("a*b").is_err());
    }
}
