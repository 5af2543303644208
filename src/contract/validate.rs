//! The row validator: turns a raw record into a typed row or names the one contract rule it breaks.

use std::fmt;

use super::taxonomy::{Category, Taxonomy};
use super::timestamp::parse_timestamp;
use super::{
    CHINA_LAT, CHINA_LON, Channel, Disposition, OrderStatus, Platform, Satisfaction, call_col as c, order_col as o,
};

/// Why a row breaks the contract; the code is what quarantine and truth files record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A required value is empty.
    MissingValue,
    /// A timestamp is in none of the contract's forms, or is not a real date and time.
    BadTimestamp,
    /// An enumeration value is neither a code nor a label.
    BadEnum,
    /// A category is not in the taxonomy.
    UnknownCategory,
    /// A coordinate is not a finite number.
    BadNumber,
    /// Only one of `lon` / `lat` is given.
    CoordinatesIncomplete,
    /// Coordinates fall outside China's bounding box.
    CoordinatesOutOfRange,
    /// Work-order timestamps out of order (`signed_at <= feedback_at <= closed_at`, none before `created_at`).
    TimestampOrder,
    /// A later row of the same batch has the key of an earlier one with different content.
    DuplicateKey,
    /// The record itself is unreadable: wrong number of CSV fields, a JSON line that is not an object.
    MalformedRecord,
    /// A JSON value of the wrong kind (an object or array where text is expected).
    BadType,
}

impl Reason {
    /// Every reason, in a fixed order.
    pub const ALL: [Reason; 11] = [
        Reason::MissingValue,
        Reason::BadTimestamp,
        Reason::BadEnum,
        Reason::UnknownCategory,
        Reason::BadNumber,
        Reason::CoordinatesIncomplete,
        Reason::CoordinatesOutOfRange,
        Reason::TimestampOrder,
        Reason::DuplicateKey,
        Reason::MalformedRecord,
        Reason::BadType,
    ];

    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MissingValue => "missing_value",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::BadEnum => "bad_enum",
            Reason::UnknownCategory => "unknown_category",
            Reason::BadNumber => "bad_number",
            Reason::CoordinatesIncomplete => "coordinates_incomplete",
            Reason::CoordinatesOutOfRange => "coordinates_out_of_range",
            Reason::TimestampOrder => "timestamp_order",
            Reason::DuplicateKey => "duplicate_key",
            Reason::MalformedRecord => "malformed_record",
            Reason::BadType => "bad_type",
        }
    }

    /// Parses a code.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The rule a row breaks: the reason and the column concerned (none for record-level problems).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which rule.
    pub reason: Reason,
    /// The column concerned.
    pub column: Option<&'static str>,
    /// A short explanation that never repeats personal data.
    pub detail: String,
}

impl Violation {
    /// A violation of `reason` in `column`.
    pub fn new(reason: Reason, column: Option<&'static str>, detail: impl Into<String>) -> Self {
        Violation { reason, column, detail: detail.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "{} in {column}: {}", self.reason, self.detail),
            None => write!(f, "{}: {}", self.reason, self.detail),
        }
    }
}

/// A valid `calls` row with typed values (timestamps in UTC microseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Unique call id.
    pub call_id: String,
    /// Receiving platform.
    pub platform: Platform,
    /// When the call was answered.
    pub received_at: i64,
    /// Phone as captured (raw, personal data).
    pub caller_phone: Option<String>,
    /// Name as given (raw, personal data).
    pub caller_name: Option<String>,
    /// Resident ID as given (raw, personal data).
    pub caller_id_number: Option<String>,
    /// Incident address.
    pub address: Option<String>,
    /// District or county.
    pub district: Option<String>,
    /// Grid cell id.
    pub grid_id: Option<String>,
    /// WGS84 longitude and latitude.
    pub lon_lat: Option<(f64, f64)>,
    /// Taxonomy category.
    pub category: &'static Category,
    /// The other party named by the caller.
    pub counterparty: Option<String>,
    /// Summary of the call.
    pub narrative: String,
    /// What the desk did.
    pub disposition: Disposition,
    /// Originating call when this record was created by a transfer.
    pub source_call_id: Option<String>,
}

/// A valid `work_orders` row with typed values.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkOrder {
    /// Unique order id.
    pub order_id: String,
    /// The call that created it.
    pub call_id: String,
    /// Creation time.
    pub created_at: i64,
    /// Creating platform.
    pub from_platform: Platform,
    /// Receiving platform of a transfer.
    pub to_platform: Option<Platform>,
    /// Hand-over channel.
    pub channel: Channel,
    /// Handling unit.
    pub department: Option<String>,
    /// Signed for.
    pub signed_at: Option<i64>,
    /// First feedback.
    pub feedback_at: Option<i64>,
    /// Closed.
    pub closed_at: Option<i64>,
    /// Current status.
    pub status: OrderStatus,
    /// Rating from the callback.
    pub satisfaction: Option<Satisfaction>,
    /// When the caller was called back.
    pub callback_at: Option<i64>,
}

