//! How well the fraud rules find labelled incidents: precision of their clues and recall of the
//! incidents, per rule, per kind of incident and overall.
//!
//! A clue (an alarm of a fraud rule, from its first window's start to its last window's end) is
//! true when it names a point that has a labelled fraud incident whose time overlaps the clue's,
//! give or take `slack_s` after the incident's end (a rule that judges a day ends its alarm up to
//! a day after the cheat stopped). Codes are not compared: a plant that freezes its SO2 analyser
//! cheats on the point, and a clue on its NOx in the same hours is evidence of the same thing.
//! An incident is found when at least one true clue overlaps it. Labels of incidents that are
//! not fraud (exceedances, silence, sudden pollution) are not scored, and clues overlapping them
//! are false.

use std::collections::BTreeMap;

use serde::Serialize;

/// A labelled incident, as the simulator writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The point.
    pub point: String,
    /// What the incident is (the simulator's kind).
    pub kind: String,
    /// Unix s, inclusive.
    pub start: i64,
    /// Unix s, exclusive.
    pub end: i64,
}

/// A clue to score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredClue {
    /// The rule that raised it.
    pub rule: String,
    /// The point.
    pub point: String,
    /// The code it is about.
    pub code: String,
    /// First window start, Unix s.
    pub start: i64,
    /// Last window end, Unix s.
    pub end: i64,
}

/// The incident kinds that are monitoring-data fraud.
pub const FRAUD_KINDS: &[&str] = &[
    "flat_line",
    "low_variance",
    "bunching",
    "o2_ambient",
    "fault_flag",
    "dilution",
    "stuck_at_detection_limit",
    "step_change",
    "stop_mark",
    "manual_entry",
    "gaps_around_exceedances",
    "water_flow",
    "digit_preference",
    "fgd_bypass",
    "sprinkling",
    "station_step",
];

/// Precision of one rule's clues.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RuleScore {
    /// Clues raised.
    pub clues: usize,
    /// Of them, true.
    pub true_clues: usize,
    /// `true_clues / clues`; `None` without clues.
    pub precision: Option<f64>,
    /// Incidents this rule found.
    pub found: usize,
}

/// Recall for one kind of incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindScore {
    /// Incidents labelled.
    pub incidents: usize,
    /// Of them, found by at least one rule.
    pub found: usize,
    /// `found / incidents`.
    pub recall: Option<f64>,
    /// The rules that found them, with how many each.
    pub by_rule: BTreeMap<String, usize>,
}

