//! Code tables: monitoring factors (HJ 212-2017 Appendix B), system codes (ST), command codes
//! (CN), return codes, data flags, and the HJ/T 212-2005 to HJ 212-2017 factor-code mapping.
//!
//! The tables are the built-in default dictionary. Real stations send codes outside Appendix B
//! (`a05024` for O₃, particle fractions, vendor codes), and units differ in practice from the ones
//! printed in the standard (Appendix B prints ng/m³ for PM2.5, stations send µg/m³), so the
//! platform treats units as per-station configuration and this table only as a default.

use crate::cp::key8;

/// One monitoring factor of the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorInfo {
    /// The HJ 212-2017 code, e.g. `w01018`.
    pub code: &'static str,
    /// Chinese name.
    pub name_zh: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Concentration (or value) unit, as used in practice.
    pub unit: &'static str,
    /// Unit of the `-Cou` (cumulative amount) field, if the factor has one.
    pub cou_unit: Option<&'static str>,
    /// The HJ/T 212-2005 code, if Appendix B lists one.
    pub code_2005: Option<&'static str>,
}

const fn f(
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    unit: &'static str,
    cou_unit: Option<&'static str>,
    code_2005: Option<&'static str>,
) -> FactorInfo {
    FactorInfo {
        code,
        name_zh,
        name_en,
        unit,
        cou_unit,
        code_2005,
    }
}

const KG: Option<&str> = Some("kg");
const G: Option<&str> = Some("g");
const M3: Option<&str> = Some("m³");

/// The built-in factor dictionary, sorted by code.
pub static FACTORS: &[FactorInfo] = FACTOR_TABLE;

