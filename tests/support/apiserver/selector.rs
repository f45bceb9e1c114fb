//! `labelSelector` and `fieldSelector` of lists and watches, in the API server's syntax:
//! `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)` for labels; `path=value`,
//! `path==value`, `path!=value` for fields (any dotted path, where the real server allows a few
//! per kind).

use serde_json::Value;

/// The requirements of both selectors; an object matches when it meets all of them.
#[derive(Debug, Default)]
pub struct Selectors {
    labels: Vec<(String, LabelTest)>,
    fields: Vec<FieldTest>,
}

#[derive(Debug)]
enum LabelTest {
    Exists,
    Absent,
    In(Vec<String>),
    /// Also met by objects without the label, as in Kubernetes.
    NotIn(Vec<String>),
}

#[derive(Debug)]
struct FieldTest {
    path: Vec<String>,
    value: String,
    equal: bool,
}

impl Selectors {
    /// Parses both selectors; the error is the message of a 400 answer.
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, String> {
        let labels = split_terms(labels.unwrap_or(""))
            .into_iter()
            .map(parse_label_term)
            .collect::<Result<_, _>>()?;
        let fields = split_terms(fields.unwrap_or(""))
            .into_iter()
            .map(parse_field_term)
            .collect::<Result<_, _>>()?;
        Ok(Selectors { labels, fields })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let labels_match = self.labels.iter().all(|(key, test)| {
            let value = labels.get(key).and_then(Value::as_str);
            match test {
                LabelTest::Exists => value.is_some(),
                LabelTest::Absent => value.is_none(),
                LabelTest::In(values) => value.is_some_and(|v| values.iter().any(|x| x == v)),
                LabelTest::NotIn(values) => value.is_none_or(|v| values.iter().all(|x| x != v)),
            }
        });
        labels_match
            && self.fields.iter().all(|test| {
                let found = test
                    .path
                    .iter()
                    .try_fold(object, |value, key| value.get(key));
                let text = match found {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                (text == test.value) == test.equal
            })
    }
}

/// Splits at commas outside the parentheses of `in (…)` sets.
fn split_terms(selector: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&selector[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn parse_label_term(term: &str) -> Result<(String, LabelTest), String> {
    let invalid = || format!("unable to parse requirement: {term:?}");
    if let Some(key) = term.strip_prefix('!') {
        return Ok((
            label_key(key.trim()).ok_or_else(invalid)?,
            LabelTest::Absent,
        ));
    }
    for (operator, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((key, set)) = term.split_once(operator) {
            let set = set
                .trim()
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(invalid)?;
            let values = set.split(',').map(|v| v.trim().to_owned()).collect();
            let key = label_key(key.trim()).ok_or_else(invalid)?;
            let test = if negated {
                LabelTest::NotIn(values)
            } else {
                LabelTest::In(values)
            };
            return Ok((key, test));
        }
    }
    match split_comparison(term) {
        Some((key, value, equal)) => {
            let key = label_key(key).ok_or_else(invalid)?;
            let values = vec![value.to_owned()];
            Ok((
                key,
                if equal {
                    LabelTest::In(values)
                } else {
                    LabelTest::NotIn(values)
                },
            ))
        }
        None => Ok((label_key(term).ok_or_else(invalid)?, LabelTest::Exists)),
    }
}

fn parse_field_term(term: &str) -> Result<FieldTest, String> {
    let (path, value, equal) =
        split_comparison(term).ok_or_else(|| format!("invalid selector: {term:?}"))?;
    Ok(FieldTest {
        path: path.split('.').map(str::to_owned).collect(),
        value: value.to_owned(),
        equal,
    })
}

/// `key!=value`, `key==value` or `key=value` as (key, value, is-equality).
fn split_comparison(term: &str) -> Option<(&str, &str, bool)> {
    if let Some((key, value)) = term.split_once("!=") {
        return Some((key.trim(), value.trim(), false));
    }
    let (key, value) = term.split_once("==").or_else(|| term.split_once('='))?;
    Some((key.trim(), value.trim(), true))
}

/// A plausible label key: no spaces or operator characters.
fn label_key(key: &str) -> Option<String> {
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    valid.then(|| key.to_owned())
}
