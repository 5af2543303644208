//! The contract's headline figures computed directly from typed rows (no SQL), for the demo and as the independent check of the named queries.

use std::collections::HashMap;

use crate::contract::{Call, Disposition, OrderStatus, Platform, Satisfaction, WorkOrder};
use crate::generate::model::targets;

/// One headline figure: a ratio with its parts and, where published, the calibration target.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Stable snake_case name.
    pub name: &'static str,
    /// Chinese name as used in the reform's reports.
    pub name_zh: &'static str,
    /// Numerator.
    pub numerator: u64,
    /// Denominator.
    pub denominator: u64,
    /// Published calibration target, if any.
    pub target: Option<f64>,
}

impl Figure {
    /// The ratio, or `None` with an empty denominator.
    pub fn value(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }
}

/// Running counts behind the headline figures.
#[derive(Debug, Default, Clone)]
pub struct HeadlineCounts {
    valid_110: u64,
    non_police_110: u64,
    diverted: u64,
    self_handled: u64,
    orders: u64,
    signed_3min: u64,
    feedback_2h: u64,
    rated: u64,
    satisfied: u64,
    reflow_base: u64,
    reflowed: u64,
    repeat: RepeatCalls,
}

impl HeadlineCounts {
    /// Counts a valid call; `caller` identifies the person (resolved entity, or a stand-in such as the phone).
    pub fn add_call(&mut self, call: &Call, caller: Option<&str>) {
        if call.platform == Platform::P110 && !call.category.is_invalid() {
            self.valid_110 += 1;
            if !call.category.police_matter {
                self.non_police_110 += 1;
                match call.disposition {
                    Disposition::Transferred => self.diverted += 1,
                    Disposition::Answered => self.self_handled += 1,
                    _ => {}
                }
            }
        }
        if call.source_call_id.is_none() {
            self.repeat.add(caller, call.received_at, call.category.index);
        }
    }

    /// Counts a valid work order.
    pub fn add_order(&mut self, order: &WorkOrder) {
        const SEC: i64 = 1_000_000;
        self.orders += 1;
        if order.signed_at.is_some_and(|t| t - order.created_at <= 180 * SEC) {
            self.signed_3min += 1;
        }
        if order.feedback_at.is_some_and(|t| t - order.created_at <= 7_200 * SEC) {
            self.feedback_2h += 1;
        }
        if let Some(rating) = order.satisfaction {
            self.rated += 1;
            if matches!(rating, Satisfaction::Satisfied | Satisfaction::Basic) {
                self.satisfied += 1;
            }
        }
        if order.from_platform == Platform::P110 && order.to_platform.is_some() {
            self.reflow_base += 1;
            if order.status == OrderStatus::Returned {
                self.reflowed += 1;
            }
        }
    }

    /// The figures, in the contract's order.
    pub fn figures(&self) -> Vec<Figure> {
        let (repeat, original) = self.repeat.count();
        let f =
            |name, name_zh, numerator, denominator, target| Figure { name, name_zh, numerator, denominator, target };
        vec![
            f("non_police_share", "双非占比", self.non_police_110, self.valid_110, Some(targets::NON_POLICE_SHARE)),
            f("diversion_rate", "分流率", self.diverted, self.non_police_110, Some(targets::DIVERSION_RATE)),
            f(
                "self_handling_rate",
                "自处率",
                self.self_handled,
                self.non_police_110,
                Some(targets::SELF_HANDLING_RATE),
            ),
            f("signing_3min_rate", "3分钟签收率", self.signed_3min, self.orders, Some(targets::SIGNING_3MIN)),
            f("feedback_2h_rate", "2小时反馈率", self.feedback_2h, self.orders, Some(targets::FEEDBACK_2H)),
            f("satisfaction_rate", "满意率", self.satisfied, self.rated, Some(targets::SATISFACTION)),
            f("reflow_rate", "回流率", self.reflowed, self.reflow_base, Some(targets::REFLOW)),
            f("repeat_call_rate", "重复报警率", repeat, original, None),
        ]
    }
}

/// Counts original calls whose caller made another original call about the same category within the previous 7 days.
#[derive(Debug, Default, Clone)]
pub struct RepeatCalls {
    by_caller: HashMap<String, Vec<(i64, u16)>>,
    anonymous: u64,
}

impl RepeatCalls {
    /// Adds an original call; calls with no known caller count as original and never as repeats.
    pub fn add(&mut self, caller: Option<&str>, time: i64, category: u16) {
        match caller {
            Some(caller) => self.by_caller.entry(caller.to_owned()).or_default().push((time, category)),
            None => self.anonymous += 1,
        }
    }

    /// (repeat calls, original calls).
    pub fn count(&self) -> (u64, u64) {
        const WEEK: i64 = 7 * 86_400 * 1_000_000;
        let mut repeats = 0;
        let mut total = self.anonymous;
        for calls in self.by_caller.values() {
            let mut calls = calls.clone();
            calls.sort_unstable();
            total += calls.len() as u64;
            for (i, &(time, category)) in calls.iter().enumerate() {
                let earlier = calls[..i].iter().rev().take_while(|(t, _)| time - t <= WEEK);
                if earlier.clone().any(|&(_, c)| c == category) {
                    repeats += 1;
                }
            }
        }
        (repeats, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400 * 1_000_000;

    #[test]
    fn repeat_calls_need_the_same_category_within_seven_days() {
        let mut repeat = RepeatCalls::default();
        repeat.add(Some("a"), 0, 1);
        repeat.add(Some("a"), 3 * DAY, 1); // repeat
        repeat.add(Some("a"), 4 * DAY, 2); // other category
        repeat.add(Some("a"), 11 * DAY, 1); // 8 days after the 2nd... within 7 of none
        repeat.add(Some("b"), 0, 1);
        repeat.add(None, 0, 1);
        assert_eq!(repeat.count(), (1, 6));
        repeat.add(Some("a"), 17 * DAY, 1); // 6 days after the 4th
        assert_eq!(repeat.count(), (2, 7));
    }

    #[test]
    fn figures_are_ratios_of_their_parts() {
        let figure = Figure { name: "x", name_zh: "x", numerator: 1, denominator: 4, target: None };
        assert_eq!(figure.value(), Some(0.25));
        assert_eq!(Figure { denominator: 0, ..figure }.value(), None);
    }
}
