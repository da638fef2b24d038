//! Pollution-source emissions (standards.md §4): O2-converted concentrations, hourly validity
//! (HJ 75-2017: at least 45 valid minutes), exceedance, data transmission effective rate.

use serde::Serialize;

use crate::{Dec, InputError};

/// Reference O2 (%) by source type. Values marked [recalled] in standards.md §4.1: configurable
/// through [`convert`]'s explicit `ref_o2`; this table is the default.
pub const REFERENCE_O2: &[(&str, &str, &str)] = &[
    ("coal_power_boiler", "6", "GB 13223-2011"),
    ("oil_gas_power_boiler", "3", "GB 13223-2011"),
    ("gas_turbine", "15", "GB 13223-2011"),
    ("coal_industrial_boiler", "9", "GB 13271-2014"),
    ("oil_gas_industrial_boiler", "3.5", "GB 13271-2014"),
    ("msw_incinerator", "11", "GB 18485-2014"),
    ("cement_kiln", "10", "GB 4915-2013"),
    ("sintering_head", "16", "环大气〔2019〕35号"),
];

/// The reference O2 of a source type.
pub fn reference_o2(source: &str) -> Result<Dec, InputError> {
    REFERENCE_O2
        .iter()
        .find(|(s, _, _)| *s == source)
        .map(|(_, v, _)| Dec::parse(v).unwrap_or(Dec::int(0)))
        .ok_or_else(|| InputError::Unknown {
            what: "source type",
            name: source.to_owned(),
            known: REFERENCE_O2
                .iter()
                .map(|r| r.0)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A converted concentration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Converted {
    /// Measured concentration.
    pub measured: Dec,
    /// Measured O2, %.
    pub o2: Dec,
    /// Reference O2, %.
    pub ref_o2: Dec,
    /// ρ × (21 − ref)/(21 − O2), to 3 decimals (half to even).
    pub converted: Dec,
    /// Warning when O2 is near ambient (≥ 19 %): the factor explodes (idle boiler or dilution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// ρ_ref = ρ_meas × (21 − O2_ref)/(21 − O2_meas) (dry basis, O2 in %).
pub fn convert(measured: Dec, o2: Dec, ref_o2: Dec) -> Result<Converted, InputError> {
    let twenty_one = Dec::int(21);
    if measured.is_negative() {
        return Err(InputError::Impossible(format!(
            "measured concentration {measured} is negative"
        )));
    }
    if o2.is_negative() || o2 >= twenty_one {
        return Err(InputError::Impossible(format!(
            "O2 {o2}% must be at least 0 and below 21 (ambient air)"
        )));
    }
    if ref_o2.is_negative() || ref_o2 >= twenty_one {
        return Err(InputError::Impossible(format!(
            "reference O2 {ref_o2}% must be at least 0 and below 21"
        )));
    }
    let s = 9u32;
    let num = measured.at_scale(s) * (twenty_one.at_scale(s) - ref_o2.at_scale(s));
    let den = twenty_one.at_scale(s) - o2.at_scale(s);
    // num/den is at scale s; bring to 3 decimals with half-even.
    let converted = Dec::ratio(num, den * 10i128.pow(s - 3), 3);
    Ok(Converted {
        measured,
        o2,
        ref_o2,
        converted,
        warning: (o2 >= Dec::int(19))
            .then(|| format!("O2 {o2}% is close to ambient air: the conversion factor is large")),
    })
}

/// HJ 212 data flags that count as valid measurements (N only; F, M, S, D, C, T, B excluded).
pub fn flag_is_valid(flag: &str) -> bool {
    flag == "N"
}

/// An hourly average from minute values with their flags (HJ 75-2017: ≥ 45 valid minutes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hourly {
    /// The mean of the valid minutes, when there are enough.
    pub mean: Option<Dec>,
    /// Valid minutes.
    pub valid_minutes: usize,
    /// Whether the hour is valid.
    pub valid: bool,
    /// Exceeds the limit (valid hours only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exceeds: Option<bool>,
}

/// The hourly average of minute data and its exceedance of `limit`.
pub fn hourly(minutes: &[(Dec, &str)], limit: Option<Dec>, min_valid: usize) -> Hourly {
    let valid: Vec<Dec> = minutes
        .iter()
        .filter(|(_, f)| flag_is_valid(f))
        .map(|(v, _)| *v)
        .collect();
    let ok = valid.len() >= min_valid;
    let mean = if ok { Dec::mean(&valid, 3) } else { None };
    Hourly {
        exceeds: match (mean, limit) {
            (Some(m), Some(l)) => Some(m > l),
            _ => None,
        },
        mean,
        valid_minutes: valid.len(),
        valid: ok,
    }
}

/// Data transmission effective rate = transmission rate × validity rate = valid / due.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveRate {
    /// received / due.
    pub transmission_rate: f64,
    /// valid / received.
    pub validity_rate: f64,
    /// valid / due.
    pub effective_rate: f64,
    /// Against the threshold (75 % national [recalled], 90 % in many provinces: a parameter).
    pub meets: bool,
}

/// The effective rate of a period.
pub fn effective_rate(
    due: u64,
    received: u64,
    valid: u64,
    threshold: f64,
) -> Result<EffectiveRate, InputError> {
    if due == 0 || received > due || valid > received {
        return Err(InputError::Impossible(format!(
            "need valid ≤ received ≤ due and due > 0 (got {valid}, {received}, {due})"
        )));
    }
    let t = received as f64 / due as f64;
    let v = if received == 0 {
        0.0
    } else {
        valid as f64 / received as f64
    };
    let e = valid as f64 / due as f64;
    Ok(EffectiveRate {
        transmission_rate: t,
        validity_rate: v,
        effective_rate: e,
        meets: e >= threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(t: &str) -> Dec {
        Dec::parse(t).expect("number")
    }

    #[test]
    fn o2_conversion() {
        // 30 mg/m3 at 9 % O2, reference 6 %: 30 × 15/12 = 37.5.
        assert_eq!(
            convert(d("30"), d("9"), d("6"))
                .expect("ok")
                .converted
                .to_string(),
            "37.500"
        );
        // Near ambient the factor explodes: 20.5 % at 6 % gives × 30.
        let c = convert(d("1"), d("20.5"), d("6")).expect("ok");
        assert_eq!(c.converted.to_string(), "30.000");
        assert!(c.warning.is_some());
        assert!(convert(d("1"), d("21"), d("6")).is_err());
        assert_eq!(reference_o2("coal_industrial_boiler"), Ok(d("9")));
        assert!(reference_o2("volcano").is_err());
    }

    #[test]
    fn hourly_validity_and_exceedance() {
        let mut minutes: Vec<(Dec, &str)> = (0..60).map(|_| (d("40"), "N")).collect();
        let h = hourly(&minutes, Some(d("35")), 45);
        assert_eq!((h.valid, h.exceeds), (true, Some(true)));
        for m in minutes.iter_mut().take(16) {
            m.1 = "D";
        }
        let h = hourly(&minutes, Some(d("35")), 45);
        assert_eq!((h.valid, h.valid_minutes, h.exceeds), (false, 44, None));
        let r = effective_rate(24, 22, 20, 0.9).expect("ok");
        assert!((r.effective_rate - 20.0 / 24.0).abs() < 1e-12);
        assert!(!r.meets);
        assert!(effective_rate(24, 25, 20, 0.9).is_err());
    }
}
