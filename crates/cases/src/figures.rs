//! The plan's figures over a set of cases.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Case, CaseState, Mode};

/// Figures for one group of cases (the city, a district, an enterprise).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupFigures {
    /// Cases in the group.
    pub cases: u32,
    /// Cases not closed.
    pub open: u32,
    /// Closed cases.
    pub closed: u32,
    /// Closed cases handled off-site.
    pub closed_off_site: u32,
    /// `closed_off_site / closed` (none without closed cases).
    pub off_site_share: Option<f64>,
    /// Open cases past their current deadline.
    pub overdue: u32,
    /// Median hours from opening to first dispatch, over dispatched cases.
    pub median_hours_to_dispatch: Option<f64>,
    /// Median hours from opening to closure, over closed cases.
    pub median_hours_to_close: Option<f64>,
}

/// The figures of [`figures`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// The whole set.
    pub total: GroupFigures,
    /// The off-site share the plan asks for (0.4).
    pub off_site_target: f64,
    /// Whether the city meets it (none without closed cases).
    pub meets_off_site_target: Option<bool>,
    /// By district (cases without a district under `""`).
    pub by_district: BTreeMap<String, GroupFigures>,
    /// By enterprise credit code (cases without one are left out).
    pub by_enterprise: BTreeMap<String, GroupFigures>,
}

#[derive(Default)]
struct Acc {
    f: GroupFigures,
    to_dispatch: Vec<f64>,
    to_close: Vec<f64>,
}

impl Acc {
    fn add(&mut self, c: &Case, now_ms: i64) {
        let hours = |ms: i64| ms as f64 / 3_600_000.0;
        self.f.cases += 1;
        if c.state == CaseState::Closed {
            self.f.closed += 1;
            if c.mode != Some(Mode::OnSite) {
                self.f.closed_off_site += 1;
            }
        } else {
            self.f.open += 1;
        }
        if c.overdue(now_ms).is_some() {
            self.f.overdue += 1;
        }
        if let Some(d) = c.dispatched_ms {
            self.to_dispatch.push(hours(d - c.opened_ms));
        }
        if let Some(cl) = c.closed_ms {
            self.to_close.push(hours(cl - c.opened_ms));
        }
    }

    fn finish(mut self) -> GroupFigures {
        self.f.off_site_share = (self.f.closed > 0)
            .then(|| f64::from(self.f.closed_off_site) / f64::from(self.f.closed));
        self.f.median_hours_to_dispatch = median(&mut self.to_dispatch);
        self.f.median_hours_to_close = median(&mut self.to_close);
        self.f
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Figures over `cases` at `now_ms`. A closed case counts as off-site unless it had an
/// inspection (in handling or as the verification): a case closed after an off-site review, or
/// straight from the review, was handled without a visit.
pub fn figures(cases: &[Case], now_ms: i64, off_site_target: f64) -> Figures {
    let mut total = Acc::default();
    let mut by_district: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_enterprise: BTreeMap<String, Acc> = BTreeMap::new();
    for c in cases {
        total.add(c, now_ms);
        by_district
            .entry(c.district.clone().unwrap_or_default())
            .or_default()
            .add(c, now_ms);
        if let Some(e) = &c.enterprise {
            by_enterprise.entry(e.clone()).or_default().add(c, now_ms);
        }
    }
    let total = total.finish();
    Figures {
        meets_off_site_target: total.off_site_share.map(|s| s >= off_site_target),
        total,
        off_site_target,
        by_district: by_district
            .into_iter()
            .map(|(k, a)| (k, a.finish()))
            .collect(),
        by_enterprise: by_enterprise
            .into_iter()
            .map(|(k, a)| (k, a.finish()))
            .collect(),
    }
}