const FACTOR_TABLE: &[FactorInfo] = &[
    f(
        "L10",
        "累计百分声级L10",
        "percentile level L10",
        "dB",
        None,
        None,
    ),
    f(
        "L5",
        "累计百分声级L5",
        "percentile level L5",
        "dB",
        None,
        None,
    ),
    f(
        "L50",
        "累计百分声级L50",
        "percentile level L50",
        "dB",
        None,
        None,
    ),
    f(
        "L90",
        "累计百分声级L90",
        "percentile level L90",
        "dB",
        None,
        None,
    ),
    f(
        "L95",
        "累计百分声级L95",
        "percentile level L95",
        "dB",
        None,
        None,
    ),
    f("LA", "A权声级", "A-weighted sound level", "dB", None, None),
    f(
        "LMn",
        "最小的瞬时声级",
        "minimum instantaneous level",
        "dB",
        None,
        None,
    ),
    f(
        "LMx",
        "最大的瞬时声级",
        "maximum instantaneous level",
        "dB",
        None,
        None,
    ),
    f(
        "Ld",
        "昼间等效声级",
        "daytime equivalent level",
        "dB",
        None,
        None,
    ),
    f(
        "Ldn",
        "昼夜等效声级",
        "day-night equivalent level",
        "dB",
        None,
        None,
    ),
    f(
        "Leq",
        "等效声级",
        "equivalent continuous level",
        "dB",
        None,
        None,
    ),
    f(
        "Ln",
        "夜间等效声级",
        "night-time equivalent level",
        "dB",
        None,
        None,
    ),
    f("a00000", "废气", "flue-gas flow", "m³/s", M3, Some("B02")),
    f("a01001", "温度", "air temperature", "°C", None, None),
    f("a01002", "湿度", "relative humidity", "%", None, None),
    f("a01006", "气压", "air pressure", "kPa", None, None),
    f("a01007", "风速", "wind speed", "m/s", None, None),
    f("a01008", "风向", "wind direction", "°", None, None),
    f(
        "a01010",
        "林格曼黑度",
        "Ringelmann blackness",
        "",
        None,
        None,
    ),
    f(
        "a01011",
        "烟气流速",
        "flue-gas velocity",
        "m/s",
        None,
        Some("S02"),
    ),
    f(
        "a01012",
        "烟气温度",
        "flue-gas temperature",
        "°C",
        None,
        Some("S03"),
    ),
    f(
        "a01013",
        "烟气压力",
        "flue-gas pressure",
        "kPa",
        None,
        Some("S08"),
    ),
    f(
        "a01014",
        "烟气湿度",
        "flue-gas humidity",
        "%",
        None,
        Some("S05"),
    ),
    f(
        "a01015",
        "制冷温度",
        "cooler temperature",
        "°C",
        None,
        Some("S06"),
    ),
    f(
        "a01016",
        "烟道截面积",
        "duct cross-section",
        "m²",
        None,
        Some("S07"),
    ),
    f(
        "a01017",
        "烟气动压",
        "flue-gas dynamic pressure",
        "kPa",
        None,
        Some("S04"),
    ),
    f(
        "a01901",
        "垃圾焚烧炉膛内焚烧平均温度",
        "incinerator furnace mean temperature",
        "°C",
        None,
        None,
    ),
    f(
        "a01902",
        "垃圾焚烧炉膛内DCS温度",
        "incinerator furnace DCS temperature",
        "°C",
        None,
        None,
    ),
    f("a05001", "二氧化碳", "carbon dioxide", "mg/m³", KG, None),
    f("a05024", "臭氧", "ozone", "µg/m³", None, None),
    f(
        "a19001",
        "氧气含量",
        "oxygen content",
        "%",
        None,
        Some("S01"),
    ),
    f("a21001", "氨", "ammonia", "mg/m³", KG, Some("10")),
    f(
        "a21002",
        "氮氧化物",
        "nitrogen oxides",
        "mg/m³",
        KG,
        Some("03"),
    ),
    f("a21003", "一氧化氮", "nitric oxide", "mg/m³", KG, None),
    f("a21004", "二氧化氮", "nitrogen dioxide", "µg/m³", KG, None),
    f(
        "a21005",
        "一氧化碳",
        "carbon monoxide",
        "mg/m³",
        KG,
        Some("04"),
    ),
    f("a21024", "氯化氢", "hydrogen chloride", "mg/m³", KG, None),
    f(
        "a21026",
        "二氧化硫",
        "sulphur dioxide",
        "mg/m³",
        KG,
        Some("02"),
    ),
    f(
        "a21028",
        "硫化氢",
        "hydrogen sulphide",
        "mg/m³",
        KG,
        Some("05"),
    ),
    f(
        "a24088",
        "非甲烷总烃",
        "non-methane hydrocarbons",
        "mg/m³",
        KG,
        None,
    ),
    f("a25002", "苯", "benzene", "mg/m³", KG, None),
    f("a25003", "甲苯", "toluene", "mg/m³", KG, None),
    f("a25005", "二甲苯", "xylene", "mg/m³", KG, None),
    f("a34001", "总悬浮颗粒物", "TSP", "µg/m³", None, None),
    f("a34002", "可吸入颗粒物", "PM10", "µg/m³", None, None),
    f("a34004", "细微颗粒物", "PM2.5", "µg/m³", None, None),
    f("a34005", "亚微米颗粒物", "PM1.0", "µg/m³", None, None),
    f(
        "a34013",
        "烟尘",
        "particulate matter (dust)",
        "mg/m³",
        KG,
        Some("01"),
    ),
    f("w00000", "污水", "wastewater flow", "L/s", M3, Some("B01")),
    f("w01001", "pH值", "pH", "", None, Some("001")),
    f("w01002", "色度", "colour", "degree", None, Some("002")),
    f(
        "w01006",
        "溶解性总固体",
        "total dissolved solids",
        "mg/L",
        KG,
        None,
    ),
    f("w01009", "溶解氧", "dissolved oxygen", "mg/L", None, None),
    f("w01010", "水温", "water temperature", "°C", None, None),
    f(
        "w01012",
        "悬浮物",
        "suspended solids",
        "mg/L",
        KG,
        Some("003"),
    ),
    f("w01014", "电导率", "conductivity", "µS/cm", None, None),
    f("w01017", "五日生化需氧量", "BOD5", "mg/L", KG, Some("010")),
    f("w01018", "化学需氧量", "COD", "mg/L", KG, Some("011")),
    f(
        "w01019",
        "高锰酸盐指数",
        "permanganate index",
        "mg/L",
        KG,
        None,
    ),
    f(
        "w01020",
        "总有机碳",
        "total organic carbon",
        "mg/L",
        KG,
        Some("015"),
    ),
    f(
        "w02003",
        "粪大肠菌群",
        "faecal coliforms",
        "count/L",
        None,
        None,
    ),
    f(
        "w19002",
        "阴离子表面活性剂",
        "anionic surfactants",
        "mg/L",
        KG,
        None,
    ),
    f("w20111", "总汞", "total mercury", "µg/L", G, Some("020")),
    f("w20115", "总镉", "total cadmium", "µg/L", G, Some("022")),
    f("w20116", "总铬", "total chromium", "mg/L", KG, Some("023")),
    f(
        "w20117",
        "六价铬",
        "hexavalent chromium",
        "µg/L",
        G,
        Some("024"),
    ),
    f("w20119", "总砷", "total arsenic", "µg/L", G, Some("026")),
    f("w20120", "总铅", "total lead", "µg/L", G, Some("027")),
    f("w20121", "总镍", "total nickel", "mg/L", KG, None),
    f("w20122", "总铜", "total copper", "mg/L", KG, None),
    f("w20123", "总锌", "total zinc", "mg/L", KG, None),
    f("w21001", "总氮", "total nitrogen", "mg/L", KG, Some("065")),
    f(
        "w21003",
        "氨氮",
        "ammonia nitrogen",
        "mg/L",
        KG,
        Some("060"),
    ),
    f(
        "w21011",
        "总磷",
        "total phosphorus",
        "mg/L",
        KG,
        Some("101"),
    ),
    f("w21016", "氰化物", "cyanide", "mg/L", KG, Some("070")),
    f("w21017", "氟化物", "fluoride", "mg/L", KG, None),
    f("w21019", "硫化物", "sulphide", "mg/L", KG, None),
    f(
        "w22001",
        "石油类",
        "petroleum oils",
        "mg/L",
        KG,
        Some("080"),
    ),
    f("w23002", "挥发酚", "volatile phenols", "mg/L", KG, None),
];

