//! The CP data area: `name=value` items, the sub-field names of HJ 212-2017 Table 4, and the
//! tolerant tokeniser both the decoder and [`crate::Message`] use.
//!
//! The grammar in the standard is `group;group` with `item,item` inside a group, but the
//! standard's own examples mix the delimiters, so items are read regardless of which delimiter
//! separates them and grouped by their code prefix (`w01018-Rtd` belongs to `w01018`), not by
//! the delimiter. Log text wrapped in `//…//` may contain `;`, `,` and `=`, so delimiters inside
//! it are ignored. Spaces around names and values are trimmed; empty items (a trailing `;`) are
//! skipped.

/// A byte range in a packet's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Self {
        Self {
            start: start as u32,
            end: end as u32,
        }
    }

    pub(crate) fn get(self, text: &str) -> &str {
        text.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    pub(crate) fn is_empty(self) -> bool {
        self.start >= self.end
    }
}

/// An order-preserving integer key for a name of at most 8 bytes (big-endian, zero-padded),
/// so that codes compare and binary-search as integers; longer names give `u64::MAX`.
pub(crate) const fn key8(b: &[u8]) -> u64 {
    if b.len() > 8 {
        return u64::MAX;
    }
    let mut v: u64 = 0;
    let mut i = 0;
    while i < 8 {
        v <<= 8;
        if i < b.len() {
            v |= b[i] as u64;
        }
        i += 1;
    }
    v
}

/// [`key8`] of `text[start..end]`, reading one 8-byte word from the text when it can (the hot
/// path: every item of every packet) instead of assembling bytes one by one.
#[inline]
pub(crate) fn key8_at(text: &[u8], start: usize, end: usize) -> u64 {
    let len = end.saturating_sub(start);
    if len > 8 {
        return u64::MAX;
    }
    match text.get(start..start + 8) {
        Some(word) if len > 0 => {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            u64::from_be_bytes(w) & (u64::MAX << (8 * (8 - len)))
        }
        _ => key8(text.get(start..end).unwrap_or_default()),
    }
}

/// The sub-field of a pollutant or device item (the part after `-` in `w01018-Rtd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// `-Rtd`: real-time value.
    Rtd,
    /// `-Avg`: interval mean.
    Avg,
    /// `-Min`: interval minimum.
    Min,
    /// `-Max`: interval maximum.
    Max,
    /// `-Cou`: interval cumulative amount.
    Cou,
    /// `-Flag`: data flag.
    Flag,
    /// `-EFlag`: instrument-defined extended flag.
    EFlag,
    /// `-ZsRtd`: converted (折算) real-time value.
    ZsRtd,
    /// `-ZsAvg`: converted mean.
    ZsAvg,
    /// `-ZsMin`: converted minimum.
    ZsMin,
    /// `-ZsMax`: converted maximum.
    ZsMax,
    /// `-SampleTime`: sampling time of the value.
    SampleTime,
    /// `-Info`: field-unit information value.
    Info,
    /// `-Data`: noise value over the period.
    Data,
    /// `-DayData`: daytime noise value.
    DayData,
    /// `-NightData`: night-time noise value.
    NightData,
    /// `-SN`: instrument serial number.
    Sn,
    /// `-RS`: facility running state.
    Rs,
    /// `-RT`: facility running hours.
    Rt,
    /// Anything else (vendor suffixes such as `-ValidNum`, typos such as `-td`); kept as sent.
    Other,
}

impl FieldKind {
    /// Every known kind, in the order the codec writes them.
    pub const KNOWN: [FieldKind; 19] = [
        Self::SampleTime,
        Self::Rtd,
        Self::Min,
        Self::Avg,
        Self::Max,
        Self::ZsRtd,
        Self::ZsMin,
        Self::ZsAvg,
        Self::ZsMax,
        Self::Cou,
        Self::Data,
        Self::DayData,
        Self::NightData,
        Self::Info,
        Self::Sn,
        Self::Rs,
        Self::Rt,
        Self::Flag,
        Self::EFlag,
    ];

    /// The kind for a sub-field name as written in a packet (case-sensitive, as the standard is).
    pub fn from_name(name: &str) -> Self {
        Self::from_bytes(name.as_bytes())
    }

