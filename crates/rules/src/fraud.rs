//! The suspicion ranking of monitoring-data fraud: the clues (alarms of the fraud rules) of a
//! period folded per point and per enterprise into a score that combines families of evidence.
//!
//! The formula is deliberately simple, so a duty officer can check it by hand:
//! - each fraud rule kind belongs to one family (what the cheat does to the data: types values
//!   in, dilutes the gas, freezes the analyser...);
//! - a family counts once however many clues it has: 1.0 for a strong family, whose single clue
//!   is enough to act on (values typed in by hand, near-ambient O2 while running), 0.25 for the
//!   last-digit screen (a weak signal that only adds to others), 0.5 for the others, which
//!   honest faults can also produce;
//! - the score of a point is the sum over its families; of an enterprise, the sum over the
//!   families of all its points;
//! - a score of 1.0 or more makes a suspect: one strong family, or two families of the others.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::RuleKind;

/// What the cheat does to the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Values set by hand (R10).
    ManualEntry,
    /// Air let into the flue gas, or an analyser sampling room air (R5, R6).
    Dilution,
    /// The analyser frozen, held at its detection limit or in a narrow band (R1, R2, R3).
    FrozenAnalyser,
    /// The analyser's or the logger's calibration changed: a level that falls with no change
    /// of the process (R12).
    Calibration,
    /// A waste-water flow meter and analysers that contradict each other (R8).
    FlowMismatch,
    /// Running hours marked stopped, faulty or under maintenance (R9).
    Marking,
    /// Values steered to stay just under the limit (R4).
    Steering,
    /// Data withheld when the values run high (R15).
    Withholding,
    /// An air station's sampling interfered with, or its analyser re-set: its level fallen
    /// against its neighbours' (the ambient analogue of R12).
    Interference,
    /// The process's own signals contradicting its treatment: a hot gas after a wet scrubber
    /// (R7).
    Bypass,
    /// Values whose last digits are not the noise of a measurement (R13): a weak signal.
    Digits,
}

impl Family {
    /// A family whose single clue is enough to act on.
    pub fn strong(self) -> bool {
        matches!(self, Family::ManualEntry | Family::Dilution)
    }

    /// Its weight in a score.
    pub fn weight(self) -> f64 {
        match self {
            _ if self.strong() => 1.0,
            Family::Digits => 0.25,
            _ => 0.5,
        }
    }
}

/// The fraud family of a rule kind; `None` for the kinds that are not about fraud.
pub fn family(kind: RuleKind) -> Option<Family> {
    match kind {
        RuleKind::ManualEntry => Some(Family::ManualEntry),
        RuleKind::ImplausibleO2 | RuleKind::Dilution => Some(Family::Dilution),
        RuleKind::FlatLine | RuleKind::StuckAtDetectionLimit | RuleKind::LowVariance => {
            Some(Family::FrozenAnalyser)
        }
        RuleKind::StepChange => Some(Family::Calibration),
        RuleKind::WaterFlow => Some(Family::FlowMismatch),
        RuleKind::StopMark | RuleKind::MarkExceedance => Some(Family::Marking),
        RuleKind::Bunching => Some(Family::Steering),
        RuleKind::GapsAroundExceedances => Some(Family::Withholding),
        RuleKind::NeighbourDivergence => Some(Family::Interference),
        RuleKind::LastDigit => Some(Family::Digits),
        RuleKind::FgdTemperature => Some(Family::Bypass),
        _ => None,
    }
}

/// A score at which a point or an enterprise is a suspect.
pub const SUSPECT_AT: f64 = 1.0;

/// One clue: an alarm of a fraud rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Clue {
    /// The alarm.
    pub alarm_id: i64,
    /// Its rule's family.
    pub family: Family,
    /// The point.
    pub point_id: String,
    /// The enterprise the point belongs to, if any.
    pub enterprise: Option<String>,
    /// The alarm's first window start (Unix s).
    pub start: i64,
    /// The alarm's last window end (Unix s).
    pub end: i64,
}

