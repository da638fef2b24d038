//! # cases: the closed loop
//!
//! A case is the bureau's unit of work on one problem: opened from alarms, by hand or from a
//! registry finding; dispatched to a district and an officer; handled off-site (remote review
//! of the evidence, a notice to the enterprise) or on-site (an inspection record); a
//! rectification request with a deadline; the enterprise's response; verification (the data show
//! the problem gone for a set period, or a follow-up inspection); closure; and, when the problem
//! comes back, reopening.
//!
//! ## Events are the truth
//!
//! A case is nothing but its events ([`CaseEvent`]): who did which [`Action`] when. The current
//! [`Case`] is a fold over them ([`Case::from_events`]), and [`Case::check`] is the state machine:
//! it refuses an action that is not legal in the current state with an error that says what the
//! state is and what would be legal ([`TransitionError`]). The same fold runs when an action is
//! proposed and when a case is read, so the two cannot disagree.
//!
//! ## Tamper evidence
//!
//! Events are chained: each carries the SHA-256 of the previous event's hash and its own
//! content ([`chain_hash`], over the exact stored text of the action), so editing, removing or
//! reordering any stored event breaks every later link, and [`verify_chain`] names the first
//! broken one. The evidence package carries the chain and its verification.
//!
//! ## Deadlines, figures, planning, evidence
//!
//! [`Deadlines`] says how long each stage may take; [`Case::overdue`] says which stage is late.
//! [`figures`] computes the plan's figures (off-site share of closed cases against the 40%
//! target, time to dispatch and to close, overdue counts) for the city, per district and per
//! enterprise; [`plan`] builds a risk-based inspection schedule; [`evidence`] writes the
//! evidence package as a ZIP; [`attachment`] decides how an uploaded file may be served back. Everything here is pure: no I/O, no clock (times come in).

pub mod assemble;
pub mod attachment;
pub mod evidence;
mod figures;
mod plan;

pub use figures::{Figures, GroupFigures, figures};
pub use plan::{PlanPolicy, PlanUnit, PlannedInspection, plan};

use serde::{Deserialize, Serialize};

/// Where a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// One or more alarms.
    Alarms,
    /// Opened by hand (a complaint, a patrol, a tip-off).
    Manual,
    /// A registry finding (an outlet under remediation, an expired permit, ...).
    Registry,
}

/// How a case was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Off-site (非现场): remote review of the monitoring evidence, notices; no visit.
    OffSite,
    /// On-site: at least one inspection (in handling or as a follow-up verification).
    OnSite,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Opened, not dispatched yet.
    Open,
    /// Dispatched to a district and an officer.
    Dispatched,
    /// Reviewed off-site or inspected on-site; the officer decides what follows.
    Investigated,
    /// A rectification request is with the enterprise.
    Rectifying,
    /// The enterprise has responded; the officer verifies.
    Responded,
    /// Verified: the problem is gone.
    Verified,
    /// Closed.
    Closed,
}

impl CaseState {
    /// Every state, in the order a case moves through them.
    pub const ALL: [CaseState; 7] = [
        Self::Open,
        Self::Dispatched,
        Self::Investigated,
        Self::Rectifying,
        Self::Responded,
        Self::Verified,
        Self::Closed,
    ];

    /// The state's name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Dispatched => "dispatched",
            Self::Investigated => "investigated",
            Self::Rectifying => "rectifying",
            Self::Responded => "responded",
            Self::Verified => "verified",
            Self::Closed => "closed",
        }
    }
}

impl std::fmt::Display for CaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a verification was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMethod {
    /// The monitoring data show the problem gone for the configured period (the server checks
    /// the data before it records this).
    Data,
    /// A follow-up inspection.
    Inspection,
}

/// A file attached to a case (stored separately; the event carries its digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// Attachment id in the store.
    pub id: i64,
    /// File name as uploaded.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// A registry entry a case was opened from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRef {
    /// Registry name (`sewage_outlets`).
    pub registry: String,
    /// Entry key.
    pub id: String,
}

