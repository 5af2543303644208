//! The calibrated call model: platform mix, category weights, daily / weekly / seasonal rhythm and the published figures it targets.

use chrono::{Datelike, NaiveDate, Weekday};

use super::lexicon::CounterpartyKind as K;

/// Published figures the generator is calibrated to (shares, 0..1).
pub mod targets {
    /// Non-police share of valid 110 calls (Jiangsu).
    pub const NON_POLICE_SHARE: f64 = 0.254;
    /// Diversion rate of non-police valid 110 calls (Yichang).
    pub const DIVERSION_RATE: f64 = 0.93;
    /// Non-police valid 110 calls answered on the spot. Jiangsu's published 53% cannot hold with a
    /// 93% diversion rate under one disposition per call; the rest after diversion and a little dispatch is used.
    pub const SELF_HANDLING_RATE: f64 = 0.06;
    /// Orders signed within 3 minutes (Wuxi).
    pub const SIGNING_3MIN: f64 = 0.996;
    /// Orders with feedback within 2 hours (Wuxi).
    pub const FEEDBACK_2H: f64 = 0.97;
    /// Rated orders rated satisfied or basically satisfied (Wuxi).
    pub const SATISFACTION: f64 = 0.975;
    /// 110 transfer orders that come back (no published figure; a plausible level).
    pub const REFLOW: f64 = 0.04;
}

/// Shares of original calls by receiving platform group.
pub const SHARE_110: f64 = 0.48;
/// Share of original calls made to 12345.
pub const SHARE_12345: f64 = 0.42;
/// Share of 110 calls that are pranks or misdials.
pub const INVALID_110: f64 = 0.08;
/// Share of 12345 calls that are really police matters, handed back to 110.
pub const POLICE_AT_12345: f64 = 0.03;

/// Non-police share to use for original 110 calls so that, counting the police matters 12345
/// hands back to 110 as valid 110 calls too, the published share comes out.
pub fn non_police_share_of_original_110() -> f64 {
    let valid_110 = SHARE_110 * (1.0 - INVALID_110);
    let handed_back = SHARE_12345 * POLICE_AT_12345;
    targets::NON_POLICE_SHARE * (valid_110 + handed_back) / valid_110
}

/// When in the day a kind of call comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayShape {
    /// Daytime with morning and afternoon peaks.
    Day,
    /// Office hours.
    Office,
    /// Evening and night (noise, drinking, fights).
    Night,
    /// Morning and evening rush hours (moving a blocking car, accidents).
    Rush,
    /// Evenings at home (family matters).
    Evening,
    /// Around the clock (emergencies).
    Flat,
}

impl DayShape {
    /// Relative weight of each hour (local time).
    pub fn hours(self) -> [f64; 24] {
        match self {
            DayShape::Day => [
                0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 2.0, 2.1, 1.9, 1.5, 1.5, 1.9, 2.0, 2.0, 1.8, 1.6, 1.5,
                1.3, 1.0, 0.7, 0.5,
            ],
            DayShape::Office => [
                0.05, 0.03, 0.02, 0.02, 0.02, 0.05, 0.2, 0.8, 2.2, 3.0, 3.0, 2.6, 1.2, 1.5, 2.8, 3.0, 2.8, 2.2, 1.0,
                0.6, 0.4, 0.3, 0.15, 0.08,
            ],
            DayShape::Night => [
                2.6, 2.0, 1.3, 0.8, 0.4, 0.2, 0.2, 0.3, 0.4, 0.4, 0.5, 0.6, 0.7, 0.6, 0.6, 0.7, 0.8, 1.0, 1.3, 1.7,
                2.2, 2.8, 3.2, 3.0,
            ],
            DayShape::Rush => [
                0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 1.2, 3.2, 3.4, 1.8, 1.2, 1.1, 1.2, 1.0, 1.0, 1.1, 1.5, 2.6, 3.0, 2.0,
                1.4, 1.0, 0.6, 0.4,
            ],
            DayShape::Evening => [
                0.8, 0.5, 0.3, 0.2, 0.1, 0.1, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 1.7, 2.2,
                2.5, 2.5, 2.0, 1.4,
            ],
            DayShape::Flat => [
                0.8, 0.7, 0.6, 0.6, 0.6, 0.7, 0.9, 1.0, 1.1, 1.1, 1.1, 1.1, 1.1, 1.0, 1.0, 1.1, 1.1, 1.1, 1.2, 1.2,
                1.2, 1.1, 1.0, 0.9,
            ],
        }
    }
}

