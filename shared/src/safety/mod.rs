//! Crisis safety, independent of any model: what people write to the companion or the
//! community is judged for suicide or self-harm risk — a level (`none`, `concern`, `crisis`)
//! and a category — by a table of patterns kept as data (`patterns.tsv`, Korean and English),
//! after normalizing the ways people actually type: spacing, jamo typed one by one, case,
//! punctuation. Signals are weighed against their context (prevention, news, school, someone
//! else, a recovered past, hyperbole) so that talk about the topic raises no alarm. The
//! evaluation set is `shared/tests/fixtures/crisis_eval.tsv`; `safety` of the API tells the
//! app.

use serde::Serialize;
use utoipa::ToSchema;

/// Hangul compatibility jamo (as typed one key at a time) composed into syllables, so that
/// "ㅈㅜㄱㄱㅗ ㅅㅣㅍㅇㅓ" reads "죽고 싶어".
fn compose_jamo(text: &str) -> String {
    const LEADS: &str = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ";
    const VOWELS: &str = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ";
    const TAILS: &str = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ";
    let lead = |c: char| LEADS.chars().position(|x| x == c);
    let vowel = |c: char| VOWELS.chars().position(|x| x == c);
    let tail = |c: char| TAILS.chars().position(|x| x == c).filter(|&i| i > 0);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let (Some(l), Some(v)) = (lead(chars[i]), chars.get(i + 1).and_then(|&c| vowel(c))) {
            // A final consonant belongs to this syllable unless a vowel follows it.
            let t = chars
                .get(i + 2)
                .and_then(|&c| tail(c))
                .filter(|_| chars.get(i + 3).is_none_or(|&c| vowel(c).is_none()));
            let code = 0xAC00 + (l * 21 + v) * 28 + t.unwrap_or(0);
            out.push(char::from_u32(code as u32).expect("a Hangul syllable"));
            i += if t.is_some() { 3 } else { 2 };
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn korean_form(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    // NFC, not NFKC: NFKC would turn the jamo people type one by one into another form.
    compose_jamo(&text.nfc().collect::<String>().to_lowercase())
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn english_form(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let spaced: String = text
        .nfkc()
        .collect::<String>()
        .to_lowercase()
        .replace(['\'', '’'], "")
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    format!(
        " {} ",
        spaced.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// How much risk a message shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    None,
    /// Resources are offered gently.
    Concern,
    /// The reply puts the person first and carries the crisis lines.
    Crisis,
}

/// What kind of risk (or of talk about it) a message shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Wanting to die or to kill oneself, said outright.
    Ideation,
    /// Wishing not to wake up, to disappear, not to exist.
    Passive,
    /// Others would be better off without me.
    Burden,
    /// Asking about means, doses, heights, painless ways.
    Means,
    /// A time, a plan, a farewell, giving things away.
    Intent,
    SelfHarm,
    /// Hopelessness without death or harm in it.
    Hopeless,
    /// Someone else at risk, described by a person seeking help for them.
    ThirdParty,
    /// An episode told as past and recovered from.
    Recovered,
}

impl Category {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "ideation" => Self::Ideation,
            "passive" => Self::Passive,
            "burden" => Self::Burden,
            "means" => Self::Means,
            "intent" => Self::Intent,
            "self_harm" => Self::SelfHarm,
            "hopeless" => Self::Hopeless,
            "third_party" => Self::ThirdParty,
            "recovered" => Self::Recovered,
            _ => return None,
        })
    }

    /// Which crisis category names a message that shows several (the most urgent first).
    fn urgency(self) -> u8 {
        match self {
            Self::Intent => 6,
            Self::Means => 5,
            Self::SelfHarm => 4,
            Self::Ideation => 3,
            Self::Passive => 2,
            Self::Burden => 1,
            _ => 0,
        }
    }
}

/// The detector's judgement of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    pub level: Level,
    pub category: Option<Category>,
}

impl Assessment {
    const NONE: Self = Self {
        level: Level::None,
        category: None,
    };
}

/// Where a pattern is looked for: Korean on the compact form (letters and digits only: people
/// space Korean freely), English on whole words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Korean,
    English,
}

/// What a matching pattern means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A risk signal of a category.
    Signal(Category),
    /// The topic named without a signal of its own ("자살", "자해", "suicide"): a crisis
    /// of its category only when nothing says the message is about something else.
    Topic(Category),
    /// Talk about the topic (prevention, news, school), someone else (third party), or the
    /// past (recovered).
    Context(Context),
    /// The person speaks of themself now ("나도", "I feel"): topic contexts no longer excuse
    /// a signal.
    Own,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Topic,
    ThirdParty,
    Recovered,
}

struct Pattern {
    kind: Kind,
    script: Script,
    /// Parts that must follow one another, each within [`GAP`] of the previous one.
    parts: Vec<String>,
}

/// How far apart (characters in Korean, words in English) the parts of a pattern may be.
const GAP_KOREAN: usize = 8;
const GAP_ENGLISH: usize = 4;

