//! Crisis safety, independent of any model: what people write to the companion or the
//! community is checked for suicide or self-harm risk against a maintained lexicon (Korean
//! and English), after normalizing the ways people actually type — spacing, jamo typed one
//! by one, common misspellings and euphemisms. The phrase table the tests run is
//! `shared/tests/fixtures/crisis_phrases.tsv`. `safety` of the API says so to the app.

use serde::Serialize;
use utoipa::ToSchema;

/// Korean phrases, matched after removing everything but letters and digits (people space
/// Korean freely: "죽 고 싶 어" is "죽고싶어").
const KOREAN: &[&str] = &[
    "자살",
    "자해",
    "죽고싶",
    "죽고십",
    "죽구싶",
    "주고싶다",
    "죽어버리고싶",
    "죽어버릴",
    "죽는게나아",
    "죽는게낫",
    "죽으면편할",
    "죽을까생각",
    "살기싫",
    "살고싶지않",
    "살고싶지가않",
    "살아야할이유",
    "살이유가없",
    "사는게의미없",
    "더는못살",
    "더이상못살",
    "사라지고싶",
    "사라져버리고싶",
    "없어지고싶",
    "다끝내고싶",
    "끝내고싶어",
    "모든걸끝내",
    "생을마감",
    "목숨을끊",
    "목숨끊",
    "극단적선택",
    "극단적인선택",
    "뛰어내리고싶",
    "뛰어내릴",
    "투신",
    "목을매",
    "목매달",
    "손목을긋",
    "손목긋",
    "손목을그",
    "칼로긋",
    "수면제를모",
    "약을모아",
    "유서를",
    "유서써",
    "유서도써",
    "세상을떠나고싶",
    "영원히잠들",
    "안깨어나고싶",
    "태어나지말",
    "ㅈㅅ하고싶",
    "ㅈㅅ할",
    "ㅈㄱㅅㅇ",
];

/// English phrases, matched on whole words after collapsing punctuation and spacing.
const ENGLISH: &[&str] = &[
    "suicide",
    "suicidal",
    "kill myself",
    "killing myself",
    "kms",
    "end my life",
    "ending my life",
    "take my own life",
    "want to die",
    "wanna die",
    "wish i was dead",
    "wish i were dead",
    "better off dead",
    "dont want to live",
    "do not want to live",
    "dont want to be alive",
    "no reason to live",
    "end it all",
    "self harm",
    "selfharm",
    "self harming",
    "hurt myself",
    "hurting myself",
    "cut myself",
    "cutting myself",
    "overdose",
    "disappear forever",
    "dont want to wake up",
];

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
    compose_jamo(&text.to_lowercase())
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn english_form(text: &str) -> String {
    let spaced: String = text
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

/// Whether `text` shows a risk of suicide or self-harm by the lexicon.
pub fn lexicon_flags(text: &str) -> bool {
    let korean = korean_form(text);
    if KOREAN.iter().any(|p| korean.contains(p)) {
        return true;
    }
    let english = english_form(text);
    ENGLISH.iter().any(|p| english.contains(&format!(" {p} ")))
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
