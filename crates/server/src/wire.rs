//! How values are written on the wire: times as RFC 3339 in Beijing time, CSV fields.

use crate::error::{ApiError, ApiResult};

/// RFC 3339 in Beijing time of a Unix millisecond.
pub(crate) fn iso(ms: i64) -> String {
    bjtime::rfc3339_ms(ms)
}

/// An RFC 3339 time of a request parameter, or 400 naming the parameter.
pub(crate) fn parse_time(name: &str, text: &str) -> ApiResult<i64> {
    bjtime::parse_rfc3339(text).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
}

/// A CSV file being written (RFC 4180 quoting by the `csv` crate, `\n` line ends), optionally
/// with a byte-order mark so that spreadsheet programs read it as UTF-8.
pub(crate) struct Csv(csv::Writer<Vec<u8>>);

impl Csv {
    /// A file whose first row is `header`.
    pub(crate) fn new(bom: bool, header: &[&str]) -> Self {
        let start = if bom {
            b"\xEF\xBB\xBF".to_vec()
        } else {
            Vec::new()
        };
        let mut c = Self(
            csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .flexible(true)
                .from_writer(start),
        );
        c.row(header);
        c
    }

    /// Appends a row.
    pub(crate) fn row<I, T>(&mut self, fields: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        // Writing to memory cannot fail.
        let _ = self.0.write_record(fields);
    }

    /// The file's text.
    pub(crate) fn into_string(self) -> String {
        let bytes = self.0.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}