/// One step in a case. Serialised with an `action` tag (`{"action":"dispatched",...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The case is opened (always the first event).
    Opened {
        /// Short title.
        title: String,
        /// What the problem is.
        #[serde(default)]
        description: String,
        /// Where it came from.
        source: Source,
        /// Alarm ids, for cases from alarms.
        #[serde(default)]
        alarms: Vec<i64>,
        /// The monitoring point concerned, if any.
        #[serde(default)]
        point_id: Option<String>,
        /// The enterprise concerned (credit code), if any.
        #[serde(default)]
        enterprise: Option<String>,
        /// The district concerned.
        #[serde(default)]
        district: Option<String>,
        /// The registry entry, for cases from a registry finding.
        #[serde(default)]
        registry: Option<RegistryRef>,
    },
    /// Dispatched (or re-dispatched) to a district and an officer.
    Dispatched {
        /// District.
        district: String,
        /// The officer's user name.
        officer: String,
        /// When handling is due, Unix ms (the default deadline if absent).
        #[serde(default)]
        due_ms: Option<i64>,
    },
    /// Off-site handling: the evidence reviewed remotely, optionally a notice to the enterprise.
    OffSiteReview {
        /// What the review found.
        findings: String,
        /// The notice sent to the enterprise, if any.
        #[serde(default)]
        notice: Option<String>,
    },
    /// On-site handling: an inspection record.
    Inspection {
        /// Who inspected.
        inspector: String,
        /// When, Unix ms.
        inspected_ms: i64,
        /// What the inspection found.
        findings: String,
    },
    /// A rectification request to the enterprise.
    RectificationRequested {
        /// What must be done.
        requirement: String,
        /// By when, Unix ms.
        due_ms: i64,
    },
    /// The enterprise's response.
    Responded {
        /// What it did.
        statement: String,
        /// Files attached (photos, reports).
        #[serde(default)]
        attachments: Vec<AttachmentRef>,
    },
    /// The officer returns the response: not sufficient.
    ResponseReturned {
        /// Why.
        reason: String,
    },
    /// The problem is verified gone.
    Verified {
        /// How.
        method: VerifyMethod,
        /// What was checked (the data window and its result, or the inspection record).
        detail: String,
    },
    /// Closed.
    Closed {
        /// The conclusion.
        conclusion: String,
        /// Whether a violation was established.
        #[serde(default)]
        violation: bool,
    },
    /// Reopened after closure.
    Reopened {
        /// Why.
        reason: String,
    },
    /// The current stage passed its deadline (written by the server's deadline watch).
    Escalated {
        /// The late stage.
        stage: CaseState,
        /// Since when it is late, Unix ms.
        due_ms: i64,
    },
    /// A remark; changes nothing.
    Commented {
        /// The remark.
        text: String,
    },
}

impl Action {
    /// The action's tag (`dispatched`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "opened",
            Self::Dispatched { .. } => "dispatched",
            Self::OffSiteReview { .. } => "off_site_review",
            Self::Inspection { .. } => "inspection",
            Self::RectificationRequested { .. } => "rectification_requested",
            Self::Responded { .. } => "responded",
            Self::ResponseReturned { .. } => "response_returned",
            Self::Verified { .. } => "verified",
            Self::Closed { .. } => "closed",
            Self::Reopened { .. } => "reopened",
            Self::Escalated { .. } => "escalated",
            Self::Commented { .. } => "commented",
        }
    }

    /// The state the action leads to, from `from` (`None` if illegal there).
    pub fn next_state(&self, from: Option<CaseState>) -> Option<CaseState> {
        match (self, from) {
            (Self::Opened { .. }, None) => Some(CaseState::Open),
            (Self::Opened { .. }, Some(_)) | (_, None) => None,
            (_, Some(state)) => TRANSITIONS
                .iter()
                .find(|(name, starts, _)| *name == self.name() && starts.contains(&state))
                .map(|(_, _, to)| to.unwrap_or(state)),
        }
    }

    /// The actions a user may take in `state`, by name, for error messages and the UI
    /// (escalation is the deadline watch's, not a user's).
    pub fn legal_in(state: CaseState) -> Vec<&'static str> {
        TRANSITIONS
            .iter()
            .filter(|(name, starts, _)| *name != "escalated" && starts.contains(&state))
            .map(|(name, _, _)| *name)
            .collect()
    }

    fn check_fields(&self) -> Result<(), String> {
        let need = |name: &str, v: &str| {
            if v.trim().is_empty() {
                Err(format!("{}: {name} must not be empty", self.name()))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Opened {
                title,
                source,
                alarms,
                registry,
                ..
            } => {
                need("title", title)?;
                match source {
                    Source::Alarms if alarms.is_empty() => {
                        Err("opened from alarms: name at least one alarm".into())
                    }
                    Source::Registry if registry.is_none() => {
                        Err("opened from a registry finding: name the registry entry".into())
                    }
                    _ => Ok(()),
                }
            }
            Self::Dispatched {
                district, officer, ..
            } => {
                need("district", district)?;
                need("officer", officer)
            }
            Self::OffSiteReview { findings, .. } => need("findings", findings),
            Self::Inspection {
                inspector,
                findings,
                ..
            } => {
                need("inspector", inspector)?;
                need("findings", findings)
            }
            Self::RectificationRequested { requirement, .. } => need("requirement", requirement),
            Self::Responded { statement, .. } => need("statement", statement),
            Self::ResponseReturned { reason } | Self::Reopened { reason } => need("reason", reason),
            Self::Verified { detail, .. } => need("detail", detail),
            Self::Closed { conclusion, .. } => need("conclusion", conclusion),
            Self::Commented { text } => need("text", text),
            Self::Escalated { .. } => Ok(()),
        }
    }
}