/// Looks a factor code up in the built-in dictionary. Instance-numbered codes
/// (`SB1`, `e10101`, `i12001`) are not factors and are not in it.
pub fn factor(code: &str) -> Option<&'static FactorInfo> {
    factor_by_key(key8(code.as_bytes()), code.len())
}

/// [`factor`] for a code already turned into its [`key8`] (the decoder's hot path).
pub(crate) fn factor_by_key(key: u64, len: usize) -> Option<&'static FactorInfo> {
    let mut slot = hash_slot(key);
    loop {
        let entry = FACTOR_HASH[slot];
        if entry == u8::MAX {
            return None;
        }
        let f = &FACTOR_TABLE[usize::from(entry)];
        if FACTOR_KEYS[usize::from(entry)] == key {
            return (f.code.len() == len).then_some(f);
        }
        slot = (slot + 1) % HASH_SLOTS;
    }
}

/// Slots of the factor hash table (a power of two, well above the table size).
const HASH_SLOTS: usize = 256;

#[inline]
fn hash_slot(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % HASH_SLOTS
}

/// Open-addressing table from a code's key to its row in the factor table (`u8::MAX`: empty),
/// built at compile time: one multiply and usually one probe per lookup.
static FACTOR_HASH: [u8; HASH_SLOTS] = {
    assert!(FACTOR_TABLE.len() < 255);
    let mut t = [u8::MAX; HASH_SLOTS];
    let mut i = 0;
    while i < FACTOR_TABLE.len() {
        let key = key8(FACTOR_TABLE[i].code.as_bytes());
        let mut slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % HASH_SLOTS;
        while t[slot] != u8::MAX {
            slot = (slot + 1) % HASH_SLOTS;
        }
        t[slot] = i as u8;
        i += 1;
    }
    t
};

/// The factor codes packed into integers, in table order.
static FACTOR_KEYS: [u64; FACTOR_TABLE.len()] = factor_keys(false);
/// The 2005 codes packed the same way (0 where a factor has none).
static FACTOR_KEYS_2005: [u64; FACTOR_TABLE.len()] = factor_keys(true);