/// The whole score.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    /// Per rule.
    pub rules: BTreeMap<String, RuleScore>,
    /// Per kind of incident.
    pub kinds: BTreeMap<String, KindScore>,
    /// All clues.
    pub clues: usize,
    /// True clues.
    pub true_clues: usize,
    /// Overall precision.
    pub precision: Option<f64>,
    /// Fraud incidents labelled.
    pub incidents: usize,
    /// Of them, found.
    pub found: usize,
    /// Overall recall.
    pub recall: Option<f64>,
    /// Outlets with no fraud label.
    pub honest_outlets: usize,
    /// False clues on those outlets.
    pub false_clues_on_honest: usize,
    /// Largest number of false clues on one honest outlet.
    pub most_false_clues_on_one_honest: usize,
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Scores `clues` against `labels`; `outlets` are the points that could cheat (the sources
/// judged), for the false-clue figure of honest ones.
pub fn score(labels: &[Label], clues: &[ScoredClue], outlets: &[String], slack_s: i64) -> Score {
    let fraud: Vec<&Label> = labels
        .iter()
        .filter(|l| FRAUD_KINDS.contains(&l.kind.as_str()))
        .collect();
    let overlaps = |c: &ScoredClue, l: &Label| {
        c.point == l.point && c.start < l.end + slack_s && l.start < c.end
    };
    let mut s = Score::default();
    let mut found: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); fraud.len()];
    let mut false_per_point: BTreeMap<&str, usize> = BTreeMap::new();
    for c in clues {
        let r = s.rules.entry(c.rule.clone()).or_default();
        r.clues += 1;
        let mut true_clue = false;
        for (i, l) in fraud.iter().enumerate() {
            if overlaps(c, l) {
                true_clue = true;
                *found[i].entry(c.rule.clone()).or_default() += 1;
            }
        }
        if true_clue {
            r.true_clues += 1;
        } else {
            *false_per_point.entry(c.point.as_str()).or_default() += 1;
        }
    }
    for (i, l) in fraud.iter().enumerate() {
        let k = s.kinds.entry(l.kind.clone()).or_default();
        k.incidents += 1;
        if !found[i].is_empty() {
            k.found += 1;
        }
        for rule in found[i].keys() {
            *k.by_rule.entry(rule.clone()).or_default() += 1;
            s.rules.entry(rule.clone()).or_default().found += 1;
        }
    }
    for r in s.rules.values_mut() {
        r.precision = ratio(r.true_clues, r.clues);
    }
    for k in s.kinds.values_mut() {
        k.recall = ratio(k.found, k.incidents);
    }
    s.clues = clues.len();
    s.true_clues = s.rules.values().map(|r| r.true_clues).sum();
    s.precision = ratio(s.true_clues, s.clues);
    s.incidents = fraud.len();
    s.found = s.kinds.values().map(|k| k.found).sum();
    s.recall = ratio(s.found, s.incidents);
    let cheats: Vec<&str> = fraud.iter().map(|l| l.point.as_str()).collect();
    let honest: Vec<&String> = outlets
        .iter()
        .filter(|o| !cheats.contains(&o.as_str()))
        .collect();
    s.honest_outlets = honest.len();
    let on_honest: Vec<usize> = honest
        .iter()
        .map(|o| false_per_point.get(o.as_str()).copied().unwrap_or(0))
        .collect();
    s.false_clues_on_honest = on_honest.iter().sum();
    s.most_false_clues_on_one_honest = on_honest.iter().copied().max().unwrap_or(0);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(point: &str, kind: &str, start: i64, end: i64) -> Label {
        Label {
            point: point.into(),
            kind: kind.into(),
            start,
            end,
        }
    }

    fn clue(rule: &str, point: &str, start: i64, end: i64) -> ScoredClue {
        ScoredClue {
            rule: rule.into(),
            point: point.into(),
            code: "a21026".into(),
            start,
            end,
        }
    }

    #[test]
    fn clues_are_true_on_the_labelled_point_and_time() {
        let labels = [
            label("A", "flat_line", 1000, 2000),
            label("B", "dilution", 5000, 6000),
            label("C", "exceedance", 0, 9000),
        ];
        let outlets: Vec<String> = ["A", "B", "C", "D"].map(String::from).to_vec();
        let clues = [
            clue("flat_line", "A", 1500, 2500),
            // Within the slack after the end.
            clue("low_variance", "A", 2050, 2100),
            // Right point, wrong time.
            clue("flat_line", "A", 8000, 8100),
            // An exceedance is not fraud.
            clue("step_change", "C", 100, 200),
            clue("step_change", "D", 100, 200),
            clue("step_change", "D", 300, 400),
        ];
        let s = score(&labels, &clues, &outlets, 100);
        assert_eq!((s.clues, s.true_clues), (6, 2));
        assert_eq!(s.rules["flat_line"].precision, Some(0.5));
        assert_eq!((s.incidents, s.found), (2, 1));
        assert_eq!(s.kinds["dilution"].recall, Some(0.0));
        assert_eq!(s.kinds["flat_line"].by_rule.len(), 2);
        assert_eq!(s.honest_outlets, 2);
        assert_eq!(s.false_clues_on_honest, 3);
        assert_eq!(s.most_false_clues_on_one_honest, 2);
    }
}
