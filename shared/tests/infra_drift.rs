//! `infra/` follows the function table: every function has its Cloud Run service, worker
//! subscription or job, its Cloud Build trigger, its URL-map route or topic — all by
//! `for_each` over `functions.json` — and every variable a function needs in production is
//! set in its manifest (and parses as production configuration).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hcl::{Block, Body, Expression, ObjectKey};
use shared::functions::{self, Kind};

fn infra() -> Vec<Body> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            hcl::parse(&std::fs::read_to_string(p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

fn blocks(bodies: &[Body]) -> Vec<Block> {
    bodies.iter().flat_map(|b| b.blocks().cloned()).collect()
}

fn locals(bodies: &[Body]) -> BTreeMap<String, Expression> {
    blocks(bodies)
        .into_iter()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| {
            b.body()
                .attributes()
                .map(|a| (a.key().to_owned(), a.expr().clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn resource<'a>(all: &'a [Block], kind: &str, name: &str) -> &'a Block {
    all.iter()
        .find(|b| {
            b.identifier() == "resource"
                && b.labels().first().map(|l| l.as_str()) == Some(kind)
                && b.labels().get(1).map(|l| l.as_str()) == Some(name)
        })
        .unwrap_or_else(|| panic!("infra has no resource {kind}.{name}"))
}

fn text(expr: &Expression) -> String {
    expr.to_string()
}

fn for_each_of(block: &Block) -> String {
    text(
        block
            .body()
            .attributes()
            .find(|a| a.key() == "for_each")
            .expect("for_each")
            .expr(),
    )
}

fn key_name(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(i) => i.to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        ObjectKey::Expression(e) => e.to_string(),
        _ => String::new(),
    }
}

/// Keys (and their literal values, when literal) of an object expression.
fn object(expr: &Expression) -> BTreeMap<String, Option<String>> {
    match expr {
        Expression::Object(o) => o
            .iter()
            .map(|(k, v)| {
                (
                    key_name(k),
                    if let Expression::String(s) = v {
                        Some(s.clone())
                    } else {
                        None
                    },
                )
            })
            .collect(),
        other => panic!("expected an object, got {other}"),
    }
}

fn strings(expr: &Expression) -> Vec<String> {
    match expr {
        Expression::Array(items) => items
            .iter()
            .map(|i| {
                if let Expression::String(s) = i {
                    s.clone()
                } else {
                    panic!("{i}")
                }
            })
            .collect(),
        other => panic!("expected an array, got {other}"),
    }
}

/// Every upper-case object key anywhere in `expr`, with literal values.
fn env_keys(expr: &Expression, out: &mut BTreeMap<String, Option<String>>) {
    match expr {
        Expression::Object(o) => {
            for (k, v) in o.iter() {
                let name = key_name(k);
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    out.insert(
                        name,
                        if let Expression::String(s) = v {
                            Some(s.clone())
                        } else {
                            None
                        },
                    );
                }
                env_keys(v, out);
            }
        }
        Expression::Conditional(c) => {
            env_keys(&c.true_expr, out);
            env_keys(&c.false_expr, out);
        }
        Expression::FuncCall(f) => f.args.iter().for_each(|a| env_keys(a, out)),
        Expression::ForExpr(f) => env_keys(&f.value_expr, out),
        Expression::Parenthesis(p) => env_keys(p, out),
        _ => {}
    }
}

#[test]
fn infra_reads_the_function_table_and_covers_every_kind() {
    let bodies = infra();
    let locals = locals(&bodies);
    assert!(
        text(&locals["table"]).contains("functions.json"),
        "locals.table must read functions.json"
    );
    let all = blocks(&bodies);
    assert_eq!(
        for_each_of(resource(&all, "google_cloud_run_v2_service", "function")),
        "local.runnables"
    );
    assert_eq!(
        for_each_of(resource(&all, "google_cloud_run_v2_job", "function")),
        "local.jobs"
    );
    assert_eq!(
        for_each_of(resource(&all, "google_pubsub_subscription", "worker")),
        "local.workers"
    );
    assert_eq!(
        for_each_of(resource(
            &all,
            "google_compute_region_network_endpoint_group",
            "function"
        )),
        "local.services"
    );
    assert_eq!(
        for_each_of(resource(&all, "google_compute_backend_service", "function")),
        "local.services"
    );
    assert_eq!(
        for_each_of(resource(&all, "google_cloudbuild_trigger", "function")),
        "local.functions"
    );
    assert_eq!(
        for_each_of(resource(&all, "google_service_account", "function")),
        "local.functions"
    );

    let url_map_body = hcl::to_string(resource(&all, "google_compute_url_map", "api")).unwrap();
    assert!(
        url_map_body.contains("for_each = local.services"),
        "the URL map routes every service"
    );
    assert!(
        url_map_body.contains("path_rule.value.route"),
        "routes come from the table's prefixes"
    );

    let trigger = hcl::to_string(resource(&all, "google_cloudbuild_trigger", "function")).unwrap();
    for pattern in [
        "functions/${each.key}/**",
        "shared/**",
        "migrations/**",
        "Cargo.lock",
    ] {
        assert!(trigger.contains(pattern), "trigger paths lack {pattern}");
    }
    assert!(trigger.contains("_FUNCTION = each.key"));

    let topics = text(&locals["topics"]);
    for f in functions::all().iter().filter(|f| f.kind == Kind::Worker) {
        let topic = f.topic.as_ref().unwrap();
        assert!(
            topics.contains(&format!("\"{topic}\"")),
            "{}: topic {topic} not in infra",
            f.name
        );
    }
    let s = shared::config::Settings::from_vars([("DATABASE_URL", "postgres://x@localhost/x")])
        .unwrap();
    for topic in [
        s.pubsub.topic_email_send,
        s.pubsub.topic_image_resize,
        s.pubsub.topic_notification_purge,
    ] {
        assert!(
            topics.contains(&format!("\"{topic}\"")),
            "topic {topic} not in infra"
        );
    }
}

#[test]
fn every_function_gets_what_it_needs_in_production() {
    let locals = locals(&infra());
    let common_env = object(&locals["common_env"]);
    let feature_env: BTreeMap<String, BTreeMap<String, Option<String>>> = match &locals["feature_env"]
    {
        Expression::Object(o) => o.iter().map(|(k, v)| (key_name(k), object(v))).collect(),
        other => panic!("{other}"),
    };
    let mut function_env = BTreeMap::new();
    env_keys(&locals["function_env"], &mut function_env);
    let worker_env: BTreeMap<_, _> = function_env
        .into_iter()
        .filter(|(k, _)| k.starts_with("PUSH_"))
        .collect();
    let common_secrets = strings(&locals["common_secrets"]);
    let feature_secrets: BTreeMap<String, Vec<String>> = match &locals["feature_secrets"] {
        Expression::Object(o) => o.iter().map(|(k, v)| (key_name(k), strings(v))).collect(),
        other => panic!("{other}"),
    };

    for f in functions::all() {
        let worker = f.kind == Kind::Worker;
        let mut env: BTreeMap<String, Option<String>> = common_env.clone();
        for feature in &f.features {
            env.extend(feature_env.get(feature).cloned().unwrap_or_default());
        }
        if worker {
            env.extend(worker_env.clone());
        }
        let secrets: BTreeSet<String> = common_secrets
            .iter()
            .chain(
                f.features
                    .iter()
                    .flat_map(|x| feature_secrets.get(x).into_iter().flatten()),
            )
            .cloned()
            .collect();
        let given: BTreeSet<&str> = env
            .keys()
            .map(String::as_str)
            .chain(secrets.iter().map(String::as_str))
            .collect();
        for required in shared::config::required_in_production(worker, &f.features) {
            assert!(
                given.contains(required),
                "{}: infra does not set {required}",
                f.name
            );
        }

        // And the function accepts them as production configuration: literal values as
        // written in infra/, plausible ones for interpolated values and secrets.
        let mut vars: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_else(|| placeholder(k))))
            .collect();
        vars.extend(secrets.iter().map(|k| (k.clone(), placeholder(k))));
        let settings = shared::config::Settings::from_vars(vars)
            .unwrap_or_else(|e| panic!("{}: production configuration refused: {e}", f.name));
        assert!(settings.is_production(), "{}", f.name);
        if f.features.iter().any(|x| x == "mail") {
            #[cfg(feature = "mail")]
            shared::mail::Mailer::from_settings(&settings.mail, true)
                .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        }
        if f.features.iter().any(|x| x == "ai") {
            settings
                .require_openai_key()
                .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        }
    }
}

fn placeholder(name: &str) -> String {
    match name {
        "DATABASE_URL" => "postgres://mindpause:secret@10.20.0.3:5432/mindpause".into(),
        "REDIS_URL" => "redis://:secret@10.20.0.4:6379".into(),
        "JWT_SECRET_KEY" => "j".repeat(64),
        "JWT_REFRESH_SECRET_KEY" => "r".repeat(64),
        "SENTRY_DSN" => "https://key@o0.ingest.sentry.io/1".into(),
        "CORS_ORIGINS" | "FRONTEND_URL" => "https://app.mindpause.kr".into(),
        "PUSH_AUDIENCE" => "https://mindpause-email-worker-push".into(),
        _ => "placeholder-value".into(),
    }
}
