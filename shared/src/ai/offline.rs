//! The offline companion (development, no API key): kind, Korean (or English), deterministic
//! — the same message gets the same answer — and honest about being an offline AI.

use futures_util::stream;

use super::{TextStream, Turn};

struct Theme {
    words: &'static [&'static str],
    ko: &'static str,
    en: &'static str,
}

const THEMES: &[Theme] = &[
    Theme {
        words: &[
            "슬프",
            "슬퍼",
            "우울",
            "눈물",
            "속상",
            "울었",
            "sad",
            "down",
            "cry",
            "depressed",
        ],
        ko: "많이 속상하셨겠어요. 그런 마음이 드는 건 자연스러운 일이에요. 어떤 일이 있었는지 조금 더 들려주실래요?",
        en: "That sounds really hard. It's natural to feel this way. Would you like to tell me more about what happened?",
    },
    Theme {
        words: &[
            "불안", "걱정", "긴장", "초조", "무서", "anxious", "worried", "nervous", "scared",
        ],
        ko: "마음이 많이 불안하셨군요. 잠시 천천히 숨을 들이쉬고 내쉬어 보는 건 어떨까요? 무엇이 가장 걱정되는지 함께 이야기해 봐요.",
        en: "It sounds like you've been feeling anxious. Could we take a slow breath together? Tell me what worries you most.",
    },
    Theme {
        words: &[
            "화나", "화가", "짜증", "억울", "분노", "angry", "annoyed", "furious", "mad",
        ],
        ko: "화가 나는 상황이었네요. 그 감정을 느끼는 건 잘못이 아니에요. 어떤 부분이 가장 마음에 걸리셨나요?",
        en: "That sounds frustrating, and feeling angry about it is okay. What part of it bothers you the most?",
    },
    Theme {
        words: &[
            "피곤",
            "지쳐",
            "지친",
            "힘들",
            "번아웃",
            "tired",
            "exhausted",
            "burned out",
            "worn out",
        ],
        ko: "정말 지치셨겠어요. 오늘 하루 버텨 낸 것만으로도 충분히 잘하셨어요. 잠깐이라도 쉴 수 있는 시간이 있을까요?",
        en: "You must be worn out. Getting through today is already a lot. Is there a moment you could rest?",
    },
    Theme {
        words: &["외로", "혼자", "쓸쓸", "lonely", "alone", "isolated"],
        ko: "외로운 마음이 드셨군요. 이렇게 이야기해 주셔서 고마워요. 요즘 마음을 나눌 수 있는 사람이 있나요?",
        en: "Feeling lonely is painful, and I'm glad you shared it. Is there someone you can talk to these days?",
    },
    Theme {
        words: &[
            "기쁘", "기뻐", "행복", "좋았", "신나", "설레", "감사", "happy", "glad", "excited",
            "grateful",
        ],
        ko: "좋은 일이 있었군요! 그 기분을 함께 나눌 수 있어 저도 기뻐요. 어떤 순간이 가장 좋았나요?",
        en: "That's lovely to hear! I'm glad you shared it. What was the best moment?",
    },
];

const DEFAULT_KO: &str =
    "이야기해 주셔서 고마워요. 지금 마음이 어떤지 조금 더 말씀해 주실 수 있을까요?";
const DEFAULT_EN: &str =
    "Thank you for telling me. Could you share a little more about how you feel right now?";

pub fn reply(history: &[Turn], english: bool) -> String {
    let last = history
        .iter()
        .rev()
        .find_map(|t| match t {
            Turn::User(text) => Some(text.to_lowercase()),
            Turn::Assistant(_) => None,
        })
        .unwrap_or_default();
    let theme = THEMES
        .iter()
        .find(|theme| theme.words.iter().any(|w| last.contains(w)));
    let body = match (theme, english) {
        (Some(t), false) => t.ko,
        (Some(t), true) => t.en,
        (None, false) => DEFAULT_KO,
        (None, true) => DEFAULT_EN,
    };
    let note = if english {
        "(I'm MindPause's offline AI companion: a development stand-in, not a counselor.)"
    } else {
        "(저는 마음쉼표의 오프라인 AI 동반자예요. 개발용 응답이며 상담사를 대신하지 않아요.)"
    };
    format!("{body}\n\n{note}")
}

/// The reply in word-sized pieces, as a stream.
pub fn stream(reply: String) -> TextStream {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for c in reply.chars() {
        current.push(c);
        if c == ' ' || c == '\n' {
            pieces.push(Ok(std::mem::take(&mut current)));
        }
    }
    if !current.is_empty() {
        pieces.push(Ok(current));
    }
    Box::pin(stream::iter(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_kind_and_marked() {
        let history = [Turn::User("오늘 너무 우울했어".into())];
        let a = reply(&history, false);
        assert_eq!(a, reply(&history, false));
        assert!(a.starts_with("많이 속상하셨겠어요"));
        assert!(a.contains("오프라인 AI"));
        assert!(
            reply(&[Turn::User("I'm so tired".into())], true).starts_with("You must be worn out")
        );
        assert!(reply(&[], false).starts_with("이야기해 주셔서"));
    }
}