    /// [`FieldKind::from_name`] over bytes, written as array patterns so that it compiles to a
    /// switch on the length and a few byte comparisons (the decoder's hot path).
    #[inline]
    pub(crate) fn from_bytes(name: &[u8]) -> Self {
        match name {
            [b'R', b't', b'd'] => Self::Rtd,
            [b'A', b'v', b'g'] => Self::Avg,
            [b'M', b'i', b'n'] => Self::Min,
            [b'M', b'a', b'x'] => Self::Max,
            [b'C', b'o', b'u'] => Self::Cou,
            [b'F', b'l', b'a', b'g'] => Self::Flag,
            [b'I', b'n', b'f', b'o'] => Self::Info,
            [b'D', b'a', b't', b'a'] => Self::Data,
            [b'E', b'F', b'l', b'a', b'g'] => Self::EFlag,
            [b'Z', b's', b'R', b't', b'd'] => Self::ZsRtd,
            [b'Z', b's', b'A', b'v', b'g'] => Self::ZsAvg,
            [b'Z', b's', b'M', b'i', b'n'] => Self::ZsMin,
            [b'Z', b's', b'M', b'a', b'x'] => Self::ZsMax,
            [b'S', b'N'] => Self::Sn,
            [b'R', b'S'] => Self::Rs,
            [b'R', b'T'] => Self::Rt,
            [b'D', b'a', b'y', b'D', b'a', b't', b'a'] => Self::DayData,
            [b'N', b'i', b'g', b'h', b't', b'D', b'a', b't', b'a'] => Self::NightData,
            [b'S', b'a', b'm', b'p', b'l', b'e', b'T', b'i', b'm', b'e'] => Self::SampleTime,
            _ => Self::Other,
        }
    }

    /// The name as written in packets (`Rtd`, `ZsAvg`, ...); empty for [`FieldKind::Other`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Rtd => "Rtd",
            Self::Avg => "Avg",
            Self::Min => "Min",
            Self::Max => "Max",
            Self::Cou => "Cou",
            Self::Flag => "Flag",
            Self::EFlag => "EFlag",
            Self::ZsRtd => "ZsRtd",
            Self::ZsAvg => "ZsAvg",
            Self::ZsMin => "ZsMin",
            Self::ZsMax => "ZsMax",
            Self::SampleTime => "SampleTime",
            Self::Info => "Info",
            Self::Data => "Data",
            Self::DayData => "DayData",
            Self::NightData => "NightData",
            Self::Sn => "SN",
            Self::Rs => "RS",
            Self::Rt => "RT",
            Self::Other => "",
        }
    }

    /// The snake-case name used in JSON (`rtd`, `zs_avg`, `sample_time`, ...).
    pub fn json_name(self) -> &'static str {
        match self {
            Self::Rtd => "rtd",
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
            Self::Cou => "cou",
            Self::Flag => "flag",
            Self::EFlag => "eflag",
            Self::ZsRtd => "zs_rtd",
            Self::ZsAvg => "zs_avg",
            Self::ZsMin => "zs_min",
            Self::ZsMax => "zs_max",
            Self::SampleTime => "sample_time",
            Self::Info => "info",
            Self::Data => "data",
            Self::DayData => "day_data",
            Self::NightData => "night_data",
            Self::Sn => "sn",
            Self::Rs => "rs",
            Self::Rt => "rt",
            Self::Other => "",
        }
    }

    /// The kind for a JSON name (the inverse of [`FieldKind::json_name`]).
    pub fn from_json_name(name: &str) -> Option<Self> {
        Self::KNOWN.into_iter().find(|k| k.json_name() == name)
    }

    /// True for fields whose value is a measurement number.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Self::Rtd
                | Self::Avg
                | Self::Min
                | Self::Max
                | Self::Cou
                | Self::ZsRtd
                | Self::ZsAvg
                | Self::ZsMin
                | Self::ZsMax
                | Self::Data
                | Self::DayData
                | Self::NightData
                | Self::Rt
                | Self::Rs
        )
    }
}

/// One `name=value` token of a data area, as byte offsets into the text it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    /// The name, trimmed.
    pub name: Span,
    /// The value, trimmed (empty when the token had no `=`).
    pub value: Span,
    /// False when the token had no `=`.
    pub has_eq: bool,
    /// The delimiter before this token (`;`, `,`), or 0 for the first.
    pub delimiter: u8,
    /// True when spaces were trimmed from the name or value.
    pub trimmed: bool,
    /// Position of the last `-` in the name (`u32::MAX` if none): the code/field split.
    pub dash: u32,
}

