//! `infra/` follows the function table: every function has its Cloud Run service, worker
//! subscription or job, its Cloud Build trigger, its URL-map route or topic — all by
//! `for_each` over `functions.json` — and every variable a function needs in production is
//! set in its manifest (and parses as production configuration); at full scale, every
//! instance's pool fits in the database's connections.

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

    // Issue 12: the database speaks only TLS, and the functions ask for it.
    let sql = hcl::to_string(resource(&all, "google_sql_database_instance", "main")).unwrap();
    assert!(sql.contains("ssl_mode = \"ENCRYPTED_ONLY\""), "{sql}");
    assert!(
        text(&locals["database_at"]).contains("sslmode=require"),
        "DATABASE_URL requires TLS"
    );
    // Each function connects as its own role, with its own secret.
    let urls = text(&locals["database_urls"]);
    assert!(
        urls.contains("local.runnables")
            && urls.contains("postgres://mindpause_${replace(name, \"-\", \"_\")}"),
        "services and workers connect as their roles: {urls}"
    );
    assert_eq!(
        for_each_of(resource(
            &all,
            "google_secret_manager_secret",
            "database_url"
        )),
        "local.functions"
    );
    for f in functions::all() {
        if let Some(role) = f.database_role() {
            assert_eq!(role, format!("mindpause_{}", f.name.replace('-', "_")));
        }
    }

    // Cloud Run refuses a push whose OIDC audience is neither its run.app URL nor one of its
    // custom audiences: each worker accepts exactly what its subscription signs for.
    let run = resource(&all, "google_cloud_run_v2_service", "function");
    let audiences = text(
        run.body()
            .attributes()
            .find(|a| a.key() == "custom_audiences")
            .map(|a| a.expr())
            .expect("the run services declare custom_audiences"),
    );
    let subscription =
        hcl::to_string(resource(&all, "google_pubsub_subscription", "worker")).unwrap();
    for expected in [&audiences, &subscription] {
        assert!(
            expected.contains("local.function_env[each.key].PUSH_AUDIENCE"),
            "push audience: {expected}"
        );
    }
    assert!(audiences.contains("\"worker\""), "{audiences}");

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
    let s = shared::config::Settings::from_vars(
        Kind::Service,
        [("DATABASE_URL", "postgres://x@localhost/x")],
    )
    .unwrap();
    let topic = s.pubsub.topic_email_send;
    assert!(
        topics.contains(&format!("\"{topic}\"")),
        "topic {topic} not in infra"
    );
}

/// Each function's production environment and secrets, as infra/ gives them.
struct Manifest {
    function: functions::FunctionSpec,
    env: BTreeMap<String, Option<String>>,
    secrets: BTreeSet<String>,
}

impl Manifest {
    /// The function's production settings: literal values as written in infra/, plausible
    /// ones for interpolated values and secrets.
    fn settings(&self) -> shared::config::Settings {
        let mut vars: Vec<(String, String)> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_else(|| placeholder(k))))
            .collect();
        vars.extend(self.secrets.iter().map(|k| (k.clone(), placeholder(k))));
        shared::config::Settings::from_vars(self.function.kind, vars).unwrap_or_else(|e| {
            panic!(
                "{}: production configuration refused: {e}",
                self.function.name
            )
        })
    }
}

fn manifests(bodies: &[Body]) -> Vec<Manifest> {
    let locals = locals(bodies);
    let common_env = object(&locals["common_env"]);
    let feature_env: BTreeMap<String, BTreeMap<String, Option<String>>> = match &locals["feature_env"]
    {
        Expression::Object(o) => o.iter().map(|(k, v)| (key_name(k), object(v))).collect(),
        other => panic!("{other}"),
    };
    let kind_env: BTreeMap<String, BTreeMap<String, Option<String>>> = match &locals["kind_env"] {
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
    let lists = |name: &str| -> BTreeMap<String, Vec<String>> {
        match &locals[name] {
            Expression::Object(o) => o.iter().map(|(k, v)| (key_name(k), strings(v))).collect(),
            other => panic!("{other}"),
        }
    };
    let (kind_secrets, feature_secrets) = (lists("kind_secrets"), lists("feature_secrets"));
    functions::all()
        .iter()
        .map(|f| {
            let kind = match f.kind {
                Kind::Service => "service",
                Kind::Worker => "worker",
                Kind::Job => "job",
            };
            let mut env = common_env.clone();
            env.extend(kind_env.get(kind).cloned().unwrap_or_default());
            for feature in &f.features {
                env.extend(feature_env.get(feature).cloned().unwrap_or_default());
            }
            if f.kind == Kind::Worker {
                env.extend(worker_env.clone());
            }
            let secrets = common_secrets
                .iter()
                .chain(kind_secrets.get(kind).into_iter().flatten())
                .chain(
                    f.features
                        .iter()
                        .flat_map(|x| feature_secrets.get(x).into_iter().flatten()),
                )
                .cloned()
                .collect();
            Manifest {
                function: f.clone(),
                env,
                secrets,
            }
        })
        .collect()
}

#[test]
fn every_function_gets_what_it_needs_in_production_and_no_other_secret() {
    for m in manifests(&infra()) {
        let f = &m.function;
        let given: BTreeSet<&str> = m
            .env
            .keys()
            .map(String::as_str)
            .chain(m.secrets.iter().map(String::as_str))
            .collect();
        let required = shared::config::required_in_production(f.kind, &f.features);
        for required in &required {
            assert!(
                given.contains(required),
                "{}: infra does not set {required}",
                f.name
            );
        }
        // Least privilege: no secret the function does not need.
        for secret in &m.secrets {
            assert!(
                required.contains(&secret.as_str()),
                "{}: infra hands it {secret}, which it does not need",
                f.name
            );
        }
        // And the function accepts them as production configuration.
        let settings = m.settings();
        assert!(settings.is_production(), "{}", f.name);
        if f.features.iter().any(|x| x == "mail") {
            #[cfg(feature = "mail")]
            shared::mail::Mailer::from_settings(&settings.mail, true)
                .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        }
        if f.features.iter().any(|x| x == "sealing") {
            #[cfg(feature = "sealing")]
            shared::sealing::Keyring::from_settings(&settings)
                .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        }
        if f.features.iter().any(|x| x == "ai") {
            settings
                .require_openai_key()
                .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        }
        let signs = f.features.iter().any(|x| x == "signing");
        assert_eq!(
            settings.require_signing_keys().is_ok(),
            signs,
            "{}: only the functions that make tokens hold the signing keys",
            f.name
        );
    }
}

/// The attribute `name` of the first block `path` leads to under `block`.
fn nested<'a>(block: &'a Block, path: &[&str], name: &str) -> &'a Expression {
    let mut body = block.body();
    for step in path {
        body = body
            .blocks()
            .find(|b| b.identifier() == *step)
            .unwrap_or_else(|| panic!("no block {step}"))
            .body();
    }
    body.attributes()
        .find(|a| a.key() == name)
        .unwrap_or_else(|| panic!("no attribute {name}"))
        .expr()
}

