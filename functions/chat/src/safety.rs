//! What the companion says first when a message shows risk (the detector and the
//! `safety` object are `shared::safety`).

/// What the reply says first when a message shows risk, whatever the model said.
pub fn crisis_preamble(english: bool) -> &'static str {
    if english {
        "I'm really sorry you're carrying this much pain, and I'm glad you told me. You don't have to \
         face it alone. You can talk to someone right now, any time of day: the Korea Suicide \
         Prevention Line 109, the Mental Health Crisis Line 1577-0199, or the Youth Counseling Line \
         1388. If you are in immediate danger, please call 112 or 119. I'm an AI and can't replace \
         that help, but I'm here to keep listening."
    } else {
        "지금 정말 많이 힘드시군요. 이렇게 이야기해 주셔서 고마워요. 혼자 견디지 않으셔도 돼요. \
         지금 바로, 24시간 언제든 전문 상담사와 이야기할 수 있어요: 자살예방상담전화 109, \
         정신건강위기상담전화 1577-0199, 청소년이라면 청소년상담전화 1388. 위급한 상황이라면 \
         112나 119에 바로 연락해 주세요. 저는 AI라서 전문적인 도움을 대신할 수는 없지만, 여기서 \
         계속 당신의 이야기를 들을게요."
    }
}

/// What the reply says first when a message shows concern (despair, a recovered past, or
/// risk remembered from earlier in the conversation): the lines, offered gently.
pub fn gentle_lines(english: bool) -> &'static str {
    if english {
        "That sounds really heavy. If it ever gets to be too much, you can talk to someone any \
         time: the Korea Suicide Prevention Line 109 or the Mental Health Crisis Line 1577-0199."
    } else {
        "많이 지치고 힘드셨겠어요. 혹시 마음이 너무 무거워지면 언제든 이야기할 곳이 있어요: \
         자살예방상담전화 109, 정신건강위기상담전화 1577-0199."
    }
}

/// What the reply says first when someone asks how to help a person at risk.
pub fn helping_someone(english: bool) -> &'static str {
    if english {
        "It's good that you're looking out for them. If you think they may be in danger, you \
         can call the Korea Suicide Prevention Line 109 or the Mental Health Crisis Line \
         1577-0199 together, or for them; in an emergency call 112 or 119. Asking them directly \
         and listening without judging helps."
    } else {
        "그분을 걱정하고 도우려는 마음이 느껴져요. 위험해 보인다면 자살예방상담전화 109나 \
         정신건강위기상담전화 1577-0199에 함께 또는 대신 연락해 보세요. 급한 상황이면 112나 \
         119에 바로 알려 주세요. 직접 물어보고 판단 없이 들어 주는 것이 큰 도움이 돼요."
    }
}
