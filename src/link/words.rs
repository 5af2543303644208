//! Words that escalate and words that threaten, and the level of a narrative's language.

/// Words of escalation: the caller has called before, is losing patience, threatens to go higher.
pub const ESCALATION_WORDS: [&str; 24] = [
    "上访",
    "曝光",
    "媒体",
    "发帖",
    "举报",
    "纪委",
    "忍无可忍",
    "讨说法",
    "讨个说法",
    "多次反映",
    "反复反映",
    "一直未解决",
    "一直没解决",
    "一直没人管",
    "问题依旧",
    "情绪激动",
    "不作为",
    "第几次",
    "再不解决",
    "投诉到底",
    "没人管",
    "拖着不办",
    "市长",
    "找领导",
];

/// Words of threat or self-harm.
pub const THREAT_WORDS: [&str; 33] = [
    "跳楼",
    "跳下去",
    "跳河",
    "自杀",
    "轻生",
    "不想活",
    "活不下去",
    "同归于尽",
    "寻死",
    "喝药",
    "农药",
    "割腕",
    "上吊",
    "汽油",
    "放火",
    "纵火",
    "炸药",
    "炸掉",
    "拼命",
    "弄死",
    "砍死",
    "杀了他",
    "报复",
    "过激",
    "极端",
    "走投无路",
    "后果自负",
    "鱼死网破",
    "一了百了",
    "不惜一切代价",
    "自残",
    "寻短见",
    "闹出人命",
];

/// The language level of a narrative: 2 for threat or self-harm, 1 for escalation, else 0.
pub fn language_level(narrative: &str) -> u8 {
    if THREAT_WORDS.iter().any(|w| narrative.contains(w)) {
        2
    } else if ESCALATION_WORDS.iter().any(|w| narrative.contains(w)) {
        1
    } else {
        0
    }
}

/// The threat words a narrative uses, for evidence sentences.
pub fn threat_words_in(narrative: &str) -> impl Iterator<Item = &'static str> + '_ {
    THREAT_WORDS.iter().copied().filter(move |w| narrative.contains(w))
}