/// A number, or `each.value.kind == "<kind>" ? a : b` evaluated for `kind`.
fn number_for_kind(expr: &Expression, kind: &str) -> u64 {
    match expr {
        Expression::Number(n) => n.as_u64().expect("a whole number"),
        Expression::Conditional(c) => {
            let condition = text(&c.cond_expr);
            assert!(condition.contains("each.value.kind"), "{condition}");
            if condition.contains(&format!("\"{kind}\"")) {
                number_for_kind(&c.true_expr, kind)
            } else {
                number_for_kind(&c.false_expr, kind)
            }
        }
        other => panic!("expected a number, got {other}"),
    }
}

/// Every instance of every function at its maximum scale, each with its whole pool, fits in
/// Cloud SQL's max_connections with room left for migrations and people.
#[test]
fn every_instance_at_full_scale_fits_the_database_connections() {
    let bodies = infra();
    let all = blocks(&bodies);
    let database = resource(&all, "google_sql_database_instance", "main");
    let max_connections: u64 = database
        .body()
        .blocks()
        .find(|b| b.identifier() == "settings")
        .expect("settings")
        .body()
        .blocks()
        .filter(|b| b.identifier() == "database_flags")
        .find(|b| {
            b.body()
                .attributes()
                .any(|a| a.key() == "name" && text(a.expr()).contains("max_connections"))
        })
        .map(|b| {
            text(nested(b, &[], "value"))
                .trim_matches('"')
                .parse()
                .unwrap()
        })
        .expect("a max_connections flag");
    let service = resource(&all, "google_cloud_run_v2_service", "function");
    let scaling = nested(service, &["template", "scaling"], "max_instance_count");
    let mut total = 0;
    let mut lines = Vec::new();
    for m in manifests(&bodies) {
        let instances = match m.function.kind {
            Kind::Service => number_for_kind(scaling, "service"),
            Kind::Worker => number_for_kind(scaling, "worker"),
            Kind::Job => 1,
        };
        let db = m.settings().database;
        let connections = instances * u64::from(db.pool_size + db.max_overflow);
        lines.push(format!(
            "{}: {instances} × {}",
            m.function.name,
            db.pool_size + db.max_overflow
        ));
        total += connections;
    }
    // Cloud SQL reserves a few connections for itself; keep a tenth for people and tools.
    assert!(
        total <= max_connections * 9 / 10,
        "{total} connections at full scale ({}) for max_connections = {max_connections}",
        lines.join(", ")
    );
}

fn placeholder(name: &str) -> String {
    match name {
        "DATABASE_URL" => "postgres://mindpause:secret@10.20.0.3:5432/mindpause".into(),
        "REDIS_URL" => "rediss://:secret@10.20.0.4:6378".into(),
        // A key pair made for these tests (Terraform makes the real one).
        "JWT_PRIVATE_KEY" => "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKeWYWd/9ooUTB2+oWns8dCnwMOonj1zGmyfGrLvpCqg\n-----END PRIVATE KEY-----".into(),
        "JWT_PUBLIC_KEYS" => "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAOxyV82F6iHOIZurCfhC85zYfHJ6RS5yF86FzwODFOJE=\n-----END PUBLIC KEY-----".into(),
        "JWT_REFRESH_SECRET_KEY" => "r".repeat(64),
        "CURSOR_SECRET_KEY" => "c".repeat(64),
        "DATA_ENCRYPTION_KEYS" => "2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=".into(),
        "SENTRY_DSN" => "https://key@o0.ingest.sentry.io/1".into(),
        "CORS_ORIGINS" | "FRONTEND_URL" => "https://app.mindpause.kr".into(),
        "FILES_URL" => "https://api.mindpause.kr/api/v1/files".into(),
        "OAUTH_REDIRECT_BASE" => "https://api.mindpause.kr/api/v1/auth".into(),
        "PUSH_AUDIENCE" => "https://mindpause-email-worker-push".into(),
        _ => "placeholder-value".into(),
    }
}