/// Every step after `opened`: its action, the states it may start from, and the state it leads
/// to (`None`: the state stays). The one table behind [`Action::next_state`] and
/// [`Action::legal_in`].
const TRANSITIONS: &[(&str, &[CaseState], Option<CaseState>)] = {
    use CaseState::*;
    &[
        (
            "dispatched",
            &[Open, Dispatched, Investigated],
            Some(Dispatched),
        ),
        (
            "off_site_review",
            &[Dispatched, Investigated],
            Some(Investigated),
        ),
        (
            "inspection",
            &[Dispatched, Investigated],
            Some(Investigated),
        ),
        ("rectification_requested", &[Investigated], Some(Rectifying)),
        ("responded", &[Rectifying], Some(Responded)),
        ("response_returned", &[Responded], Some(Rectifying)),
        ("verified", &[Responded], Some(Verified)),
        ("closed", &[Investigated, Verified], Some(Closed)),
        ("reopened", &[Closed], Some(Dispatched)),
        // Every state but the last (closed) has a stage that can be late.
        (
            "escalated",
            CaseState::ALL.split_last().expect("states").1,
            None,
        ),
        ("commented", &CaseState::ALL, None),
    ]
};

/// An action that is not legal now, or not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The action is not legal in the current state.
    #[error("cannot {action} a case that is {state}; legal now: {}", legal.join(", "))]
    Illegal {
        /// The action tried.
        action: &'static str,
        /// The case's state.
        state: CaseState,
        /// What would be legal.
        legal: Vec<&'static str>,
    },
    /// The first event is not `opened`, or a later one is.
    #[error("a case starts with exactly one `opened` event")]
    NotOpened,
    /// A field is missing or empty.
    #[error("{0}")]
    Invalid(String),
    /// A deadline lies before the action.
    #[error("{action}: the deadline is before the action")]
    DeadlineInPast {
        /// The action.
        action: &'static str,
    },
}

/// One recorded step, as stored: the hash covers `seq`, `at_ms`, `actor` and the exact text of
/// the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// 1 for `opened`, +1 per event.
    pub seq: u32,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Who (a user name, or `system`).
    pub actor: String,
    /// The action as stored (JSON text).
    pub action_json: String,
    /// The previous event's hash (64 zeros for the first).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl CaseEvent {
    /// The action, parsed.
    pub fn action(&self) -> Result<Action, String> {
        serde_json::from_str(&self.action_json)
            .map_err(|e| format!("event {}: unreadable action: {e}", self.seq))
    }

    /// The next event after `prev` (none for the first): numbered and chained.
    pub fn next(
        prev: Option<&CaseEvent>,
        at_ms: i64,
        actor: &str,
        action: &Action,
    ) -> Result<CaseEvent, String> {
        let action_json = serde_json::to_string(action).map_err(|e| e.to_string())?;
        let seq = prev.map_or(1, |p| p.seq + 1);
        let prev_hash = prev.map_or_else(|| GENESIS.to_owned(), |p| p.hash.clone());
        let hash = chain_hash(&prev_hash, seq, at_ms, actor, &action_json);
        Ok(CaseEvent {
            seq,
            at_ms,
            actor: actor.to_owned(),
            action_json,
            prev_hash,
            hash,
        })
    }
}

/// The `prev_hash` of a case's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an event: SHA-256 over the previous hash, the sequence number, the time, the
/// actor and the action text, separated by newlines (the actor cannot contain one).
pub fn chain_hash(prev_hash: &str, seq: u32, at_ms: i64, actor: &str, action_json: &str) -> String {
    let text = format!("{prev_hash}\n{seq}\n{at_ms}\n{actor}\n{action_json}");
    sha256_hex(text.as_bytes())
}

