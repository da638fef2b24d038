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

/// A CSV field, quoted when it needs to be.
pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