/// How a category's volume moves through the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    /// Steady.
    None,
    /// Summer peak (drowning).
    Swimming,
    /// Warm nights (noise, fights, drinking).
    WarmNights,
    /// Unpaid wages before the Spring Festival.
    YearEndWages,
    /// Summer heat and winter cold (utilities, power).
    Weather,
    /// Spring Festival fireworks and family gatherings.
    Festival,
}

/// How the generator models one taxonomy category.
#[derive(Debug, Clone, Copy)]
pub struct CategoryModel {
    /// Taxonomy code.
    pub code: &'static str,
    /// Relative weight among original 110 calls of its kind (police or non-police).
    pub weight_110: f64,
    /// Relative weight among original 12345 calls.
    pub weight_12345: f64,
    /// Hour-of-day shape.
    pub shape: DayShape,
    /// Seasonality.
    pub season: Season,
    /// Kinds of counterparty a caller may name (empty when none).
    pub counterparties: &'static [K],
    /// Whether callers almost always name the counterparty.
    pub counterparty_central: bool,
    /// Rough range of money sums in the narrative (yuan).
    pub amount: (u32, u32),
}

#[allow(clippy::too_many_arguments)] // a table row constructor: one argument per column
const fn m(
    code: &'static str,
    weight_110: f64,
    weight_12345: f64,
    shape: DayShape,
    season: Season,
    counterparties: &'static [K],
    counterparty_central: bool,
    amount: (u32, u32),
) -> CategoryModel {
    CategoryModel { code, weight_110, weight_12345, shape, season, counterparties, counterparty_central, amount }
}

use DayShape as D;
use Season as S;