/// SHA-256 of bytes in lowercase hex (event chain, attachment digests, the evidence manifest).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A broken link in a case's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("event {seq}: {reason}")]
pub struct ChainError {
    /// The first event that does not verify.
    pub seq: u32,
    /// What is wrong with it.
    pub reason: String,
}

/// Verifies a case's chain: numbering from 1 without gaps, each `prev_hash` the previous hash,
/// each hash recomputed from the stored content.
pub fn verify_chain(events: &[CaseEvent]) -> Result<(), ChainError> {
    let mut prev = GENESIS;
    for (i, e) in events.iter().enumerate() {
        let expected_seq = i as u32 + 1;
        let fail = |reason: String| ChainError { seq: e.seq, reason };
        if e.seq != expected_seq {
            return Err(fail(format!(
                "numbered {} where {expected_seq} was expected (an event is missing or moved)",
                e.seq
            )));
        }
        if e.prev_hash != prev {
            return Err(fail("does not link to the previous event".into()));
        }
        if chain_hash(&e.prev_hash, e.seq, e.at_ms, &e.actor, &e.action_json) != e.hash {
            return Err(fail(
                "content does not match its hash (edited after it was recorded)".into(),
            ));
        }
        prev = &e.hash;
    }
    Ok(())
}

/// How long each stage may take before it is overdue. The defaults are a proposal (the plan
/// names no numbers): dispatch within 24 hours, handling within 7 days of dispatch, a decision
/// within 7 days of the investigation, verification within 7 days of the response; the
/// rectification deadline is the one in the request. Verification from data needs the problem
/// gone for `verify_clean_hours` (72 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Deadlines {
    /// Hours from opening to dispatch.
    pub dispatch_hours: i64,
    /// Days from dispatch to off-site review or inspection (when the dispatch names none).
    pub handle_days: i64,
    /// Days from investigation to the next decision.
    pub decide_days: i64,
    /// Days from the enterprise's response to verification.
    pub verify_days: i64,
    /// Hours without an active alarm needed to verify from data.
    pub verify_clean_hours: i64,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            dispatch_hours: 24,
            handle_days: 7,
            decide_days: 7,
            verify_days: 7,
            verify_clean_hours: 72,
        }
    }
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A case as its events make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Case id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Where it came from.
    pub source: Source,
    /// Current state.
    pub state: CaseState,
    /// Alarm ids.
    pub alarms: Vec<i64>,
    /// Monitoring point, if any.
    pub point_id: Option<String>,
    /// Enterprise (credit code), if any.
    pub enterprise: Option<String>,
    /// District (from opening, or the dispatch).
    pub district: Option<String>,
    /// The registry entry it came from.
    pub registry: Option<RegistryRef>,
    /// The officer it is dispatched to.
    pub officer: Option<String>,
    /// How it was handled, once it was.
    pub mode: Option<Mode>,
    /// Who opened it.
    pub opened_by: String,
    /// When it was opened, Unix ms.
    pub opened_ms: i64,
    /// First dispatch, Unix ms.
    pub dispatched_ms: Option<i64>,
    /// Last closure, Unix ms (none while open).
    pub closed_ms: Option<i64>,
    /// When the current stage began, Unix ms.
    pub stage_since_ms: i64,
    /// The current stage's deadline, Unix ms (none when closed).
    pub due_ms: Option<i64>,
    /// Whether the current stage has been escalated as overdue.
    pub escalated: bool,
    /// Whether a violation was established at closure.
    pub violation: bool,
    /// Times reopened.
    pub reopened: u32,
    /// Number of events.
    pub events: u32,
}

impl Case {
    /// Folds a case's events (checking every transition).
    pub fn from_events(
        id: i64,
        events: &[CaseEvent],
        deadlines: &Deadlines,
    ) -> Result<Case, TransitionError> {
        let mut case: Option<Case> = None;
        for e in events {
            let action = e.action().map_err(TransitionError::Invalid)?;
            case = Some(match case {
                None => Case::opened(id, e, &action, deadlines)?,
                Some(mut c) => {
                    c.apply(e.at_ms, &action, deadlines)?;
                    c
                }
            });
        }
        case.ok_or(TransitionError::NotOpened)
    }

