//! The health score: `100 − min(Σ weight × magnitude / pods, 100)`, with integer division, 100 for
//! no pods; and the status class a score falls in.

use std::collections::BTreeMap;

/// Pods and weighted findings of one scope (a namespace, the cluster).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub pods: u64,
    /// Σ weight × magnitude.
    pub raw: u64,
    /// Σ magnitude per check id.
    pub checks: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add_finding(&mut self, check: &str, weight: u32, magnitude: u32) {
        self.raw += u64::from(weight) * u64::from(magnitude);
        match self.checks.get_mut(check) {
            Some(total) => *total += u64::from(magnitude),
            None => {
                self.checks.insert(check.to_owned(), u64::from(magnitude));
            }
        }
    }

    /// Takes back a finding added by [`Tally::add_finding`]; a check whose total falls to 0
    /// leaves the map, so a tally built incrementally equals one built from scratch.
    pub fn remove_finding(&mut self, check: &str, weight: u32, magnitude: u32) {
        self.raw = self
            .raw
            .saturating_sub(u64::from(weight) * u64::from(magnitude));
        if let Some(total) = self.checks.get_mut(check) {
            *total = total.saturating_sub(u64::from(magnitude));
            if *total == 0 {
                self.checks.remove(check);
            }
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.pods += other.pods;
        self.raw += other.raw;
        for (check, magnitude) in &other.checks {
            *self.checks.entry(check.clone()).or_default() += magnitude;
        }
    }

    pub fn score(&self) -> u8 {
        score(self.raw, self.pods)
    }

    /// Σ magnitude of `check`, 0 when it found nothing.
    pub fn check(&self, check: &str) -> u64 {
        self.checks.get(check).copied().unwrap_or(0)
    }
}

/// The health score of `pods` pods whose weighted findings add up to `raw`.
pub fn score(raw: u64, pods: u64) -> u8 {
    if pods == 0 {
        return 100;
    }
    (100 - (raw / pods).min(100)) as u8
}

/// The status class of a score: 80–100 Healthy, 60–79 Stable, 40–59 Degraded, 0–39 Critical.
pub fn status(score: u8) -> &'static str {
    match score {
        80.. => "Healthy",
        60..=79 => "Stable",
        40..=59 => "Degraded",
        _ => "Critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_pods_is_a_perfect_score() {
        assert_eq!(score(0, 0), 100);
        assert_eq!(score(50, 0), 100);
    }

    #[test]
    fn per_pod_penalty_uses_integer_division_and_caps_at_100() {
        assert_eq!(score(27, 2), 87); // 27 / 2 = 13
        assert_eq!(score(1, 2), 100); // 1 / 2 = 0
        assert_eq!(score(1000, 3), 0);
    }

    #[test]
    fn status_boundaries() {
        assert_eq!(
            [
                status(100),
                status(80),
                status(79),
                status(60),
                status(59),
                status(40),
                status(39),
                status(0)
            ],
            [
                "Healthy", "Healthy", "Stable", "Stable", "Degraded", "Degraded", "Critical",
                "Critical"
            ]
        );
    }

    #[test]
    fn tally_weights_magnitudes() {
        let mut tally = Tally {
            pods: 1,
            ..Tally::default()
        };
        tally.add_finding("high-restarts", 6, 5);
        tally.add_finding("latest-tag", 5, 1);
        assert_eq!(tally.raw, 35);
        assert_eq!(tally.check("high-restarts"), 5);
        assert_eq!(tally.score(), 65);
    }

    #[test]
    fn removing_a_finding_undoes_adding_it() {
        let mut tally = Tally::default();
        tally.add_finding("latest-tag", 5, 1);
        let before = tally.clone();
        tally.add_finding("high-restarts", 6, 5);
        tally.remove_finding("high-restarts", 6, 5);
        assert_eq!(tally, before);
    }
}
