//! The function table (`functions.json`) and the crates under `functions/` agree: every
//! function has its crate and every crate its entry, with the same features of `shared`,
//! the right shape for its kind, and a `main.rs` that runs under its own name.

use std::collections::BTreeSet;
use std::path::Path;

use shared::functions::{self, Kind};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The features of the `shared` dependency in `[dependencies]` of a crate manifest.
fn shared_features(manifest: &str) -> BTreeSet<String> {
    let dependencies = manifest
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .expect("a [dependencies] section");
    let line = dependencies
        .lines()
        .find(|l| l.trim_start().starts_with("shared"))
        .expect("a dependency on shared");
    match line.split_once("features") {
        None => BTreeSet::new(),
        Some((_, rest)) => {
            let list = rest.split_once('[').unwrap().1.split_once(']').unwrap().0;
            list.split(',')
                .map(|f| f.trim().trim_matches('"').to_owned())
                .filter(|f| !f.is_empty())
                .collect()
        }
    }
}

#[test]
fn every_function_has_its_crate_and_every_crate_its_entry() {
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "local")
        .collect();
    let table: BTreeSet<String> = functions::all().iter().map(|f| f.name.clone()).collect();
    assert_eq!(crates, table, "functions/ and functions.json differ");
}

#[test]
fn entries_match_their_crates() {
    for f in functions::all() {
        let dir = root().join("functions").join(&f.name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{}\"", f.name)),
            "{}: package name",
            f.name
        );
        let declared: BTreeSet<String> = f.features.iter().cloned().collect();
        assert_eq!(
            shared_features(&manifest),
            declared,
            "{}: features of shared",
            f.name
        );

        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        match f.kind {
            Kind::Service => {
                assert_eq!(
                    f.route.as_deref(),
                    Some(format!("/api/v1/{}", f.name).as_str()),
                    "{}",
                    f.name
                );
                assert!(f.topic.is_none());
                assert!(
                    main.contains(&format!("run_service(\"{}\"", f.name)),
                    "{}: main.rs",
                    f.name
                );
            }
            Kind::Worker => {
                assert!(
                    f.route.is_none() && f.topic.is_some(),
                    "{}: a worker has a topic",
                    f.name
                );
                assert!(
                    main.contains(&format!("run_worker(\"{}\"", f.name)),
                    "{}: main.rs",
                    f.name
                );
            }
            Kind::Job => assert!(f.route.is_none() && f.topic.is_none(), "{}", f.name),
        }
    }
}

#[test]
fn deployed_functions_report_errors_and_run_on_lambda() {
    for f in functions::all().iter().filter(|f| f.kind != Kind::Job) {
        for feature in ["sentry", "lambda"] {
            assert!(
                f.features.iter().any(|x| x == feature),
                "{} lacks {feature}",
                f.name
            );
        }
    }
}

#[test]
fn worker_topics_are_the_configured_ones() {
    let s = shared::config::Settings::from_vars(
        Kind::Service,
        [("DATABASE_URL", "postgres://x@localhost/x")],
    )
    .unwrap();
    let topics = [s.pubsub.topic_email_send];
    for f in functions::all().iter().filter(|f| f.kind == Kind::Worker) {
        assert!(
            topics.contains(f.topic.as_ref().unwrap()),
            "{}: unknown topic",
            f.name
        );
    }
}