/// A record's fields in contract column order; `None` is a null or empty value.
type Fields<'a> = &'a [Option<String>];

fn text(fields: Fields<'_>, i: usize) -> Option<&str> {
    fields.get(i).and_then(|f| f.as_deref()).map(str::trim).filter(|s| !s.is_empty())
}

fn owned(fields: Fields<'_>, i: usize) -> Option<String> {
    text(fields, i).map(str::to_owned)
}

fn required<'a>(fields: Fields<'a>, i: usize, name: &'static str) -> Result<&'a str, Violation> {
    text(fields, i).ok_or_else(|| Violation::new(Reason::MissingValue, Some(name), "required value is empty"))
}

fn timestamp(value: &str, name: &'static str) -> Result<i64, Violation> {
    parse_timestamp(value).ok_or_else(|| {
        Violation::new(Reason::BadTimestamp, Some(name), "expected ISO 8601 with offset or YYYY-MM-DD HH:MM:SS")
    })
}

fn optional_timestamp(fields: Fields<'_>, i: usize, name: &'static str) -> Result<Option<i64>, Violation> {
    text(fields, i).map(|v| timestamp(v, name)).transpose()
}

fn enumeration<E>(
    value: &str,
    name: &'static str,
    parse: fn(&str) -> Option<E>,
    codes: &[&str],
) -> Result<E, Violation> {
    parse(value).ok_or_else(|| {
        Violation::new(Reason::BadEnum, Some(name), format!("expected one of {} or a Chinese label", codes.join(", ")))
    })
}

fn codes<E: Copy>(all: &[E], code: fn(E) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|&e| code(e)).collect()
}

fn platform(value: &str, name: &'static str) -> Result<Platform, Violation> {
    enumeration(value, name, Platform::parse, &codes(Platform::ALL, Platform::code))
}

fn degrees(fields: Fields<'_>, i: usize, name: &'static str) -> Result<Option<f64>, Violation> {
    match text(fields, i) {
        None => Ok(None),
        Some(v) => match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(Violation::new(Reason::BadNumber, Some(name), "not a finite decimal number")),
        },
    }
}

/// Validates a `calls` record whose fields are in [`super::CALL_COLUMNS`] order.
pub fn validate_call(fields: Fields<'_>) -> Result<Call, Violation> {
    let call_id = required(fields, c::CALL_ID, "call_id")?.to_owned();
    let platform = platform(required(fields, c::PLATFORM, "platform")?, "platform")?;
    let received_at = timestamp(required(fields, c::RECEIVED_AT, "received_at")?, "received_at")?;
    let lon = degrees(fields, c::LON, "lon")?;
    let lat = degrees(fields, c::LAT, "lat")?;
    let lon_lat = match (lon, lat) {
        (None, None) => None,
        (Some(lon), Some(lat)) => {
            let inside = (CHINA_LON.0..=CHINA_LON.1).contains(&lon) && (CHINA_LAT.0..=CHINA_LAT.1).contains(&lat);
            if !inside {
                return Err(Violation::new(
                    Reason::CoordinatesOutOfRange,
                    Some(if (CHINA_LON.0..=CHINA_LON.1).contains(&lon) { "lat" } else { "lon" }),
                    "outside China's bounding box (73..136 E, 3..54 N)",
                ));
            }
            Some((lon, lat))
        }
        (Some(_), None) => {
            return Err(Violation::new(Reason::CoordinatesIncomplete, Some("lat"), "lon given without lat"));
        }
        (None, Some(_)) => {
            return Err(Violation::new(Reason::CoordinatesIncomplete, Some("lon"), "lat given without lon"));
        }
    };
    let category_text = required(fields, c::CATEGORY, "category")?;
    let category = Taxonomy::builtin()
        .get(category_text)
        .ok_or_else(|| Violation::new(Reason::UnknownCategory, Some("category"), "not a taxonomy code or name"))?;
    let narrative = required(fields, c::NARRATIVE, "narrative")?.to_owned();
    let disposition = enumeration(
        required(fields, c::DISPOSITION, "disposition")?,
        "disposition",
        Disposition::parse,
        &codes(Disposition::ALL, Disposition::code),
    )?;
    Ok(Call {
        call_id,
        platform,
        received_at,
        caller_phone: owned(fields, c::CALLER_PHONE),
        caller_name: owned(fields, c::CALLER_NAME),
        caller_id_number: owned(fields, c::CALLER_ID_NUMBER),
        address: owned(fields, c::ADDRESS),
        district: owned(fields, c::DISTRICT),
        grid_id: owned(fields, c::GRID_ID),
        lon_lat,
        category,
        counterparty: owned(fields, c::COUNTERPARTY),
        narrative,
        disposition,
        source_call_id: owned(fields, c::SOURCE_CALL_ID),
    })
}

