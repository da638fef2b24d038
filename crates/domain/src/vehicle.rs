//! A monitored truck's state as the vehicle list shows it, from its last frame and newest
//! data-stream record.

use serde::{Deserialize, Serialize};

/// Where a truck is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VehicleState {
    /// Sending now and moving.
    Driving,
    /// Sending now and standing (engine idling or key on), or engine off within
    /// [`SILENT_AFTER_MS`] (terminals stop sending when the engine stops).
    Parked,
    /// Nothing for longer than [`SILENT_AFTER_MS`]: laid up, or a terminal unplugged.
    Silent,
    /// Never heard from.
    Never,
}

/// A frame at most this old means the terminal is sending now ([proposal]: it sends every
/// 10 s while the engine runs; two minutes allows for a coverage hole).
pub const SENDING_WITHIN_MS: i64 = 120_000;

/// Longer than this without a frame is silence ([proposal] three days: a truck off over a
/// long weekend is not yet suspicious).
pub const SILENT_AFTER_MS: i64 = 3 * 86_400_000;

/// The state of a truck whose last frame came at `last_frame_ms` (none: never) and whose
/// newest stream record gives `speed_kmh`, at `now_ms`.
pub fn vehicle_state(
    last_frame_ms: Option<i64>,
    speed_kmh: Option<f64>,
    now_ms: i64,
) -> VehicleState {
    let Some(last) = last_frame_ms else {
        return VehicleState::Never;
    };
    let age = now_ms - last;
    if age > SILENT_AFTER_MS {
        VehicleState::Silent
    } else if age <= SENDING_WITHIN_MS && speed_kmh.is_some_and(|s| s > 0.5) {
        VehicleState::Driving
    } else {
        VehicleState::Parked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truck_is_driving_parked_silent_or_never_seen() {
        let now = 1_800_000_000_000;
        assert_eq!(vehicle_state(None, None, now), VehicleState::Never);
        assert_eq!(
            vehicle_state(Some(now - 5_000), Some(62.0), now),
            VehicleState::Driving
        );
        assert_eq!(
            vehicle_state(Some(now - 5_000), Some(0.0), now),
            VehicleState::Parked
        );
        assert_eq!(
            vehicle_state(Some(now - 5_000), None, now),
            VehicleState::Parked
        );
        assert_eq!(
            vehicle_state(Some(now - 600_000), Some(62.0), now),
            VehicleState::Parked,
            "ten minutes without a frame: the engine stopped"
        );
        assert_eq!(
            vehicle_state(Some(now - SILENT_AFTER_MS - 1), Some(0.0), now),
            VehicleState::Silent
        );
    }
}