/// The table (`patterns.tsv`, kept beside this file): `kind category script pattern`.
fn patterns() -> &'static [Pattern] {
    static PATTERNS: std::sync::OnceLock<Vec<Pattern>> = std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        include_str!("patterns.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                let [kind, name, script, pattern] = fields[..] else {
                    panic!("patterns.tsv: four fields expected: {line}");
                };
                let kind = match (kind, name) {
                    ("signal", name) => Kind::Signal(
                        Category::parse(name).unwrap_or_else(|| panic!("patterns.tsv: {name}")),
                    ),
                    ("topic", name) => Kind::Topic(
                        Category::parse(name).unwrap_or_else(|| panic!("patterns.tsv: {name}")),
                    ),
                    ("own", _) => Kind::Own,
                    ("context", "topic") => Kind::Context(Context::Topic),
                    ("context", "third_party") => Kind::Context(Context::ThirdParty),
                    ("context", "recovered") => Kind::Context(Context::Recovered),
                    _ => panic!("patterns.tsv: unknown kind {kind} {name}"),
                };
                let script = match script {
                    "ko" => Script::Korean,
                    "en" => Script::English,
                    _ => panic!("patterns.tsv: unknown script {script}"),
                };
                let parts = pattern
                    .split('~')
                    .map(|part| match script {
                        Script::Korean => korean_form(part),
                        Script::English => english_form(part).trim().to_owned(),
                    })
                    .collect();
                Pattern {
                    kind,
                    script,
                    parts,
                }
            })
            .collect()
    })
}

/// Whether `parts` occur in order in `text`, each starting within `gap` of the previous
/// one's end (`text` and the parts in the same form; English padded with spaces).
fn occurs(text: &str, parts: &[String], script: Script) -> bool {
    let find = |from: usize, part: &str| -> Option<(usize, usize)> {
        match script {
            Script::Korean => text[from..]
                .find(part)
                .map(|i| (from + i, from + i + part.len())),
            Script::English => text[from..]
                .find(&format!(" {part} "))
                .map(|i| (from + i, from + i + part.len() + 1)),
        }
    };
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    let mut start = 0;
    'first: while let Some((at, mut end)) = find(start, first) {
        for part in rest {
            let Some((next, next_end)) = find(end, part) else {
                return false;
            };
            let between = &text[end..next];
            let distance = match script {
                Script::Korean => between.chars().count(),
                Script::English => between.split_whitespace().count(),
            };
            let gap = if script == Script::Korean {
                GAP_KOREAN
            } else {
                GAP_ENGLISH
            };
            if distance > gap {
                start = at + first.len().max(1);
                continue 'first;
            }
            end = next_end;
        }
        return true;
    }
    false
}

/// The risk `text` shows, by the pattern table: signals of each category, weighed against
/// what says the message is about the topic rather than the person (prevention, news,
/// school), about someone else, or about a past they recovered from.
pub fn assess(text: &str) -> Assessment {
    let korean = korean_form(text);
    let english = english_form(text);
    let mut signal: Option<Category> = None;
    let mut concern: Option<Category> = None;
    let mut topic_word: Option<Category> = None;
    let mut own = false;
    let mut contexts = Vec::new();
    for p in patterns() {
        let form = match p.script {
            Script::Korean => &korean,
            Script::English => &english,
        };
        if !occurs(form, &p.parts, p.script) {
            continue;
        }
        match p.kind {
            Kind::Signal(c) if c.urgency() > 0 => {
                if signal.is_none_or(|s| c.urgency() > s.urgency()) {
                    signal = Some(c);
                }
            }
            Kind::Signal(c) => concern = concern.or(Some(c)),
            Kind::Topic(c) => topic_word = topic_word.or(Some(c)),
            Kind::Own => own = true,
            Kind::Context(c) => contexts.push(c),
        }
    }
    let has = |c: Context| contexts.contains(&c);
    let crisis = |c| Assessment {
        level: Level::Crisis,
        category: Some(c),
    };
    let gently = |c| Assessment {
        level: Level::Concern,
        category: Some(c),
    };
    // Something of the topic is there at all: a signal, the topic's words, or despair.
    let risky = signal.is_some() || topic_word.is_some() || concern.is_some();
    match signal {
        // Someone else's words, or one's own past: a gentler answer, unless the person also
        // speaks of themself now.
        _ if risky && has(Context::ThirdParty) && !own => gently(Category::ThirdParty),
        _ if risky && has(Context::Recovered) && !own => gently(Category::Recovered),
        Some(_) if has(Context::Topic) && !own => Assessment::NONE,
        Some(c) => crisis(c),
        None if topic_word.is_some() && !contexts.is_empty() => Assessment::NONE,
        None if let Some(c) = topic_word => crisis(c),
        None => match concern {
            Some(c) if !has(Context::Topic) => gently(c),
            _ => Assessment::NONE,
        },
    }
}

/// Whether `text` shows a crisis (`assess` says `crisis`).
pub fn lexicon_flags(text: &str) -> bool {
    assess(text).level == Level::Crisis
}

/// A crisis line.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Resource {
    pub name: &'static str,
    pub phone: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'static str>,
}

/// `safety` of the API.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Safety {
    pub crisis_detected: bool,
    pub resources: Vec<Resource>,
}

impl Safety {
    pub fn calm() -> Self {
        Self {
            crisis_detected: false,
            resources: Vec::new(),
        }
    }

    pub fn crisis() -> Self {
        Self {
            crisis_detected: true,
            resources: vec![
                Resource {
                    name: "자살예방상담전화",
                    phone: "109",
                    url: None,
                },
                Resource {
                    name: "정신건강위기상담전화",
                    phone: "1577-0199",
                    url: None,
                },
                Resource {
                    name: "청소년상담전화",
                    phone: "1388",
                    url: None,
                },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jamo_typed_one_by_one_is_read_as_syllables() {
        assert_eq!(compose_jamo("ㅈㅜㄱㄱㅗ ㅅㅣㅍㅇㅓ"), "죽고 싶어");
        assert_eq!(compose_jamo("ㅎㅏㄴㅡㄹ"), "하늘");
        assert_eq!(compose_jamo("ㅋㅋㅋ"), "ㅋㅋㅋ");
    }

    #[test]
    fn english_needs_whole_words() {
        assert!(lexicon_flags("I want to kill myself"));
        assert!(!lexicon_flags("I need to upskill myself"));
    }
}