/// Validates a `work_orders` record whose fields are in [`super::WORK_ORDER_COLUMNS`] order.
pub fn validate_work_order(fields: Fields<'_>) -> Result<WorkOrder, Violation> {
    let order_id = required(fields, o::ORDER_ID, "order_id")?.to_owned();
    let call_id = required(fields, o::CALL_ID, "call_id")?.to_owned();
    let created_at = timestamp(required(fields, o::CREATED_AT, "created_at")?, "created_at")?;
    let from_platform = platform(required(fields, o::FROM_PLATFORM, "from_platform")?, "from_platform")?;
    let to_platform = text(fields, o::TO_PLATFORM).map(|v| platform(v, "to_platform")).transpose()?;
    let channel = enumeration(
        required(fields, o::CHANNEL, "channel")?,
        "channel",
        Channel::parse,
        &codes(Channel::ALL, Channel::code),
    )?;
    let signed_at = optional_timestamp(fields, o::SIGNED_AT, "signed_at")?;
    let feedback_at = optional_timestamp(fields, o::FEEDBACK_AT, "feedback_at")?;
    let closed_at = optional_timestamp(fields, o::CLOSED_AT, "closed_at")?;
    let status = enumeration(
        required(fields, o::STATUS, "status")?,
        "status",
        OrderStatus::parse,
        &codes(OrderStatus::ALL, OrderStatus::code),
    )?;
    let satisfaction = text(fields, o::SATISFACTION)
        .map(|v| enumeration(v, "satisfaction", Satisfaction::parse, &codes(Satisfaction::ALL, Satisfaction::code)))
        .transpose()?;
    let callback_at = optional_timestamp(fields, o::CALLBACK_AT, "callback_at")?;

    // signed_at <= feedback_at <= closed_at where present; none before created_at.
    let stages = [("signed_at", signed_at), ("feedback_at", feedback_at), ("closed_at", closed_at)];
    let mut previous = ("created_at", created_at);
    for (name, value) in stages {
        if let Some(value) = value {
            if value < previous.1 {
                return Err(Violation::new(
                    Reason::TimestampOrder,
                    Some(name),
                    format!("{name} is before {}", previous.0),
                ));
            }
            previous = (name, value);
        }
    }
    if callback_at.is_some_and(|t| t < created_at) {
        return Err(Violation::new(Reason::TimestampOrder, Some("callback_at"), "callback_at is before created_at"));
    }
    Ok(WorkOrder {
        order_id,
        call_id,
        created_at,
        from_platform,
        to_platform,
        channel,
        department: owned(fields, o::DEPARTMENT),
        signed_at,
        feedback_at,
        closed_at,
        status,
        satisfaction,
        callback_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_fields() -> Vec<Option<String>> {
        let values = [
            "110-20230719-000123",
            "110",
            "2023-07-19 13:02:11",
            "13800001234",
            "王先生",
            "",
            "宜昌市西陵区东山大道1号",
            "西陵区",
            "420502001002",
            "111.29",
            "30.71",
            "医美纠纷",
            "某某医疗美容诊所",
            "来电人称做双眼皮后感染，要求赔偿。",
            "转办",
            "",
        ];
        values.iter().map(|v| (!v.is_empty()).then(|| v.to_string())).collect()
    }

    fn order_fields() -> Vec<Option<String>> {
        let values = [
            "WO-1",
            "110-20230719-000123",
            "2023-07-19T13:03:00+08:00",
            "110",
            "12345",
            "一键转接",
            "卫健委",
            "2023-07-19T13:04:00+08:00",
            "2023-07-19T14:00:00+08:00",
            "2023-07-21T10:00:00+08:00",
            "已办结",
            "满意",
            "2023-07-22T10:00:00+08:00",
        ];
        values.iter().map(|v| (!v.is_empty()).then(|| v.to_string())).collect()
    }

    fn call_breaks(index: usize, value: Option<&str>) -> Violation {
        let mut fields = call_fields();
        fields[index] = value.map(str::to_owned);
        validate_call(&fields).unwrap_err()
    }

    fn order_breaks(index: usize, value: Option<&str>) -> Violation {
        let mut fields = order_fields();
        fields[index] = value.map(str::to_owned);
        validate_work_order(&fields).unwrap_err()
    }

    #[test]
    fn a_good_call_parses_labels_to_codes() {
        let call = validate_call(&call_fields()).unwrap();
        assert_eq!(call.category.code, "DISPUTE.MEDICAL_BEAUTY");
        assert_eq!(call.disposition, Disposition::Transferred);
        assert_eq!(call.lon_lat, Some((111.29, 30.71)));
        assert_eq!(call.caller_id_number, None);
        assert_eq!(call.source_call_id, None);
    }

    #[test]
    fn each_call_rule_is_named() {
        let cases = [
            (c::CALL_ID, None, Reason::MissingValue, "call_id"),
            (c::NARRATIVE, Some("   "), Reason::MissingValue, "narrative"),
            (c::PLATFORM, Some("911"), Reason::BadEnum, "platform"),
            (c::RECEIVED_AT, Some("2023-13-01 00:00:00"), Reason::BadTimestamp, "received_at"),
            (c::CATEGORY, Some("UFO.SIGHTING"), Reason::UnknownCategory, "category"),
            (c::DISPOSITION, Some("挂断"), Reason::BadEnum, "disposition"),
            (c::LON, Some("east"), Reason::BadNumber, "lon"),
            (c::LAT, None, Reason::CoordinatesIncomplete, "lat"),
            (c::LON, None, Reason::CoordinatesIncomplete, "lon"),
            (c::LON, Some("2.35"), Reason::CoordinatesOutOfRange, "lon"),
            (c::LAT, Some("-30.71"), Reason::CoordinatesOutOfRange, "lat"),
            (c::LAT, Some("NaN"), Reason::BadNumber, "lat"),
        ];
        for (index, value, reason, column) in cases {
            let violation = call_breaks(index, value);
            assert_eq!((violation.reason, violation.column), (reason, Some(column)), "{value:?}");
        }
    }

    #[test]
    fn each_work_order_rule_is_named() {
        let cases = [
            (o::ORDER_ID, None, Reason::MissingValue, "order_id"),
            (o::CALL_ID, None, Reason::MissingValue, "call_id"),
            (o::CREATED_AT, Some("yesterday"), Reason::BadTimestamp, "created_at"),
            (o::FROM_PLATFORM, Some("999"), Reason::BadEnum, "from_platform"),
            (o::TO_PLATFORM, Some("x"), Reason::BadEnum, "to_platform"),
            (o::CHANNEL, Some("FAX"), Reason::BadEnum, "channel"),
            (o::STATUS, Some("LOST"), Reason::BadEnum, "status"),
            (o::SATISFACTION, Some("很好"), Reason::BadEnum, "satisfaction"),
            (o::SIGNED_AT, Some("2023-07-19T13:02:00+08:00"), Reason::TimestampOrder, "signed_at"),
            (o::FEEDBACK_AT, Some("2023-07-19T13:03:30+08:00"), Reason::TimestampOrder, "feedback_at"),
            (o::CLOSED_AT, Some("2023-07-19T13:59:00+08:00"), Reason::TimestampOrder, "closed_at"),
            (o::CALLBACK_AT, Some("2023-07-19T12:00:00+08:00"), Reason::TimestampOrder, "callback_at"),
            (o::CLOSED_AT, Some("2023-07-21 25:00:00"), Reason::BadTimestamp, "closed_at"),
        ];
        for (index, value, reason, column) in cases {
            let violation = order_breaks(index, value);
            assert_eq!((violation.reason, violation.column), (reason, Some(column)), "{value:?}");
        }
    }

    #[test]
    fn optional_values_may_be_empty() {
        let mut fields = order_fields();
        for i in
            [o::TO_PLATFORM, o::DEPARTMENT, o::SIGNED_AT, o::FEEDBACK_AT, o::CLOSED_AT, o::SATISFACTION, o::CALLBACK_AT]
        {
            fields[i] = None;
        }
        let order = validate_work_order(&fields).unwrap();
        assert_eq!(order.signed_at, None);
        // Feedback without signing is still ordered against creation.
        fields[o::FEEDBACK_AT] = Some("2023-07-19T13:00:00+08:00".into());
        assert_eq!(validate_work_order(&fields).unwrap_err().reason, Reason::TimestampOrder);
    }

    #[test]
    fn reason_codes_round_trip() {
        for reason in Reason::ALL {
            assert_eq!(Reason::from_code(reason.code()), Some(reason));
        }
    }
}