#[inline]
fn trim_span(text: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    let edge_space = |i: usize| text.get(i).is_some_and(u8::is_ascii_whitespace);
    if start >= end || !(edge_space(start) || edge_space(end - 1)) {
        return (start, end);
    }
    while start < end && text[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && text[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    (start, end)
}

/// The bytes the tokeniser acts on: `=`, `;`, `,`, `/` and `-`.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'-' as usize] = true;
    t[b'=' as usize] = true;
    t[b';' as usize] = true;
    t[b',' as usize] = true;
    t[b'/' as usize] = true;
    t
};

/// Splits `text[start..end]` into tokens, calling `each` for every non-empty one.
pub(crate) fn tokenize(text: &str, start: usize, end: usize, mut each: impl FnMut(Token)) {
    let b = text.as_bytes();
    let end = end.min(b.len());
    let mut token_start = start;
    let mut delimiter = 0u8;
    let mut eq: Option<usize> = None;
    let mut dash = u32::MAX;
    let mut emit =
        |token_start: usize, token_end: usize, eq: Option<usize>, delimiter: u8, dash: u32| {
            let token = match eq {
                Some(e) => {
                    let (ns, ne) = trim_span(b, token_start, e);
                    let (vs, ve) = trim_span(b, e + 1, token_end);
                    let trimmed = ns != token_start || ne != e || vs != e + 1 || ve != token_end;
                    Token {
                        name: Span::new(ns, ne),
                        value: Span::new(vs, ve),
                        has_eq: true,
                        delimiter,
                        trimmed,
                        dash,
                    }
                }
                None => {
                    let (ts, te) = trim_span(b, token_start, token_end);
                    if ts == te {
                        return;
                    }
                    Token {
                        name: Span::new(ts, te),
                        value: Span::new(te, te),
                        has_eq: false,
                        delimiter,
                        trimmed: false,
                        dash,
                    }
                }
            };
            each(token);
        };
    let mut p = start;
    while p < end {
        // Most bytes are digits and letters: one table test each, well predicted.
        if !SPECIAL[usize::from(b[p])] {
            p += 1;
            continue;
        }
        match b[p] {
            b'=' if eq.is_none() => {
                eq = Some(p);
                // `//` right after `=` opens log text (2017 Table C.40): skip to its end.
                if matches!(b.get(p + 1), Some(b'/' | b' ')) {
                    let mut j = p + 1;
                    while j < end && b[j] == b' ' {
                        j += 1;
                    }
                    if j + 1 < end && b[j] == b'/' && b[j + 1] == b'/' {
                        p = b[j + 2..end]
                            .windows(2)
                            .position(|w| w == b"//")
                            .map_or(end, |k| j + 2 + k + 2);
                        continue;
                    }
                }
            }
            b'-' if eq.is_none() => dash = p as u32,
            b';' | b',' => {
                emit(token_start, p, eq, delimiter, dash);
                delimiter = b[p];
                token_start = p + 1;
                eq = None;
                dash = u32::MAX;
            }
            _ => {}
        }
        p += 1;
    }
    emit(token_start, end, eq, delimiter, dash);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<(String, String, char)> {
        let mut out = Vec::new();
        tokenize(text, 0, text.len(), |t| {
            out.push((
                t.name.get(text).to_owned(),
                t.value.get(text).to_owned(),
                if t.delimiter == 0 {
                    ' '
                } else {
                    char::from(t.delimiter)
                },
            ));
        });
        out
    }

    #[test]
    fn mixed_delimiters_spaces_and_trailing() {
        let t = tokens("DataTime=1; LA -Rtd =50.1,LA-Flag=N;;");
        assert_eq!(
            t,
            vec![
                ("DataTime".into(), "1".into(), ' '),
                ("LA -Rtd".into(), "50.1".into(), ';'),
                ("LA-Flag".into(), "N".into(), ','),
            ]
        );
    }

    #[test]
    fn log_text_keeps_delimiters() {
        let t = tokens("PolId=w01018;i11001-Info=//a;b,c=d//;x=1");
        assert_eq!(t[1].1, "//a;b,c=d//");
        assert_eq!(t[2].0, "x");
        let chinese = tokens("i11001-Info=//清洗管路//");
        assert_eq!(chinese[0].1, "//清洗管路//");
    }

    #[test]
    fn item_without_equals() {
        let t = tokens("a=1;junk;b=2");
        assert_eq!(t[1], ("junk".into(), "".into(), ';'));
    }

    #[test]
    fn dash_marks_the_code_field_split() {
        let text = "w01018-Rtd=-1.5,LA -Rtd=2;DataTime=x";
        let mut dashes = Vec::new();
        tokenize(text, 0, text.len(), |t| dashes.push(t.dash));
        assert_eq!(dashes, vec![6, 19, u32::MAX]);
    }

    #[test]
    fn keys_agree_and_keep_order() {
        let text = b"w01018-Rtd=1;L5-Data=2;L50-Data=3;LA-Rtd=4;abcdefghi-Rtd=5";
        for (s, e) in [(0, 6), (13, 15), (24, 27), (35, 37), (44, 53), (0, 0)] {
            assert_eq!(key8_at(text, s, e), key8(&text[s..e]), "{s}..{e}");
        }
        let rtd = text.len() - 5;
        assert_eq!(
            key8_at(text, rtd, rtd + 3),
            key8(b"Rtd"),
            "near the end of the text"
        );
        assert!(key8(b"L5") < key8(b"L50"));
        assert!(key8(b"L50") < key8(b"LA"));
        assert_eq!(key8(b"abcdefghi"), u64::MAX);
    }

    #[test]
    fn field_kind_names_round_trip() {
        for k in FieldKind::KNOWN {
            assert_eq!(FieldKind::from_name(k.name()), k);
            let n = k.name().as_bytes();
            assert_eq!(FieldKind::from_bytes(n), k);
            assert_eq!(FieldKind::from_json_name(k.json_name()), Some(k));
        }
        assert_eq!(FieldKind::from_name("td"), FieldKind::Other);
        assert_eq!(FieldKind::from_bytes(b"Rtd\0"), FieldKind::Other);
        assert_eq!(FieldKind::from_bytes(b"ValidNumber"), FieldKind::Other);
    }
}