const fn factor_keys(old: bool) -> [u64; FACTOR_TABLE.len()] {
    let mut keys = [0u64; FACTOR_TABLE.len()];
    let mut i = 0;
    while i < FACTOR_TABLE.len() {
        keys[i] = if old {
            match FACTOR_TABLE[i].code_2005 {
                Some(c) => key8(c.as_bytes()),
                None => 0,
            }
        } else {
            key8(FACTOR_TABLE[i].code.as_bytes())
        };
        i += 1;
    }
    keys
}

/// True when `code` names something the protocol defines even though it is not in the
/// factor table: field-unit information codes (`i…`), process codes (`e…`, `g…`) and
/// treatment facilities (`SB…`).
pub fn is_structural_code(code: &str) -> bool {
    let b = code.as_bytes();
    let numeric_tail = |from: usize| b.len() > from && b[from..].iter().all(u8::is_ascii_digit);
    match b.first() {
        Some(b'i' | b'I') => b.len() == 6 && numeric_tail(1),
        Some(b'e' | b'g') => b.len() == 6 && numeric_tail(1),
        Some(b'S') => b.starts_with(b"SB") && numeric_tail(2),
        _ => false,
    }
}

/// The HJ 212-2017 code for an HJ/T 212-2005 code (2017 Appendix B, column 原编码).
pub fn code_2017_for_2005(old: &str) -> Option<&'static str> {
    code_2017_by_key(key8(old.as_bytes()), old.len())
}

/// [`code_2017_for_2005`] for a code already turned into its [`key8`].
pub(crate) fn code_2017_by_key(key: u64, len: usize) -> Option<&'static str> {
    if key == 0 || key == u64::MAX {
        return None;
    }
    FACTOR_KEYS_2005
        .iter()
        .position(|k| *k == key)
        .map(|i| FACTOR_TABLE[i])
        .filter(|f| f.code_2005.is_some_and(|c| c.len() == len))
        .map(|f| f.code)
}

/// The HJ/T 212-2005 code for an HJ 212-2017 code, where Appendix B lists one.
pub fn code_2005_for_2017(code: &str) -> Option<&'static str> {
    factor(code).and_then(|f| f.code_2005)
}

/// System codes (ST) of HJ 212-2017 Table 5: `(code, Chinese, English)`.
pub static SYSTEM_CODES: &[(&str, &str, &str)] = &[
    ("21", "地表水质量监测", "surface-water quality"),
    ("22", "空气质量监测", "ambient air quality"),
    ("23", "声环境质量监测", "acoustic-environment quality"),
    ("24", "地下水质量监测", "groundwater quality"),
    ("25", "土壤质量监测", "soil quality"),
    ("26", "海水质量监测", "seawater quality"),
    ("27", "挥发性有机物监测", "volatile organic compounds"),
    ("31", "大气环境污染源", "air pollution source"),
    ("32", "地表水体环境污染源", "surface-water pollution source"),
    ("33", "地下水体环境污染源", "groundwater pollution source"),
    ("34", "海洋环境污染源", "marine pollution source"),
    ("35", "土壤环境污染源", "soil pollution source"),
    ("36", "声环境污染源", "noise source"),
    ("37", "振动环境污染源", "vibration source"),
    ("38", "放射性环境污染源", "radioactive source"),
    ("39", "工地扬尘污染源", "construction-site dust"),
    ("41", "电磁环境污染源", "electromagnetic source"),
    ("51", "烟气排放过程监控", "flue-gas process monitoring"),
    ("52", "污水排放过程监控", "wastewater process monitoring"),
    ("91", "系统交互", "system interaction"),
];

/// The system-interaction ST used on replies.
pub const ST_SYSTEM: &str = "91";

/// Looks up a system code's (Chinese, English) names.
pub fn system(st: &str) -> Option<(&'static str, &'static str)> {
    SYSTEM_CODES
        .iter()
        .find(|(c, _, _)| *c == st)
        .map(|&(_, zh, en)| (zh, en))
}

