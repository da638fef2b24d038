//! Risk-based inspection planning (双随机 with a risk weighting): every key unit is inspected
//! at a base frequency, and more often after problems.

use serde::{Deserialize, Serialize};

/// A unit that may be inspected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanUnit {
    /// Enterprise credit code.
    pub enterprise: String,
    /// Name.
    pub name: String,
    /// District.
    pub district: String,
    /// Whether it is a key unit (key air, water, soil or risk unit in the registry).
    pub key_unit: bool,
    /// Cases opened about it in the last 12 months.
    pub cases_12m: u32,
    /// Alarms raised on its points in the last 12 months.
    pub alarms_12m: u32,
}

/// How often to inspect. The defaults are a proposal, configurable: key units twice a year,
/// other units with problems once; one more visit per case and one per 10 alarms in the last 12
/// months; at most one a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanPolicy {
    /// Visits a year for a key unit.
    pub key_unit_visits: u32,
    /// Visits a year for a unit that is not key but had problems.
    pub problem_unit_visits: u32,
    /// Extra visits per case in the last 12 months.
    pub visits_per_case: u32,
    /// Alarms that earn one extra visit.
    pub alarms_per_visit: u32,
    /// The most visits a year.
    pub max_visits: u32,
}

impl Default for PlanPolicy {
    fn default() -> Self {
        Self {
            key_unit_visits: 2,
            problem_unit_visits: 1,
            visits_per_case: 1,
            alarms_per_visit: 10,
            max_visits: 12,
        }
    }
}

/// One unit's visits for the year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedInspection {
    /// Enterprise credit code.
    pub enterprise: String,
    /// Name.
    pub name: String,
    /// District.
    pub district: String,
    /// Number of visits.
    pub visits: u32,
    /// Planned dates, `YYYY-MM-DD` (Beijing calendar), spread over the year.
    pub dates: Vec<String>,
    /// Why this many: base and problems.
    pub reason: String,
}

/// The schedule for `year`: units with no visit are left out; the most visited first. Dates are
/// spread evenly over the year with an offset derived from the credit code, so units do not all
/// fall on the same day and the plan is the same each time it is computed.
pub fn plan(units: &[PlanUnit], year: u16, policy: &PlanPolicy) -> Vec<PlannedInspection> {
    let Some(first) = bjtime::Date::new(i32::from(year), 1, 1) else {
        return Vec::new();
    };
    let days_in_year: i64 = if bjtime::Date::new(i32::from(year), 2, 29).is_some() {
        366
    } else {
        365
    };
    let mut out: Vec<PlannedInspection> = units
        .iter()
        .filter_map(|u| {
            let base = if u.key_unit {
                policy.key_unit_visits
            } else if u.cases_12m > 0 || u.alarms_12m > 0 {
                policy.problem_unit_visits
            } else {
                0
            };
            let extra = u.cases_12m.saturating_mul(policy.visits_per_case)
                + u.alarms_12m / policy.alarms_per_visit.max(1);
            let visits = base.saturating_add(extra).min(policy.max_visits);
            if visits == 0 {
                return None;
            }
            let spacing = days_in_year / i64::from(visits);
            let offset = i64::from(stable_hash(&u.enterprise) % spacing.max(1) as u32);
            let dates = (0..i64::from(visits))
                .filter_map(|k| first.add_days(offset + k * spacing))
                .map(|d| d.to_string())
                .collect();
            Some(PlannedInspection {
                enterprise: u.enterprise.clone(),
                name: u.name.clone(),
                district: u.district.clone(),
                visits,
                dates,
                reason: format!(
                    "{} base{}; {} case(s), {} alarm(s) in 12 months",
                    base,
                    if u.key_unit { " (key unit)" } else { "" },
                    u.cases_12m,
                    u.alarms_12m
                ),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.visits
            .cmp(&a.visits)
            .then_with(|| a.enterprise.cmp(&b.enterprise))
    });
    out
}

/// FNV-1a: a hash that is the same on every machine and run.
fn stable_hash(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
