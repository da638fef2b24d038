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

/// What a factor code is, for people: its name in both languages and the unit it is reported in
/// at a pollution source and at an ambient station (HJ 212-2017 Appendix B; a point's own
/// setting of the unit, where it has one, takes precedence; an empty unit is dimensionless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Factor {
    /// The HJ 212 code.
    pub code: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Chinese name.
    pub name_zh: &'static str,
    /// Unit at a source (flue gas, waste water), if the code is measured there.
    pub unit_source: Option<&'static str>,
    /// Unit at an ambient station, if the code is measured there.
    pub unit_ambient: Option<&'static str>,
}

const fn f(
    code: &'static str,
    name_en: &'static str,
    name_zh: &'static str,
    unit_source: Option<&'static str>,
    unit_ambient: Option<&'static str>,
) -> Factor {
    Factor {
        code,
        name_en,
        name_zh,
        unit_source,
        unit_ambient,
    }
}

const MG_M3: Option<&str> = Some("mg/m³");
const UG_M3: Option<&str> = Some("µg/m³");
const MG_L: Option<&str> = Some("mg/L");

/// The factors the platform knows by name.
pub const FACTORS: &[Factor] = &[
    f("a00000", "flue-gas flow", "废气流量", Some("m³/h"), None),
    f("a01001", "air temperature", "气温", None, Some("°C")),
    f("a01002", "relative humidity", "相对湿度", None, Some("%")),
    f("a01006", "air pressure", "气压", None, Some("kPa")),
    f("a01007", "wind speed", "风速", None, Some("m/s")),
    f("a01008", "wind direction", "风向", None, Some("°")),
    f("a01011", "flue-gas velocity", "烟气流速", Some("m/s"), None),
    f(
        "a01012",
        "flue-gas temperature",
        "烟气温度",
        Some("°C"),
        None,
    ),
    f("a01013", "flue-gas pressure", "烟气压力", Some("kPa"), None),
    f("a01014", "flue-gas humidity", "烟气湿度", Some("%"), None),
    f("a05024", "O3", "臭氧", None, UG_M3),
    f("a19001", "O2", "氧含量", Some("%"), None),
    f("a21002", "NOx", "氮氧化物", MG_M3, None),
    f("a21003", "NO", "一氧化氮", MG_M3, UG_M3),
    f("a21004", "NO2", "二氧化氮", MG_M3, UG_M3),
    f("a21005", "CO", "一氧化碳", MG_M3, MG_M3),
    f("a21026", "SO2", "二氧化硫", MG_M3, UG_M3),
    f(
        "a24088",
        "non-methane hydrocarbons",
        "非甲烷总烃",
        MG_M3,
        None,
    ),
    f("a34002", "PM10", "PM10", None, UG_M3),
    f("a34004", "PM2.5", "PM2.5", None, UG_M3),
    f("a34013", "particulate matter", "颗粒物", MG_M3, None),
    f("w00000", "waste-water flow", "污水流量", Some("L/s"), None),
    f("w01001", "pH", "pH值", Some(""), Some("")),
    f("w01009", "dissolved oxygen", "溶解氧", None, MG_L),
    f(
        "w01010",
        "water temperature",
        "水温",
        Some("°C"),
        Some("°C"),
    ),
    f(
        "w01014",
        "conductivity",
        "电导率",
        Some("µS/cm"),
        Some("µS/cm"),
    ),
    f("w01017", "BOD5", "五日生化需氧量", MG_L, MG_L),
    f("w01018", "COD", "化学需氧量", MG_L, MG_L),
    f("w01019", "permanganate index", "高锰酸盐指数", None, MG_L),
    f("w21001", "total nitrogen", "总氮", MG_L, MG_L),
    f("w21003", "ammonia nitrogen", "氨氮", MG_L, MG_L),
    f("w21011", "total phosphorus", "总磷", MG_L, MG_L),
    f("LA", "sound level (Leq)", "等效声级", None, Some("dB(A)")),
    f(
        "g02101",
        "gamma dose rate",
        "γ辐射空气吸收剂量率",
        None,
        Some("nGy/h"),
    ),
];

/// The factor of a code, if the platform knows it.
pub fn factor(code: &str) -> Option<&'static Factor> {
    FACTORS.iter().find(|f| f.code == code)
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
        // Every code of the standards' tables has a name, and each factor is listed once.
        for code in AIR
            .iter()
            .map(|(c, _)| *c)
            .chain(WATER.iter().map(|(c, _)| *c))
        {
            assert!(factor(code).is_some(), "{code}");
        }
        let mut all: Vec<&str> = FACTORS.iter().map(|f| f.code).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), FACTORS.len());
    }
}