/// How a command code is used (HJ 212-2017 §6.5 and Appendix C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CommandKind {
    /// Device-to-host data (or a host request for the same CN: history and start commands).
    Data,
    /// Host-to-device request answered 9011, then 9012.
    Request,
    /// A notification answered with 9013.
    Notification,
    /// 9011–9014: replies, never answered.
    Reply,
    /// 9015 heartbeat (HJ 212-2025, known second-hand).
    Heartbeat,
}

/// Command codes known to the codec: `(CN, kind, description)`.
pub static COMMANDS: &[(&str, CommandKind, &str)] = COMMAND_TABLE;

const COMMAND_TABLE: &[(&str, CommandKind, &str)] = &[
    ("1000", CommandKind::Request, "set timeout and retry count"),
    (
        "1001",
        CommandKind::Data,
        "upload logger hardware serial (2025)",
    ),
    ("1002", CommandKind::Request, "set logger MN (2025)"),
    (
        "1011",
        CommandKind::Request,
        "get field-unit time / upload time",
    ),
    ("1012", CommandKind::Request, "set field-unit time"),
    (
        "1013",
        CommandKind::Notification,
        "time calibration request",
    ),
    ("1014", CommandKind::Request, "key distribution (2025)"),
    ("1021", CommandKind::Request, "get alarm thresholds (2005)"),
    ("1022", CommandKind::Request, "set alarm thresholds (2005)"),
    ("1031", CommandKind::Request, "get host address (2005)"),
    ("1032", CommandKind::Request, "set host address (2005)"),
    ("1041", CommandKind::Request, "get report time (2005)"),
    ("1042", CommandKind::Request, "set report time (2005)"),
    (
        "1061",
        CommandKind::Request,
        "get real-time interval / upload it",
    ),
    ("1062", CommandKind::Request, "set real-time interval"),
    (
        "1063",
        CommandKind::Request,
        "get minute interval / upload it",
    ),
    ("1064", CommandKind::Request, "set minute interval"),
    ("1072", CommandKind::Request, "set password"),
    (
        "2011",
        CommandKind::Data,
        "real-time data / start real-time uploads",
    ),
    ("2012", CommandKind::Notification, "stop real-time uploads"),
    (
        "2013",
        CommandKind::Data,
        "raw periodic monitoring data (2025)",
    ),
    (
        "2021",
        CommandKind::Data,
        "running state / start running-state uploads",
    ),
    (
        "2022",
        CommandKind::Notification,
        "stop running-state uploads",
    ),
    (
        "2031",
        CommandKind::Data,
        "daily data / daily history request",
    ),
    (
        "2041",
        CommandKind::Data,
        "facility running time / its history request",
    ),
    (
        "2051",
        CommandKind::Data,
        "minute data / minute history request",
    ),
    ("2052", CommandKind::Data, "noise single measurement (2025)"),
    (
        "2061",
        CommandKind::Data,
        "hourly data / hourly history request",
    ),
    (
        "2062",
        CommandKind::Data,
        "standard-sample check data (2025)",
    ),
    ("2071", CommandKind::Data, "alarm records (2005)"),
    ("2072", CommandKind::Notification, "alarm event (2005)"),
    ("2081", CommandKind::Data, "logger restart time"),
    (
        "2111",
        CommandKind::Data,
        "furnace temperature 5-minute average (2025)",
    ),
    ("3011", CommandKind::Request, "zero and span calibration"),
    ("3012", CommandKind::Request, "immediate sampling"),
    (
        "3013",
        CommandKind::Request,
        "cleaning or blowback (2005: device operation)",
    ),
    (
        "3014",
        CommandKind::Request,
        "comparison sampling (2005: set sampling period)",
    ),
    (
        "3015",
        CommandKind::Request,
        "over-limit sample retention / its upload",
    ),
    ("3016", CommandKind::Request, "set sampling period"),
    (
        "3017",
        CommandKind::Request,
        "get sampling period / its upload",
    ),
    (
        "3018",
        CommandKind::Request,
        "get sample-out time / its upload",
    ),
    (
        "3019",
        CommandKind::Request,
        "get instrument SN / its upload",
    ),
    (
        "3020",
        CommandKind::Request,
        "get field-unit information / its upload",
    ),
    ("3021", CommandKind::Request, "set field-unit parameter"),
    (
        "3022",
        CommandKind::Request,
        "immediate sample-retention task (2025)",
    ),
    (
        "3024",
        CommandKind::Request,
        "start automatic standard-sample check (2025)",
    ),
    ("9011", CommandKind::Reply, "request answer"),
    ("9012", CommandKind::Reply, "execution result"),
    ("9013", CommandKind::Reply, "notification answer"),
    ("9014", CommandKind::Reply, "data answer"),
    ("9015", CommandKind::Heartbeat, "heartbeat (2025)"),
];