    fn opened(
        id: i64,
        e: &CaseEvent,
        action: &Action,
        deadlines: &Deadlines,
    ) -> Result<Case, TransitionError> {
        let Action::Opened {
            title,
            description,
            source,
            alarms,
            point_id,
            enterprise,
            district,
            registry,
        } = action
        else {
            return Err(TransitionError::NotOpened);
        };
        action.check_fields().map_err(TransitionError::Invalid)?;
        Ok(Case {
            id,
            title: title.clone(),
            description: description.clone(),
            source: *source,
            state: CaseState::Open,
            alarms: alarms.clone(),
            point_id: point_id.clone(),
            enterprise: enterprise.clone(),
            district: district.clone(),
            registry: registry.clone(),
            officer: None,
            mode: None,
            opened_by: e.actor.clone(),
            opened_ms: e.at_ms,
            dispatched_ms: None,
            closed_ms: None,
            stage_since_ms: e.at_ms,
            due_ms: Some(e.at_ms + deadlines.dispatch_hours * HOUR_MS),
            escalated: false,
            violation: false,
            reopened: 0,
            events: 1,
        })
    }

    /// Checks that `action` may be applied now: legal in the state, well formed, deadlines in
    /// the future. Returns the state it leads to.
    pub fn check(&self, at_ms: i64, action: &Action) -> Result<CaseState, TransitionError> {
        if matches!(action, Action::Opened { .. }) {
            return Err(TransitionError::NotOpened);
        }
        let next = action
            .next_state(Some(self.state))
            .ok_or_else(|| TransitionError::Illegal {
                action: action.name(),
                state: self.state,
                legal: Action::legal_in(self.state),
            })?;
        action.check_fields().map_err(TransitionError::Invalid)?;
        let due = match action {
            Action::Dispatched { due_ms, .. } => *due_ms,
            Action::RectificationRequested { due_ms, .. } => Some(*due_ms),
            _ => None,
        };
        if due.is_some_and(|d| d <= at_ms) {
            return Err(TransitionError::DeadlineInPast {
                action: action.name(),
            });
        }
        Ok(next)
    }

    /// Applies `action` at `at_ms` (after [`Case::check`]).
    pub fn apply(
        &mut self,
        at_ms: i64,
        action: &Action,
        deadlines: &Deadlines,
    ) -> Result<(), TransitionError> {
        let next = self.check(at_ms, action)?;
        self.events += 1;
        let stage_changes = match action {
            Action::Commented { .. } => false,
            Action::Escalated { .. } => {
                self.escalated = true;
                false
            }
            _ => true,
        };
        match action {
            Action::Dispatched {
                district,
                officer,
                due_ms,
            } => {
                self.district = Some(district.clone());
                self.officer = Some(officer.clone());
                self.dispatched_ms.get_or_insert(at_ms);
                self.due_ms = Some(due_ms.unwrap_or(at_ms + deadlines.handle_days * DAY_MS));
            }
            Action::OffSiteReview { .. } => {
                self.mode.get_or_insert(Mode::OffSite);
                self.due_ms = Some(at_ms + deadlines.decide_days * DAY_MS);
            }
            Action::Inspection { .. } => {
                self.mode = Some(Mode::OnSite);
                self.due_ms = Some(at_ms + deadlines.decide_days * DAY_MS);
            }
            Action::RectificationRequested { due_ms, .. } => self.due_ms = Some(*due_ms),
            Action::Responded { .. } => {
                self.due_ms = Some(at_ms + deadlines.verify_days * DAY_MS);
            }
            Action::ResponseReturned { .. } => {
                // Back to the enterprise, which gets `verify_days` to respond again.
                self.due_ms = Some(at_ms + deadlines.verify_days * DAY_MS);
            }
            Action::Verified { method, .. } => {
                if *method == VerifyMethod::Inspection {
                    self.mode = Some(Mode::OnSite);
                }
                self.due_ms = Some(at_ms + deadlines.decide_days * DAY_MS);
            }
            Action::Closed { violation, .. } => {
                self.closed_ms = Some(at_ms);
                self.violation = *violation;
                self.due_ms = None;
            }
            Action::Reopened { .. } => {
                self.closed_ms = None;
                self.reopened += 1;
                self.due_ms = Some(at_ms + deadlines.handle_days * DAY_MS);
            }
            Action::Opened { .. } | Action::Escalated { .. } | Action::Commented { .. } => {}
        }
        if stage_changes {
            self.stage_since_ms = at_ms;
            self.escalated = false;
        }
        self.state = next;
        Ok(())
    }

    /// The stage that is late at `now_ms`, with its deadline.
    pub fn overdue(&self, now_ms: i64) -> Option<(CaseState, i64)> {
        self.due_ms
            .filter(|&d| d < now_ms && self.state != CaseState::Closed)
            .map(|d| (self.state, d))
    }
}

#[cfg(test)]
mod tests;
