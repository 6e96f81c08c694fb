//! `--set key=value` overrides, type-checked against the study's config.
//!
//! The key must exist in the profile's config (dotted paths reach into nested structs); the value
//! is parsed according to the type the key already has; the result must deserialize into the
//! study's typed `Config`. Anything else is a [`BadInput`] naming the accepted keys.
use crate::error::BadInput;
use serde_json::Value;

/// Split `key=value`.
pub fn parse_assignment(s: &str) -> Result<(String, String), BadInput> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(BadInput::new(format!("--set expects key=value, got `{s}`"))),
    }
}

/// Every settable key of a config (dotted paths), for error messages and `repro list --keys`.
pub fn keys(v: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, x) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                if matches!(x, Value::Object(_)) {
                    walk(x, &p, out);
                } else {
                    out.push(p);
                }
            }
        }
    }
    let mut out = vec![];
    walk(v, "", &mut out);
    out
}

fn parse_like(old: &Value, raw: &str, key: &str) -> Result<Value, BadInput> {
    let bad = |what: &str| BadInput::new(format!("bad value for `{key}`: `{raw}` is not {what}"));
    Ok(match old {
        Value::Bool(_) => Value::Bool(raw.parse::<bool>().map_err(|_| bad("a boolean (true/false)"))?),
        // Integers: the typed config decides the sign (a negative value for a usize is rejected there).
        Value::Number(n) if n.is_u64() || n.is_i64() => match raw.parse::<u64>() {
            Ok(u) => Value::from(u),
            Err(_) => Value::from(raw.parse::<i64>().map_err(|_| bad("an integer"))?),
        },
        Value::Number(_) => {
            let x: f64 = raw.parse().map_err(|_| bad("a number"))?;
            serde_json::Number::from_f64(x).map(Value::Number).ok_or_else(|| bad("a finite number"))?
        }
        // `uniform`, or the JSON string `"uniform"` (as `repro config` prints it).
        Value::String(_) => match serde_json::from_str::<String>(raw) {
            Ok(text) if raw.starts_with('"') => Value::String(text),
            _ => Value::String(raw.to_string()),
        },
        Value::Array(items) => {
            if raw.starts_with('[') {
                serde_json::from_str(raw).map_err(|_| bad("a JSON list"))?
            } else {
                let proto = items.first().cloned().unwrap_or(Value::Null);
                let parts: Result<Vec<Value>, BadInput> = raw
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| match &proto {
                        Value::Null => Ok(serde_json::from_str(p.trim()).unwrap_or(Value::String(p.trim().into()))),
                        pr => parse_like(pr, p.trim(), key),
                    })
                    .collect();
                Value::Array(parts?)
            }
        }
        Value::Null | Value::Object(_) => serde_json::from_str(raw).unwrap_or(Value::String(raw.to_string())),
    })
}

/// Apply `sets` to `cfg` in order.
pub fn apply(cfg: &mut Value, sets: &[(String, String)], study: &str) -> Result<(), BadInput> {
    let accepted = keys(cfg);
    for (key, raw) in sets {
        let mut slot = &mut *cfg;
        for part in key.split('.') {
            slot = match slot.get_mut(part) {
                Some(s) => s,
                None => {
                    return Err(BadInput::new(format!(
                        "unknown --set key `{key}` for study {study}; accepted keys: {}",
                        accepted.join(", ")
                    )));
                }
            };
        }
        if matches!(slot, Value::Object(_)) {
            return Err(BadInput::new(format!(
                "--set key `{key}` is a group; set one of its fields ({})",
                keys(slot).join(", ")
            )));
        }
        *slot = parse_like(slot, raw, key)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> Value {
        json!({"steps": 100, "lr": 0.1, "name": "x", "flag": false, "widths": [8, 16], "inner": {"k": 3}, "shift": -1})
    }

    #[test]
    fn applies_typed_values() {
        let mut c = cfg();
        let sets: Vec<(String, String)> =
            ["steps=7", "lr=1e-3", "name=y", "flag=true", "widths=1,2,3", "inner.k=5", "shift=-4"]
                .iter()
                .map(|s| parse_assignment(s).unwrap())
                .collect();
        apply(&mut c, &sets, "demo").unwrap();
        assert_eq!(
            c,
            json!({"steps": 7, "lr": 0.001, "name": "y", "flag": true, "widths": [1, 2, 3], "inner": {"k": 5}, "shift": -4})
        );
        let mut c = cfg();
        apply(&mut c, &[("widths".into(), "[4]".into())], "demo").unwrap();
        assert_eq!(c["widths"], json!([4]));
        // A string as `repro config` prints it (JSON, quoted) is the same string; a quote that
        // does not make a JSON string stays part of the text.
        for (raw, want) in [("\"y\"", "y"), ("\"a,b\"", "a,b"), ("\"half", "\"half"), ("y\"", "y\"")] {
            let mut c = cfg();
            apply(&mut c, &[("name".into(), raw.into())], "demo").unwrap();
            assert_eq!(c["name"], json!(want), "{raw}");
        }
    }

    #[test]
    fn rejects_unknown_and_mistyped() {
        let e = apply(&mut cfg(), &[("stpes".into(), "1".into())], "demo").unwrap_err();
        assert!(e.0.contains("unknown --set key `stpes`") && e.0.contains("steps"), "{e}");
        assert!(apply(&mut cfg(), &[("steps".into(), "1.5".into())], "demo").is_err());
        assert!(apply(&mut cfg(), &[("lr".into(), "fast".into())], "demo").is_err());
        assert!(apply(&mut cfg(), &[("flag".into(), "yes".into())], "demo").is_err());
        assert!(apply(&mut cfg(), &[("widths".into(), "1,a".into())], "demo").is_err());
        assert!(apply(&mut cfg(), &[("inner".into(), "1".into())], "demo").is_err());
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=3").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_integer_roundtrips(n in 0u64..u64::MAX) {
            let mut c = cfg();
            apply(&mut c, &[("steps".into(), n.to_string())], "demo").unwrap();
            proptest::prop_assert_eq!(c["steps"].as_u64(), Some(n));
        }
        #[test]
        fn any_float_roundtrips(x in -1e300f64..1e300) {
            let mut c = cfg();
            apply(&mut c, &[("lr".into(), format!("{x:e}"))], "demo").unwrap();
            proptest::prop_assert_eq!(c["lr"].as_f64(), Some(x));
        }
    }
}