/// Looks a command code up.
pub fn command(cn: &str) -> Option<(CommandKind, &'static str)> {
    let b = cn.as_bytes();
    if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = b
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    COMMAND_NUMBERS
        .binary_search(&n)
        .ok()
        .map(|i| (COMMAND_TABLE[i].1, COMMAND_TABLE[i].2))
}

/// The CNs of [`COMMANDS`] as numbers, for a binary search (the table is sorted).
static COMMAND_NUMBERS: [u16; COMMAND_TABLE.len()] = {
    let mut out = [0u16; COMMAND_TABLE.len()];
    let mut i = 0;
    while i < COMMAND_TABLE.len() {
        let b = COMMAND_TABLE[i].0.as_bytes();
        let mut n = 0u16;
        let mut j = 0;
        while j < b.len() {
            n = n * 10 + (b[j] - b'0') as u16;
            j += 1;
        }
        out[i] = n;
        i += 1;
    }
    out
};

/// Request-answer codes (QnRtn, HJ 212-2017 Table 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum QnRtn {
    /// 1: ready to execute.
    Ready = 1,
    /// 2: request refused.
    Refused = 2,
    /// 3: PW error.
    PasswordError = 3,
    /// 4: MN error.
    MnError = 4,
    /// 5: ST error.
    StError = 5,
    /// 6: Flag error.
    FlagError = 6,
    /// 7: QN error.
    QnError = 7,
    /// 8: CN error.
    CnError = 8,
    /// 9: CRC error.
    CrcError = 9,
    /// 100: unknown error.
    Unknown = 100,
}

impl QnRtn {
    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The answer for a numeric code.
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            1 => Self::Ready,
            2 => Self::Refused,
            3 => Self::PasswordError,
            4 => Self::MnError,
            5 => Self::StError,
            6 => Self::FlagError,
            7 => Self::QnError,
            8 => Self::CnError,
            9 => Self::CrcError,
            100 => Self::Unknown,
            _ => return None,
        })
    }
}

/// Execution results (ExeRtn, HJ 212-2017 Table 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ExeRtn {
    /// 1: success.
    Success = 1,
    /// 2: failed, reason unknown.
    Failed = 2,
    /// 3: request condition error.
    ConditionError = 3,
    /// 4: communication timeout.
    Timeout = 4,
    /// 5: system busy.
    Busy = 5,
    /// 6: system fault.
    Fault = 6,
    /// 100: no data.
    NoData = 100,
}

impl ExeRtn {
    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The result for a numeric code.
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            1 => Self::Success,
            2 => Self::Failed,
            3 => Self::ConditionError,
            4 => Self::Timeout,
            5 => Self::Busy,
            6 => Self::Fault,
            100 => Self::NoData,
            _ => return None,
        })
    }
}

/// A value's data flag (`xxxxxx-Flag`), both versions mapped into one set; the raw text stays
/// in the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum DataFlag {
    /// N: instrument working normally (2005 air stations: 3).
    Normal,
    /// F: instrument stopped (2005: emission source stopped).
    Stopped,
    /// M: produced during maintenance.
    Maintenance,
    /// S: manually entered set value.
    Manual,
    /// D: instrument fault (2005 air stations: 2, abnormal data).
    Fault,
    /// C: calibrating (2005 air stations: 0).
    Calibration,
    /// T: above the measuring range.
    OverRange,
    /// B: instrument-to-logger communication fault (2017).
    CommFault,
    /// P: power failure (2005 only).
    PowerFault,
    /// 1: meteorological parameter (2005 air stations).
    Meteorological,
    /// Anything else.
    Other,
}

