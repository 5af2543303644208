//! Enumerations of the data contract: each parses its canonical code or any of its Chinese labels.

use std::fmt;

/// Declares a contract enumeration with its canonical code and Chinese labels.
macro_rules! contract_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal [$($label:literal),*] ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in contract order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical code written to the warehouse.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The Chinese labels the contract accepts for this value.
            pub fn labels(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($label),*]),+ }
            }

            /// Parses the canonical code (ASCII case ignored) or one of the Chinese labels.
            /// Surrounding white space is ignored.
            pub fn parse(text: &str) -> Option<Self> {
                let text = text.trim();
                Self::ALL.iter().copied().find(|value| {
                    value.code().eq_ignore_ascii_case(text) || value.labels().contains(&text)
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

contract_enum! {
    /// A receiving platform (hotline number).
    Platform {
        /// Police.
        P110 = "110" [],
        /// Government service hotline.
        P12345 = "12345" [],
        /// Fire.
        P119 = "119" [],
        /// Medical emergency.
        P120 = "120" [],
        /// Traffic police.
        P122 = "122" [],
        /// Power supply.
        P95598 = "95598" [],
        /// Legal aid.
        P12348 = "12348" [],
        /// Transport.
        P12328 = "12328" [],
        /// Women's rights.
        P12338 = "12338" [],
    }
}

contract_enum! {
    /// What the desk did with a call.
    Disposition {
        /// 出警 / 派单: dispatched inside the platform.
        Dispatched = "DISPATCHED" ["出警", "派单"],
        /// 转办 / 转其他平台: handed to another platform.
        Transferred = "TRANSFERRED" ["转办", "转其他平台"],
        /// 当场答复 / 自处: answered on the spot.
        Answered = "ANSWERED" ["当场答复", "自处"],
        /// 无效: an invalid call.
        Invalid = "INVALID" ["无效"],
    }
}

contract_enum! {
    /// How a work order was handed over.
    Channel {
        /// 一键转接.
        OneKey = "ONE_KEY" ["一键转接"],
        /// 三方通话.
        ThreeWay = "THREE_WAY" ["三方通话"],
        /// 线上工单.
        Online = "ONLINE" ["线上工单"],
    }
}

contract_enum! {
    /// Where a work order stands.
    OrderStatus {
        /// 待签收.
        Pending = "PENDING" ["待签收"],
        /// 已签收.
        Signed = "SIGNED" ["已签收"],
        /// 已反馈.
        Feedback = "FEEDBACK" ["已反馈"],
        /// 已办结.
        Closed = "CLOSED" ["已办结"],
        /// 退回 / 回流: sent back to the platform that created it.
        Returned = "RETURNED" ["退回", "回流"],
    }
}

contract_enum! {
    /// The caller's rating at the callback.
    Satisfaction {
        /// 满意.
        Satisfied = "SATISFIED" ["满意"],
        /// 基本满意.
        Basic = "BASIC" ["基本满意"],
        /// 不满意.
        Unsatisfied = "UNSATISFIED" ["不满意"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_parse_to_the_same_value() {
        assert_eq!(Disposition::parse("出警"), Some(Disposition::Dispatched));
        assert_eq!(Disposition::parse("派单"), Some(Disposition::Dispatched));
        assert_eq!(Disposition::parse(" TRANSFERRED "), Some(Disposition::Transferred));
        assert_eq!(Disposition::parse("transferred"), Some(Disposition::Transferred));
        assert_eq!(OrderStatus::parse("回流"), Some(OrderStatus::Returned));
        assert_eq!(Satisfaction::parse("基本满意"), Some(Satisfaction::Basic));
        assert_eq!(Channel::parse("三方通话"), Some(Channel::ThreeWay));
        assert_eq!(Platform::parse("12345"), Some(Platform::P12345));
    }

    #[test]
    fn unknown_values_are_rejected() {
        assert_eq!(Platform::parse("911"), None);
        assert_eq!(Disposition::parse(""), None);
        assert_eq!(Satisfaction::parse("很满意"), None);
    }

    #[test]
    fn every_value_round_trips_through_its_code_and_labels() {
        for value in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(value.code()), Some(*value));
            for label in value.labels() {
                assert_eq!(OrderStatus::parse(label), Some(*value));
            }
        }
        for value in Platform::ALL {
            assert_eq!(Platform::parse(value.code()), Some(*value));
        }
    }
}
