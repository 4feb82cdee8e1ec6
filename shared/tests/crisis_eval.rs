//! The crisis detector against the labelled evaluation set (`fixtures/crisis_eval.tsv`:
//! level, category, language, message; written for this project, a third and more hard
//! negatives). It must catch at least 98 % of `crisis` messages and call at most 2 % of the
//! `none` ones a crisis. `cargo test -p shared --test crisis_eval -- --nocapture` prints the
//! per-category figures recorded in docs/BENCHMARKS.md.

use std::collections::BTreeMap;

use shared::safety::{Level, assess};

struct Case {
    level: &'static str,
    category: &'static str,
    lang: &'static str,
    message: &'static str,
}

fn cases() -> Vec<Case> {
    include_str!("fixtures/crisis_eval.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [level, category, lang, message] = f[..] else {
                panic!("four fields expected: {line}");
            };
            Case {
                level,
                category,
                lang,
                message,
            }
        })
        .collect()
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::None => "none",
        Level::Concern => "concern",
        Level::Crisis => "crisis",
    }
}

#[test]
fn the_detector_meets_its_bars_on_the_evaluation_set() {
    let cases = cases();
    assert!(cases.len() >= 300, "{} cases", cases.len());
    let (mut crisis, mut caught, mut negatives, mut false_crisis) = (0, 0, 0, 0);
    let mut missed = Vec::new();
    let mut alarms = Vec::new();
    // Per expected category: (cases, judged at the expected level).
    let mut by_category: BTreeMap<(&str, &str), (u32, u32)> = BTreeMap::new();
    // Per category name: (expected, judged, both).
    let mut categories: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for case in &cases {
        let judged = assess(case.message);
        let got = level_name(judged.level);
        let named = judged.category.map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        });
        if case.level != "none" {
            categories.entry(case.category.to_owned()).or_default().0 += 1;
        }
        if let Some(named) = &named {
            let entry = categories.entry(named.clone()).or_default();
            entry.1 += 1;
            if named == case.category {
                entry.2 += 1;
            }
        }
        let entry = by_category.entry((case.level, case.category)).or_default();
        entry.0 += 1;
        if got == case.level {
            entry.1 += 1;
        } else if case.level == "concern" && std::env::var_os("CRISIS_EVAL_VERBOSE").is_some() {
            println!("concern/{} judged {got}: {}", case.category, case.message);
        }
        match case.level {
            "crisis" => {
                crisis += 1;
                if judged.level == Level::Crisis {
                    caught += 1;
                } else {
                    missed.push(format!(
                        "{} [{}] {}",
                        case.category, case.lang, case.message
                    ));
                }
            }
            "none" => {
                negatives += 1;
                if judged.level == Level::Crisis {
                    false_crisis += 1;
                    alarms.push(format!(
                        "{} [{}] {}",
                        case.category, case.lang, case.message
                    ));
                }
            }
            _ => {}
        }
    }
    println!("| expected | cases | judged at that level |");
    println!("|---|---|---|");
    for ((level, category), (n, right)) in &by_category {
        println!(
            "| {level} / {category} | {n} | {right} ({:.0} %) |",
            100.0 * *right as f64 / *n as f64
        );
    }
    if std::env::var_os("CRISIS_EVAL_VERBOSE").is_some() {
        println!("alarms:\n{}", alarms.join("\n"));
        println!("missed:\n{}", missed.join("\n"));
    }
    println!("| category | precision | recall |");
    println!("|---|---|---|");
    for (name, (expected, judged, both)) in &categories {
        let ratio = |a: u32, b: u32| {
            if b == 0 {
                "—".to_owned()
            } else {
                format!("{:.2}", a as f64 / b as f64)
            }
        };
        println!(
            "| {name} | {} ({both}/{judged}) | {} ({both}/{expected}) |",
            ratio(*both, *judged),
            ratio(*both, *expected)
        );
    }
    let recall = caught as f64 / crisis as f64;
    let false_rate = false_crisis as f64 / negatives as f64;
    println!(
        "crisis recall {recall:.3} ({caught}/{crisis}); false crisis on negatives {false_rate:.3} ({false_crisis}/{negatives})"
    );
    assert!(
        recall >= 0.98,
        "crisis recall {recall:.3}; missed:\n{}",
        missed.join("\n")
    );
    assert!(
        false_rate <= 0.02,
        "false crisis {false_rate:.3}; alarms:\n{}",
        alarms.join("\n")
    );
}
