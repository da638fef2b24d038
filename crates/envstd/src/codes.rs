//! Which HJ 212 factor code (HJ 212-2017 Appendix B) is which indicator of the standards: the
//! one table the rules, the assessments and the UI's factor names agree on.

use crate::aqi::Pollutant;

/// The AQI pollutants' codes (ambient air: µg/m³, CO mg/m³).
pub const AIR: &[(&str, Pollutant)] = &[
    ("a21026", Pollutant::So2),
    ("a21004", Pollutant::No2),
    ("a21005", Pollutant::Co),
    ("a05024", Pollutant::O3),
    ("a34002", Pollutant::Pm10),
    ("a34004", Pollutant::Pm25),
];

/// The GB 3838-2002 items' codes, by the item names of [`crate::water`].
pub const WATER: &[(&str, &str)] = &[
    ("w01001", "ph"),
    ("w01009", "do"),
    ("w01019", "codmn"),
    ("w01018", "cod"),
    ("w01017", "bod5"),
    ("w21003", "nh3n"),
    ("w21011", "tp"),
    ("w21001", "tn"),
    ("w01010", "temp"),
];

/// Default method detection limits of pollution-source codes (mg/m³ for flue gas, mg/L for
/// waste water), for a point that does not give its analyser's own: the detection limits of the
/// national reference methods for the same indicator, standing in for the analyser's [proposal]:
/// SO2 HJ 57-2017 (3 mg/m³), NOx HJ 693-2014 (3 mg/m³), low-concentration particulate matter
/// HJ 836-2017 (1.0 mg/m³), COD HJ 828-2017 (4 mg/L), NH3-N HJ 535-2009 (0.025 mg/L), TP
/// GB 11893-89 (0.01 mg/L), TN HJ 636-2012 (0.05 mg/L).
pub const SOURCE_DETECTION_LIMITS: &[(&str, f64, &str)] = &[
    ("a21026", 3.0, "HJ 57-2017"),
    ("a21002", 3.0, "HJ 693-2014"),
    ("a34013", 1.0, "HJ 836-2017"),
    ("w01018", 4.0, "HJ 828-2017"),
    ("w21003", 0.025, "HJ 535-2009"),
    ("w21011", 0.01, "GB 11893-89"),
    ("w21001", 0.05, "HJ 636-2012"),
];

/// The default detection limit of a source code and the method it comes from.
pub fn source_detection_limit(code: &str) -> Option<(f64, &'static str)> {
    SOURCE_DETECTION_LIMITS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, dl, method)| (*dl, *method))
}

/// The AQI pollutant an air code measures.
pub fn air_pollutant(code: &str) -> Option<Pollutant> {
    AIR.iter().find(|(c, _)| *c == code).map(|(_, p)| *p)
}

/// The GB 3838 item a water code measures.
pub fn water_item(code: &str) -> Option<&'static str> {
    WATER.iter().find(|(c, _)| *c == code).map(|(_, i)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_one_indicator_each() {
        assert_eq!(air_pollutant("a34004"), Some(Pollutant::Pm25));
        assert_eq!(water_item("w21003"), Some("nh3n"));
        assert_eq!(air_pollutant("w21003"), None);
        let mut codes: Vec<&str> = AIR
            .iter()
            .map(|(c, _)| *c)
            .chain(WATER.iter().map(|(c, _)| *c))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AIR.len() + WATER.len());
    }
}
