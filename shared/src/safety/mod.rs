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
#[schema(as = SafetyCategory)]
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
    /// Ids of the parts (in [`Table`]) that must follow one another, each within the gap of
    /// the previous one.
    parts: Vec<usize>,
}

/// How far apart (characters in Korean, words in English) the parts of a pattern may be.
const GAP_KOREAN: usize = 8;
const GAP_ENGLISH: usize = 4;

/// The patterns, and every distinct part of them in two automata (one per script) that find
/// them all in one pass over a message.
struct Table {
    patterns: Vec<Pattern>,
    korean: aho_corasick::AhoCorasick,
    english: aho_corasick::AhoCorasick,
    /// How many parts there are.
    parts: usize,
    /// Automaton match ids → part ids: Korean, English.
    ids: [Vec<usize>; 2],
    /// Part id → the patterns that start with it (only those are checked).
    by_first: Vec<Vec<usize>>,
}

/// The table (`patterns.tsv`, kept beside this file): `kind category script pattern`.
fn table() -> &'static Table {
    static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut korean: Vec<String> = Vec::new();
        let mut english: Vec<String> = Vec::new();
        let mut parts: Vec<(Script, usize)> = Vec::new();
        let mut known: std::collections::HashMap<(bool, String), usize> =
            std::collections::HashMap::new();
        let mut patterns = Vec::new();
        for line in include_str!("patterns.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
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
            let ids = pattern
                .split('~')
                .map(|part| {
                    // English parts are whole words: padded as the text is.
                    let form = match script {
                        Script::Korean => korean_form(part),
                        Script::English => format!(" {} ", english_form(part).trim()),
                    };
                    let key = (script == Script::Korean, form.clone());
                    *known.entry(key).or_insert_with(|| {
                        let list = match script {
                            Script::Korean => &mut korean,
                            Script::English => &mut english,
                        };
                        list.push(form);
                        parts.push((script, list.len() - 1));
                        parts.len() - 1
                    })
                })
                .collect();
            patterns.push(Pattern {
                kind,
                script,
                parts: ids,
            });
        }
        let automaton = |words: &[String]| {
            aho_corasick::AhoCorasick::new(words).expect("the crisis patterns build an automaton")
        };
        let mut ids = [vec![0; korean.len()], vec![0; english.len()]];
        for (part, (script, index)) in parts.iter().enumerate() {
            ids[(*script == Script::English) as usize][*index] = part;
        }
        let mut by_first = vec![Vec::new(); parts.len()];
        for (index, pattern) in patterns.iter().enumerate() {
            by_first[pattern.parts[0]].push(index);
        }
        Table {
            patterns,
            korean: automaton(&korean),
            english: automaton(&english),
            parts: parts.len(),
            ids,
            by_first,
        }
    })
}

/// Where each part occurs in a message: part id → (start, end) byte ranges.
struct Found {
    at: Vec<Vec<(usize, usize)>>,
}

impl Found {
    fn scan(table: &Table, korean: &str, english: &str) -> Self {
        let mut at = vec![Vec::new(); table.parts];
        for (script, automaton, text) in [(0, &table.korean, korean), (1, &table.english, english)]
        {
            for m in automaton.find_overlapping_iter(text) {
                at[table.ids[script][m.pattern().as_usize()]].push((m.start(), m.end()));
            }
        }
        Self { at }
    }

    /// Whether the pattern's parts occur in order, each starting within the gap of the
    /// previous one's end (English parts share their padding space).
    fn pattern(&self, pattern: &Pattern, text: &str) -> bool {
        let (gap, english) = match pattern.script {
            Script::Korean => (GAP_KOREAN, false),
            Script::English => (GAP_ENGLISH, true),
        };
        let follows = |end: usize, rest: &[usize]| -> bool {
            fn go(
                found: &Found,
                text: &str,
                end: usize,
                rest: &[usize],
                gap: usize,
                english: bool,
            ) -> bool {
                let Some((&part, more)) = rest.split_first() else {
                    return true;
                };
                found.at[part].iter().any(|&(start, next_end)| {
                    let start = if english { start + 1 } else { start };
                    start >= end
                        && {
                            let between = &text[end..start];
                            let distance = if english {
                                between.split_whitespace().count()
                            } else {
                                between.chars().count()
                            };
                            distance <= gap
                        }
                        && go(
                            found,
                            text,
                            if english { next_end - 1 } else { next_end },
                            more,
                            gap,
                            english,
                        )
                })
            }
            go(self, text, end, rest, gap, english)
        };
        let Some((&first, rest)) = pattern.parts.split_first() else {
            return false;
        };
        self.at[first]
            .iter()
            .any(|&(_, end)| follows(if english { end - 1 } else { end }, rest))
    }
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
    let table = table();
    let found = Found::scan(table, &korean, &english);
    let candidates = found
        .at
        .iter()
        .enumerate()
        .filter(|(_, at)| !at.is_empty())
        .flat_map(|(part, _)| &table.by_first[part]);
    for p in candidates.map(|&index| &table.patterns[index]) {
        let form = match p.script {
            Script::Korean => &korean,
            Script::English => &english,
        };
        if !found.pattern(p, form) {
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
    /// `level` is `crisis` (kept for the apps that read only this).
    pub crisis_detected: bool,
    pub level: Level,
    /// What kind of risk, when there is any.
    pub category: Option<Category>,
    /// The lines to call: with `crisis`, and offered gently with `concern`.
    pub resources: Vec<Resource>,
}

impl Safety {
    pub fn calm() -> Self {
        Self {
            crisis_detected: false,
            level: Level::None,
            category: None,
            resources: Vec::new(),
        }
    }

    /// A crisis that only the provider's moderation saw (no category of ours).
    pub fn crisis() -> Self {
        Self::of(Assessment {
            level: Level::Crisis,
            category: None,
        })
    }

    pub fn of(assessment: Assessment) -> Self {
        if assessment.level == Level::None {
            return Self::calm();
        }
        Self {
            crisis_detected: assessment.level == Level::Crisis,
            level: assessment.level,
            category: assessment.category,
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

    /// The message's own assessment, at least `concern` with the lines while an earlier
    /// crisis of the conversation is recent.
    pub fn remembering(self, recent_crisis: bool) -> Self {
        if recent_crisis && self.level == Level::None {
            Self::of(Assessment {
                level: Level::Concern,
                category: None,
            })
        } else {
            self
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