impl DataFlag {
    /// Maps a flag as sent to the common set ([`DataFlag::Other`] for anything outside it).
    pub fn from_raw(raw: &str) -> Self {
        Self::parse(raw).unwrap_or(Self::Other)
    }

    /// The flag, when the text is one of the standards' flags (2017 Table 8, the 2005 source
    /// flags and the 2005 air-station digits); `None` for anything else, which is not a flag
    /// the standard defines and so cannot be judged.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "N" | "3" => Self::Normal,
            "F" => Self::Stopped,
            "M" => Self::Maintenance,
            "S" => Self::Manual,
            "D" | "2" => Self::Fault,
            "C" | "0" => Self::Calibration,
            "T" => Self::OverRange,
            "B" => Self::CommFault,
            "P" => Self::PowerFault,
            "1" => Self::Meteorological,
            _ => return None,
        })
    }

    /// True for values that count as valid measurements (normal data).
    pub fn is_normal(self) -> bool {
        self == Self::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_table_is_sorted_and_unique() {
        for pair in FACTORS.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} {}",
                pair[0].code,
                pair[1].code
            );
        }
        for f in FACTORS {
            assert_eq!(factor(f.code), Some(f), "{}", f.code);
        }
        assert_eq!(factor("w01018").map(|f| f.name_zh), Some("化学需氧量"));
        assert_eq!(factor("w0101"), None);
        assert_eq!(factor("w010188"), None);
        assert_eq!(factor("a05024").map(|f| f.name_en), Some("ozone"));
        assert!(factor("a34006").is_none());
    }

    #[test]
    fn command_table_is_sorted() {
        for pair in COMMANDS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} {}", pair[0].0, pair[1].0);
        }
        assert_eq!(command("2011").map(|c| c.0), Some(CommandKind::Data));
        assert_eq!(command("201"), None);
        assert_eq!(command("9999"), None);
        assert_eq!(command("20a1"), None);
    }

    #[test]
    fn mapping_2005() {
        let pairs = [
            ("B01", "w00000"),
            ("001", "w01001"),
            ("011", "w01018"),
            ("060", "w21003"),
            ("101", "w21011"),
            ("B02", "a00000"),
            ("01", "a34013"),
            ("02", "a21026"),
            ("03", "a21002"),
            ("S01", "a19001"),
            ("S08", "a01013"),
        ];
        for (old, new) in pairs {
            assert_eq!(code_2017_for_2005(old), Some(new), "{old}");
            assert_eq!(code_2005_for_2017(new), Some(old), "{new}");
        }
        assert_eq!(code_2017_for_2005("112"), None);
    }

    #[test]
    fn structural_codes() {
        for c in ["i12001", "I33400", "e10101", "g11901", "SB1", "SB12"] {
            assert!(is_structural_code(c), "{c}");
        }
        for c in ["a34006", "SB", "ixxxxx", "lng"] {
            assert!(!is_structural_code(c), "{c}");
        }
    }

    #[test]
    fn flags_and_returns() {
        assert_eq!(DataFlag::from_raw("N"), DataFlag::Normal);
        assert_eq!(DataFlag::from_raw("D"), DataFlag::Fault);
        assert_eq!(DataFlag::from_raw("X"), DataFlag::Other);
        for bad in ["X", "", "n", "NN", "\0", "N ", "\u{FFFD}"] {
            assert_eq!(DataFlag::parse(bad), None, "{bad:?}");
        }
        assert_eq!(DataFlag::parse("3"), Some(DataFlag::Normal));
        assert_eq!(QnRtn::from_code(9), Some(QnRtn::CrcError));
        assert_eq!(ExeRtn::from_code(100), Some(ExeRtn::NoData));
        assert_eq!(command("9014").map(|c| c.0), Some(CommandKind::Reply));
        assert_eq!(system("91").map(|s| s.1), Some("system interaction"));
    }
}
