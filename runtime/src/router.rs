//! Route matching: path patterns with `{param}` segments.
//!
//! Routes are few and matched in config order, so a linear scan over pre-split patterns is
//! both the simplest and the fastest choice.

use std::sync::Arc;

/// A parsed path pattern such as `/v1/events/{source}`. In the config it is the pattern's
/// text, parsed (and refused with the reason) when the config is read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
}

impl TryFrom<String> for PathPattern {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        PathPattern::parse(&text)
    }
}

impl From<PathPattern> for String {
    fn from(pattern: PathPattern) -> String {
        pattern.text
    }
}

impl std::fmt::Display for PathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl PathPattern {
    /// Parses a pattern. It must start with `/`; `{name}` must fill a whole segment.
    pub fn parse(pattern: &str) -> Result<PathPattern, String> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(format!("{pattern:?} must start with '/'"));
        };
        let mut segments = Vec::new();
        let mut seen = Vec::new();
        for part in rest.split('/') {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let ok = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !ok {
                    return Err(format!("{pattern:?}: bad parameter name {{{name}}}"));
                }
                if seen.contains(&name) {
                    return Err(format!("{pattern:?}: parameter {{{name}}} appears twice"));
                }
                seen.push(name);
                segments.push(Segment::Param(name.to_owned()));
            } else if part.contains(['{', '}']) {
                return Err(format!(
                    "{pattern:?}: a {{param}} must fill a whole path segment"
                ));
            } else {
                segments.push(Segment::Literal(part.to_owned()));
            }
        }
        Ok(PathPattern {
            text: pattern.to_owned(),
            segments,
        })
    }

    /// The names of its `{param}` segments, in path order.
    pub fn params(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(name) => Some(name.as_str()),
                Segment::Literal(_) => None,
            })
            .collect()
    }

    /// True when both patterns match exactly the same paths (parameter names aside).
    pub fn same_shape(&self, other: &PathPattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    _ => false,
                })
    }

    /// True when some path matches both patterns.
    pub fn overlaps(&self, other: &PathPattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    _ => true,
                })
    }

    /// Matches a request path, returning the decoded parameters in path order, or an error
    /// when the path matches but a parameter is not valid percent-encoded UTF-8.
    pub fn matches(&self, path: &str) -> Option<Result<Vec<(String, String)>, String>> {
        let rest = path.strip_prefix('/')?;
        let mut raw = Vec::new();
        let mut parts = rest.split('/');
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(lit) if lit == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if part.is_empty() => return None,
                Segment::Param(name) => raw.push((name, part)),
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(
            raw.into_iter()
                .map(|(name, part)| match percent_decode(part) {
                    Some(value) => Ok((name.clone(), value)),
                    None => Err(format!(
                        "path parameter {{{name}}} is not valid percent-encoded UTF-8"
                    )),
                })
                .collect(),
        )
    }
}

/// A route table over any route type `R`.
#[derive(Debug)]
pub struct Router<R> {
    routes: Vec<(PathPattern, Arc<R>)>,
}

/// The result of looking a request up.
#[derive(Debug)]
pub enum Match<R> {
    /// A route accepts this path and method.
    Found(Arc<R>, Vec<(String, String)>),
    /// Some route has this path but none accepts the method; lists the methods that would.
    MethodNotAllowed(Vec<String>),
    /// A route has this path, but a parameter cannot be decoded.
    Malformed(String),
    /// No route has this path.
    NotFound,
}

/// What the router needs to know about a route.
pub trait Methods {
    /// Methods the route accepts, upper-case.
    fn methods(&self) -> &[String];
}

impl<R: Methods> Router<R> {
    /// Builds a router; patterns are matched in the given order.
    pub fn new(routes: Vec<(PathPattern, Arc<R>)>) -> Self {
        Router { routes }
    }

