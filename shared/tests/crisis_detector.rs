//! The crisis detector against the phrase table kept in the repository.

#[test]
fn every_phrase_of_the_table() {
    let table = include_str!("fixtures/crisis_phrases.tsv");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (expected, phrase) = line.split_once('\t').expect("expected<TAB>phrase");
        let flagged = shared::safety::lexicon_flags(phrase);
        let want = match expected {
            "crisis" => true,
            "calm" => false,
            other => panic!("unknown label {other}"),
        };
        if flagged != want {
            wrong.push(format!("{expected}: {phrase}"));
        }
        checked += 1;
    }
    assert!(checked > 50, "the table has {checked} phrases");
    assert!(wrong.is_empty(), "misjudged:\n{}", wrong.join("\n"));
}