/// A point or an enterprise with its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// The point id or the enterprise's credit code.
    pub id: String,
    /// The families seen, strongest first.
    pub families: Vec<Family>,
    /// Sum of the families' weights.
    pub score: f64,
    /// Score ≥ [`SUSPECT_AT`].
    pub suspect: bool,
    /// The clues, by alarm id.
    pub alarms: Vec<i64>,
    /// The points involved (one for a point; an enterprise's points with clues).
    pub points: Vec<String>,
    /// First clue's start (Unix s).
    pub first: i64,
    /// Last clue's end (Unix s).
    pub last: i64,
}

/// The ranking: points and enterprises with at least one clue, highest score first (then the
/// most clues, then the id).
pub fn rank(clues: &[Clue]) -> (Vec<Suspect>, Vec<Suspect>) {
    let fold = |key: &dyn Fn(&Clue) -> Option<String>| -> Vec<Suspect> {
        let mut by: BTreeMap<String, Vec<&Clue>> = BTreeMap::new();
        for c in clues {
            if let Some(k) = key(c) {
                by.entry(k).or_default().push(c);
            }
        }
        let mut out: Vec<Suspect> = by
            .into_iter()
            .map(|(id, cs)| {
                let families: BTreeSet<Family> = cs.iter().map(|c| c.family).collect();
                let mut families: Vec<Family> = families.into_iter().collect();
                families.sort_by_key(|f| (!f.strong(), *f));
                let score = families.iter().map(|f| f.weight()).sum::<f64>();
                let points: BTreeSet<String> = cs.iter().map(|c| c.point_id.clone()).collect();
                Suspect {
                    id,
                    suspect: score >= SUSPECT_AT,
                    score,
                    families,
                    alarms: cs.iter().map(|c| c.alarm_id).collect(),
                    points: points.into_iter().collect(),
                    first: cs.iter().map(|c| c.start).min().unwrap_or(0),
                    last: cs.iter().map(|c| c.end).max().unwrap_or(0),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.alarms.len().cmp(&a.alarms.len()))
                .then(a.id.cmp(&b.id))
        });
        out
    };
    (
        fold(&|c| Some(c.point_id.clone())),
        fold(&|c| c.enterprise.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clue(id: i64, family: Family, point: &str, ent: &str) -> Clue {
        Clue {
            alarm_id: id,
            family,
            point_id: point.into(),
            enterprise: Some(ent.into()),
            start: 100 * id,
            end: 100 * id + 3600,
        }
    }

    #[test]
    fn families_count_once_and_strong_signals_stand_alone() {
        let clues = [
            // p1: three frozen-analyser clues are one weak family: 0.5, not a suspect.
            clue(1, Family::FrozenAnalyser, "p1", "E1"),
            clue(2, Family::FrozenAnalyser, "p1", "E1"),
            clue(3, Family::FrozenAnalyser, "p1", "E1"),
            // p2 of the same enterprise: one dilution clue, strong on its own.
            clue(4, Family::Dilution, "p2", "E1"),
            // p3: values typed in and a frozen analyser: 1.5.
            clue(5, Family::ManualEntry, "p3", "E2"),
            clue(6, Family::FrozenAnalyser, "p3", "E2"),
        ];
        let (points, enterprises) = rank(&clues);
        let p: Vec<(&str, f64, bool)> = points
            .iter()
            .map(|s| (s.id.as_str(), s.score, s.suspect))
            .collect();
        assert_eq!(
            p,
            [("p3", 1.5, true), ("p2", 1.0, true), ("p1", 0.5, false)]
        );
        assert_eq!(
            points[0].families,
            [Family::ManualEntry, Family::FrozenAnalyser]
        );
        let e: Vec<(&str, f64)> = enterprises
            .iter()
            .map(|s| (s.id.as_str(), s.score))
            .collect();
        assert_eq!(
            e,
            [("E1", 1.5), ("E2", 1.5)],
            "E1 has more clues, so ranks first"
        );
        assert_eq!(enterprises[0].points, ["p1", "p2"]);
        assert_eq!(
            (enterprises[0].first, enterprises[0].last),
            (100, 400 + 3600)
        );
    }

    #[test]
    fn only_fraud_rules_have_a_family() {
        assert_eq!(family(RuleKind::SourceExceedance), None);
        assert_eq!(family(RuleKind::ImplausibleO2), Some(Family::Dilution));
        assert!(Family::ManualEntry.strong() && !Family::FrozenAnalyser.strong());
    }
}