/// Every taxonomy category's model, in taxonomy order.
#[rustfmt::skip]
pub const CATEGORY_MODELS: [CategoryModel; 40] = [
    m("CRIM.THEFT", 14.0, 0.0, D::Day, S::None, &[K::Shop, K::Supermarket], false, (300, 12_000)),
    m("CRIM.FRAUD", 12.0, 0.0, D::Day, S::None, &[K::Shop, K::Logistics], false, (800, 300_000)),
    m("CRIM.EXTORTION", 1.2, 0.0, D::Day, S::None, &[K::Restaurant, K::Shop, K::BarKtv, K::MedicalBeautyClinic], false, (5_000, 200_000)),
    m("CRIM.ROBBERY", 1.5, 0.0, D::Night, S::None, &[], false, (200, 8_000)),
    m("CRIM.ASSAULT", 4.0, 0.0, D::Night, S::WarmNights, &[K::Shop, K::Restaurant], false, (1_000, 20_000)),
    m("PUBORD.FIGHT", 13.0, 0.0, D::Night, S::WarmNights, &[K::Restaurant, K::BarKtv], false, (500, 5_000)),
    m("PUBORD.DISTURB", 5.0, 0.0, D::Night, S::None, &[K::Restaurant, K::Shop], false, (500, 5_000)),
    m("PUBORD.DRUNK", 5.0, 0.0, D::Night, S::WarmNights, &[K::Restaurant, K::BarKtv], false, (200, 3_000)),
    m("DOMESTIC.VIOLENCE", 5.0, 0.0, D::Evening, S::Festival, &[], false, (0, 0)),
    m("TRAFFIC.ACCIDENT", 20.0, 0.0, D::Rush, S::None, &[], false, (500, 30_000)),
    m("TRAFFIC.DUI", 2.0, 0.0, D::Night, S::Festival, &[K::Restaurant, K::BarKtv], false, (0, 0)),
    m("RESCUE.SUICIDE", 1.5, 0.0, D::Night, S::None, &[], false, (0, 0)),
    m("RESCUE.DROWNING", 0.8, 0.0, D::Day, S::Swimming, &[], false, (0, 0)),
    m("RESCUE.MISSING", 3.0, 0.0, D::Day, S::None, &[], false, (0, 0)),
    m("FIRE.FIRE", 3.0, 0.0, D::Flat, S::Festival, &[K::Restaurant, K::Factory], false, (0, 0)),
    m("MEDICAL.EMERGENCY", 6.0, 0.0, D::Flat, S::None, &[K::Restaurant], false, (0, 0)),
    m("HELP.MOVE_CAR", 16.0, 2.0, D::Rush, S::None, &[], false, (0, 0)),
    m("HELP.UNLOCK", 6.0, 1.0, D::Evening, S::None, &[], false, (100, 300)),
    m("HELP.WATER_LEAK", 4.0, 4.0, D::Day, S::Weather, &[K::PropertyCompany], false, (500, 5_000)),
    m("HELP.ANIMAL", 3.0, 2.0, D::Day, S::WarmNights, &[], false, (0, 0)),
    m("HELP.UTILITIES", 4.0, 7.0, D::Day, S::Weather, &[K::PropertyCompany], false, (100, 2_000)),
    m("HELP.POWER_OUTAGE", 3.0, 3.0, D::Flat, S::Weather, &[K::PropertyCompany], false, (0, 0)),
    m("DISPUTE.LABOR", 9.0, 8.0, D::Office, S::YearEndWages, &[ K::ConstructionCompany, K::Factory, K::Restaurant, K::Logistics, ], true, (2_000, 80_000)),
    m("DISPUTE.CONSUMER", 8.0, 12.0, D::Day, S::None, &[ K::Restaurant, K::Supermarket, K::Shop, K::Gym, K::TrainingSchool, K::AutoShop, K::Hotel, K::Logistics, ], true, (100, 30_000)),
    m("DISPUTE.MEDICAL_BEAUTY", 1.0, 1.6, D::Day, S::None, &[K::MedicalBeautyClinic], true, (3_000, 80_000)),
    m("DISPUTE.NEIGHBOR", 9.0, 5.0, D::Evening, S::WarmNights, &[], false, (200, 5_000)),
    m("DISPUTE.PROPERTY_MGMT", 4.0, 8.0, D::Day, S::None, &[K::PropertyCompany], true, (500, 20_000)),
    m("DISPUTE.RENTAL", 3.0, 4.0, D::Day, S::None, &[K::RentalAgency], true, (1_000, 15_000)),
    m("DISPUTE.FAMILY", 5.0, 2.0, D::Evening, S::Festival, &[], false, (0, 50_000)),
    m("COMPLAINT.NOISE", 12.0, 9.0, D::Night, S::WarmNights, &[K::BarKtv, K::ConstructionCompany, K::Restaurant], false, (0, 0)),
    m("COMPLAINT.PRICE", 1.0, 3.0, D::Day, S::Festival, &[K::Supermarket, K::Shop, K::Restaurant, K::Hotel], true, (20, 3_000)),
    m("COMPLAINT.ILLEGAL_BUILD", 1.0, 3.0, D::Office, S::None, &[], false, (0, 0)),
    m("COMPLAINT.ENVIRONMENT", 2.0, 4.0, D::Day, S::WarmNights, &[K::Factory, K::Restaurant, K::ConstructionCompany], false, (0, 0)),
    m("COMPLAINT.TRAFFIC_ORDER", 2.0, 3.0, D::Rush, S::None, &[], false, (0, 0)),
    m("CONSULT.POLICY", 3.0, 18.0, D::Office, S::None, &[], false, (0, 0)),
    m("CONSULT.LEGAL", 1.0, 4.0, D::Office, S::None, &[], false, (0, 0)),
    m("CONSULT.POLICE_SERVICE", 3.0, 5.0, D::Office, S::None, &[], false, (0, 0)),
    m("WOMEN.RIGHTS", 0.5, 1.2, D::Day, S::None, &[], false, (0, 0)),
    m("INVALID.PRANK", 6.0, 0.0, D::Night, S::None, &[], false, (0, 0)),
    m("INVALID.MISDIAL", 4.0, 0.0, D::Flat, S::None, &[], false, (0, 0)),
];

/// The model of a category code.
pub fn category_model(code: &str) -> Option<&'static CategoryModel> {
    CATEGORY_MODELS.iter().find(|m| m.code == code)
}

