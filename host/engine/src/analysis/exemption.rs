//! Exemption annotations, honoured the same way by every mode: a pod (or the workload whose
//! template it comes from) annotated `devops.stochastic.io/exempt: "true"` is not analysed, and
//! `devops.stochastic.io/exempt-checks: "latest-tag,pending"` drops those checks' findings.

use crate::contract::ObjectMeta;

/// Exempts the whole pod when `"true"`.
pub(crate) const EXEMPT: &str = "devops.stochastic.io/exempt";
/// A comma-separated list of check ids the pod is exempt from.
pub(crate) const EXEMPT_CHECKS: &str = "devops.stochastic.io/exempt-checks";

/// What a pod's annotations exempt it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exemption {
    None,
    /// Every check: the pod is not analysed.
    All,
    /// These checks only.
    Checks(Vec<String>),
}

impl Exemption {
    pub fn of(metadata: &ObjectMeta) -> Self {
        let annotation = |key: &str| {
            metadata
                .annotations
                .iter()
                .find(|entry| entry.key == key)
                .map(|entry| entry.value.trim())
        };
        if annotation(EXEMPT).is_some_and(|value| value.eq_ignore_ascii_case("true")) {
            return Exemption::All;
        }
        let checks: Vec<String> = annotation(EXEMPT_CHECKS)
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|check| !check.is_empty())
            .map(str::to_owned)
            .collect();
        if checks.is_empty() {
            Exemption::None
        } else {
            Exemption::Checks(checks)
        }
    }

    /// Whether findings of `check` are dropped.
    pub(crate) fn covers(&self, check: &str) -> bool {
        match self {
            Exemption::None => false,
            Exemption::All => true,
            Exemption::Checks(checks) => checks.iter().any(|exempt| exempt == check),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::KeyValue;

    fn pod(annotations: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: "p".into(),
            namespace: "default".into(),
            labels: Vec::new(),
            annotations: annotations
                .iter()
                .map(|(key, value)| KeyValue {
                    key: (*key).into(),
                    value: (*value).into(),
                })
                .collect(),
            owner_kinds: Vec::new(),
            creation_timestamp: None,
        }
    }

    #[test]
    fn exempt_true_covers_everything() {
        assert_eq!(Exemption::of(&pod(&[(EXEMPT, "true")])), Exemption::All);
        assert_eq!(Exemption::of(&pod(&[(EXEMPT, " True ")])), Exemption::All);
        assert_eq!(Exemption::of(&pod(&[(EXEMPT, "false")])), Exemption::None);
        assert_eq!(Exemption::of(&pod(&[])), Exemption::None);
    }

    #[test]
    fn exempt_checks_is_a_comma_separated_list() {
        let exemption = Exemption::of(&pod(&[(EXEMPT_CHECKS, "latest-tag, pending,,")]));
        assert!(exemption.covers("latest-tag") && exemption.covers("pending"));
        assert!(!exemption.covers("high-restarts"));
        assert_eq!(
            Exemption::of(&pod(&[(EXEMPT_CHECKS, " , ")])),
            Exemption::None
        );
    }
}
