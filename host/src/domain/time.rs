//! Times are kept as milliseconds since the Unix epoch (UTC) everywhere
//! inside the host; RFC 3339 only at the edges.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

pub type Millis = i64;

/// The last instant an RFC 3339 date can name (9999-12-31T23:59:59.999Z):
/// a time a plugin returns past it is refused, not wrapped to 1970.
pub const LATEST_MS: Millis = 253_402_300_799_999;

/// A day, in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc).timestamp_millis())
}

pub fn to_rfc3339(ms: Millis) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The UTC day number (days since the epoch) of an instant.
pub fn utc_day(ms: Millis) -> i64 {
    ms.div_euclid(86_400_000)
}

/// `#[serde(serialize_with = "rfc3339")]`: a time as RFC 3339 in JSON.
pub fn rfc3339<S: serde::Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_rfc3339(*ms))
}

/// As [`rfc3339`], for a time that may be absent (`null`).
pub fn rfc3339_opt<S: serde::Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => rfc3339(ms, s),
        None => s.serialize_none(),
    }
}

/// The offset from UTC of IANA zone `timezone` at `at`, in milliseconds
/// (local time = UTC + offset); 0 for an unknown zone.
pub fn utc_offset_ms(timezone: &str, at: Millis) -> i64 {
    use chrono::{Offset, TimeZone};
    let Ok(tz) = timezone.parse::<chrono_tz::Tz>() else {
        return 0;
    };
    let instant = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
    let seconds = tz.offset_from_utc_datetime(&instant.naive_utc()).fix().local_minus_utc();
    i64::from(seconds) * 1000
}
