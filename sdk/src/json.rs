//! JSON helpers for filters: RFC 6901 pointers that can remove and create, not only read
//! (`serde_json::Value::pointer` reads), and a record value parsed with a clear error.

use serde_json::{Map, Value};

/// Checks a pointer from a filter's config: `""` (the whole value) or `/`-separated tokens.
pub fn check_pointer(pointer: &str) -> Result<(), String> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "{pointer:?} is not a JSON pointer such as \"/user/id\""
        ))
    }
}

/// The pointer's tokens, unescaped (`~1` is `/`, `~0` is `~`).
fn tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
}

/// Removes and returns the value at `pointer`; `None` when there is none.
pub fn take(value: &mut Value, pointer: &str) -> Option<Value> {
    if pointer.is_empty() {
        return Some(value.take());
    }
    let (parent, last) = pointer.rsplit_once('/')?;
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent)? {
        Value::Object(map) => map.remove(&last),
        Value::Array(items) => {
            let i: usize = last.parse().ok()?;
            (i < items.len()).then(|| items.remove(i))
        }
        _ => None,
    }
}

/// Sets the value at `pointer`, creating objects along the way. Fails when the path runs
/// through something that is not an object (or an existing array index).
pub fn put(value: &mut Value, pointer: &str, new: Value) -> Result<(), String> {
    let mut at = value;
    let tokens: Vec<String> = tokens(pointer).collect();
    let Some((last, parents)) = tokens.split_last() else {
        *at = new;
        return Ok(());
    };
    for token in parents {
        if at.is_null() {
            *at = Value::Object(Map::new());
        }
        at = match at {
            Value::Object(map) => map.entry(token.clone()).or_insert(Value::Null),
            Value::Array(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("{pointer}: no element {token}"))?,
            other => return Err(format!("{pointer}: {token:?} is inside {}", kind(other))),
        };
    }
    if at.is_null() {
        *at = Value::Object(Map::new());
    }
    match at {
        Value::Object(map) => {
            map.insert(last.clone(), new);
            Ok(())
        }
        Value::Array(items) => match last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
            Some(slot) => {
                *slot = new;
                Ok(())
            }
            None if last == "-" => {
                items.push(new);
                Ok(())
            }
            None => Err(format!("{pointer}: no element {last}")),
        },
        other => Err(format!(
            "{pointer}: cannot set a field inside {}",
            kind(other)
        )),
    }
}

/// "an object", "a string"...: for error messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a record value or request body as JSON; the error says what was wrong and where.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    if bytes.is_empty() {
        return Err("empty body".to_owned());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn take_removes_from_objects_and_arrays() {
        let mut v = json!({"a": {"b": 1, "c": [10, 20]}, "x/y": 2});
        assert_eq!(take(&mut v, "/a/b"), Some(json!(1)));
        assert_eq!(take(&mut v, "/a/c/0"), Some(json!(10)));
        assert_eq!(take(&mut v, "/x~1y"), Some(json!(2)));
        assert_eq!(take(&mut v, "/nope/deeper"), None);
        assert_eq!(v, json!({"a": {"c": [20]}}));
    }

    #[test]
    fn put_creates_objects_and_refuses_scalars() {
        let mut v = json!({"a": 1, "list": [1, 2]});
        put(&mut v, "/b/c/d", json!(true)).unwrap();
        put(&mut v, "/list/1", json!(5)).unwrap();
        put(&mut v, "/list/-", json!(6)).unwrap();
        assert_eq!(
            v,
            json!({"a": 1, "b": {"c": {"d": true}}, "list": [1, 5, 6]})
        );
        let err = put(&mut v, "/a/b", json!(0)).unwrap_err();
        assert!(err.contains("inside a number"), "{err}");
        put(&mut v, "", json!("whole")).unwrap();
        assert_eq!(v, json!("whole"));
    }

    #[test]
    fn pointers_and_parse_errors_are_explained() {
        assert!(check_pointer("/a").is_ok());
        assert!(check_pointer("").is_ok());
        assert!(
            check_pointer("a")
                .unwrap_err()
                .contains("not a JSON pointer")
        );
        assert_eq!(parse(b"").unwrap_err(), "empty body");
        assert!(parse(b"{").unwrap_err().starts_with("invalid JSON: EOF"));
    }
}