/// Spring Festival (lunar new year's day) for the years the generator covers.
pub fn spring_festival(year: i32) -> Option<NaiveDate> {
    let (month, day) = match year {
        2018 => (2, 16),
        2019 => (2, 5),
        2020 => (1, 25),
        2021 => (2, 12),
        2022 => (2, 1),
        2023 => (1, 22),
        2024 => (2, 10),
        2025 => (1, 29),
        2026 => (2, 17),
        2027 => (2, 6),
        2028 => (1, 26),
        2029 => (2, 13),
        2030 => (2, 3),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Days from `date` to the next Spring Festival (0 on the day); `None` if unknown.
fn days_before_festival(date: NaiveDate) -> Option<i64> {
    let this = spring_festival(date.year())?;
    let next = if this >= date { this } else { spring_festival(date.year() + 1)? };
    Some((next - date).num_days())
}

/// Days since the last Spring Festival.
fn days_after_festival(date: NaiveDate) -> Option<i64> {
    let this = spring_festival(date.year())?;
    let last = if this <= date { this } else { spring_festival(date.year() - 1)? };
    Some((date - last).num_days())
}

/// Seasonal multiplier of a category on a date.
pub fn season_factor(season: Season, date: NaiveDate) -> f64 {
    let month = date.month();
    match season {
        Season::None => 1.0,
        Season::Swimming => match month {
            7 | 8 => 4.5,
            6 => 3.0,
            5 | 9 => 1.4,
            4 | 10 => 0.6,
            _ => 0.15,
        },
        Season::WarmNights => match month {
            6..=8 => 1.45,
            5 | 9 => 1.2,
            12 | 1 | 2 => 0.7,
            _ => 1.0,
        },
        Season::YearEndWages => match days_before_festival(date) {
            Some(d) if d <= 3 => 0.8,
            Some(d) if d <= 45 => 2.8,
            Some(d) if d <= 75 => 1.6,
            _ => 1.0,
        },
        Season::Weather => match month {
            7 | 8 => 1.8,
            12 | 1 => 1.5,
            _ => 1.0,
        },
        Season::Festival => match (days_before_festival(date), days_after_festival(date)) {
            (Some(0..=1), _) | (_, Some(0..=6)) => 2.2,
            _ => 1.0,
        },
    }
}

/// Weekday multiplier of a category.
pub fn weekday_factor(shape: DayShape, weekday: Weekday) -> f64 {
    let weekend = matches!(weekday, Weekday::Sat | Weekday::Sun);
    let friday_or_saturday_night = matches!(weekday, Weekday::Fri | Weekday::Sat);
    match shape {
        DayShape::Office if weekend => 0.35,
        DayShape::Night if friday_or_saturday_night => 1.4,
        DayShape::Rush if weekend => 0.7,
        DayShape::Evening if weekend => 1.2,
        _ => 1.0,
    }
}

/// Overall daily volume: busier in summer and on Fridays, quieter at the Spring Festival,
/// rising slowly year on year as more people use the hotlines.
pub fn day_volume(date: NaiveDate, first: NaiveDate) -> f64 {
    let month = match date.month() {
        7 | 8 => 1.12,
        6 | 9 => 1.05,
        1 | 2 => 0.93,
        _ => 1.0,
    };
    let weekday = match date.weekday() {
        Weekday::Fri => 1.06,
        Weekday::Sat => 1.03,
        Weekday::Sun => 0.95,
        _ => 1.0,
    };
    let festival = match days_after_festival(date) {
        Some(0..=2) => 0.85,
        _ => 1.0,
    };
    let years = (date - first).num_days() as f64 / 365.25;
    month * weekday * festival * (1.0 + 0.08 * years)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Taxonomy;

    #[test]
    fn every_taxonomy_category_has_a_model_in_order() {
        let taxonomy = Taxonomy::builtin();
        for (category, model) in taxonomy.categories().iter().zip(CATEGORY_MODELS.iter()) {
            assert_eq!(category.code, model.code);
            if category.police_matter || category.is_invalid() {
                assert_eq!(model.weight_12345, 0.0, "{}: police matters do not start at 12345", model.code);
            }
        }
    }

    #[test]
    fn wage_disputes_peak_before_the_spring_festival_and_drowning_in_summer() {
        let before = NaiveDate::from_ymd_opt(2023, 1, 5).unwrap();
        let autumn = NaiveDate::from_ymd_opt(2023, 10, 5).unwrap();
        assert!(season_factor(Season::YearEndWages, before) > 2.0 * season_factor(Season::YearEndWages, autumn));
        let july = NaiveDate::from_ymd_opt(2023, 7, 15).unwrap();
        let january = NaiveDate::from_ymd_opt(2023, 1, 15).unwrap();
        assert!(season_factor(Season::Swimming, july) > 10.0 * season_factor(Season::Swimming, january));
    }

    #[test]
    fn original_110_share_is_raised_to_offset_hand_backs() {
        let share = non_police_share_of_original_110();
        assert!(share > targets::NON_POLICE_SHARE && share < targets::NON_POLICE_SHARE + 0.02);
    }
}