    /// Finds the first route whose pattern and method match. A path with one trailing slash
    /// matches as the path without it, as REST Proxy (Jersey) matches: clients send both.
    pub fn lookup(&self, method: &str, path: &str) -> Match<R> {
        match self.lookup_exact(method, path) {
            Match::NotFound if path.len() > 1 && path.ends_with('/') => {
                self.lookup_exact(method, &path[..path.len() - 1])
            }
            found => found,
        }
    }

    fn lookup_exact(&self, method: &str, path: &str) -> Match<R> {
        let mut allowed = Vec::new();
        for (pattern, route) in &self.routes {
            if let Some(params) = pattern.matches(path) {
                if route.methods().iter().any(|m| m == method) {
                    return match params {
                        Ok(params) => Match::Found(route.clone(), params),
                        Err(reason) => Match::Malformed(reason),
                    };
                }
                allowed.extend(route.methods().iter().cloned());
            }
        }
        if allowed.is_empty() {
            Match::NotFound
        } else {
            allowed.sort();
            allowed.dedup();
            Match::MethodNotAllowed(allowed)
        }
    }

    /// The routes, in match order.
    pub fn routes(&self) -> impl Iterator<Item = &Arc<R>> {
        self.routes.iter().map(|(_, r)| r)
    }
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct R(Vec<String>);
    impl Methods for R {
        fn methods(&self) -> &[String] {
            &self.0
        }
    }

    fn router(entries: &[(&str, &[&str])]) -> Router<R> {
        Router::new(
            entries
                .iter()
                .map(|(p, ms)| {
                    let methods = ms.iter().map(|m| m.to_string()).collect();
                    (PathPattern::parse(p).unwrap(), Arc::new(R(methods)))
                })
                .collect(),
        )
    }

    #[test]
    fn params_are_extracted_and_decoded() {
        let p = PathPattern::parse("/v1/events/{source}/{kind}").unwrap();
        assert_eq!(
            p.matches("/v1/events/web%20app/click"),
            Some(Ok(vec![
                ("source".into(), "web app".into()),
                ("kind".into(), "click".into())
            ]))
        );
        assert_eq!(p.matches("/v1/events/web"), None);
        assert_eq!(p.matches("/v1/events/web/click/extra"), None);
        assert_eq!(p.matches("/v1/events//click"), None);
        assert!(matches!(p.matches("/v1/events/%zz/click"), Some(Err(_))));
        assert!(matches!(p.matches("/v1/events/%ff/click"), Some(Err(_))));
    }

    #[test]
    fn overlap_means_some_path_matches_both() {
        let p = |s| PathPattern::parse(s).unwrap();
        assert!(p("/topics/{t}").overlaps(&p("/{a}/orders")));
        assert!(!p("/topics/{t}").overlaps(&p("/v1/{t}")));
        assert!(!p("/topics").overlaps(&p("/topics/{t}")));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(PathPattern::parse("v1/events").is_err());
        assert!(PathPattern::parse("/v1/x{y}").is_err());
        assert!(PathPattern::parse("/v1/{a}/{a}").is_err());
        assert!(PathPattern::parse("/v1/{}").is_err());
    }

    #[test]
    fn method_mismatch_lists_allowed_methods() {
        let r = router(&[("/a/{x}", &["POST"]), ("/a/{y}", &["PUT", "POST"])]);
        assert!(matches!(r.lookup("POST", "/a/1"), Match::Found(..)));
        match r.lookup("GET", "/a/1") {
            Match::MethodNotAllowed(m) => assert_eq!(m, vec!["POST", "PUT"]),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(r.lookup("POST", "/b"), Match::NotFound));
    }

    #[test]
    fn first_matching_route_wins() {
        let r = router(&[("/a/fixed", &["POST"]), ("/a/{x}", &["POST"])]);
        match r.lookup("POST", "/a/fixed") {
            Match::Found(_, params) => assert!(params.is_empty()),
            other => panic!("unexpected {other:?}"),
        }
    }
}
