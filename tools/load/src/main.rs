//! The main user flow under an open-loop load, for `scripts/load.sh` (docs/BENCHMARKS.md, "The
//! user flow under load"). USERS people (made by the script: `load{i}@example.com`) log in and
//! open a conversation; then each sends the flow's requests on a keep-alive connection of its
//! own, at fixed times: person p's k-th request is due at start + (p + k·USERS) / RATE. The
//! total is RATE per second whatever the answers' speed (open loop), and every latency is
//! measured from when its request was due, so a slow answer that delays a person's next
//! requests is counted in theirs too (no coordinated omission). One thread: the client takes
//! as little as it can of the cores it shares with the server.
//!
//! Usage: `load BASE_URL USERS RATE SECONDS [READ_P99_MS WRITE_P99_MS]`. The exit status is 1
//! when a p99 is over its bound (25 and 50 ms by default) or an answer is not a 2xx.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;

const PASSWORD: &str = "load test password";
/// Logins at once: each is an argon2id hash on the server's cores.
const SIGN_INS_AT_ONCE: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

/// One request of the mix: GET without a body, POST with one; `{conversation}` in the path is
/// the person's conversation.
struct Step {
    weight: u64,
    kind: Kind,
    name: &'static str,
    path: &'static str,
    body: Option<&'static str>,
}

/// What a day of the app looks like: mostly reading one's own journal and the community, some
/// writing, a little talking to the companion.
const MIX: [Step; 7] = [
    Step {
        weight: 20,
        kind: Kind::Read,
        name: "GET /emotions",
        path: "/api/v1/emotions?limit=20",
        body: None,
    },
    Step {
        weight: 10,
        kind: Kind::Read,
        name: "GET /emotions/stats",
        path: "/api/v1/emotions/stats",
        body: None,
    },
    Step {
        weight: 15,
        kind: Kind::Write,
        name: "POST /emotions",
        path: "/api/v1/emotions",
        body: Some(
            r#"{"emotion":"calm","intensity":3,"note":"오늘은 조금 나았다","tags":["산책"]}"#,
        ),
    },
    Step {
        weight: 20,
        kind: Kind::Read,
        name: "GET /community/posts",
        path: "/api/v1/community/posts?limit=20",
        body: None,
    },
    Step {
        weight: 15,
        kind: Kind::Read,
        name: "GET /notifications",
        path: "/api/v1/notifications?limit=20",
        body: None,
    },
    Step {
        weight: 15,
        kind: Kind::Read,
        name: "GET /users/me",
        path: "/api/v1/users/me",
        body: None,
    },
    Step {
        weight: 5,
        kind: Kind::Write,
        name: "POST /chat/…/messages",
        path: "/api/v1/chat/conversations/{conversation}/messages",
        body: Some(r#"{"content":"오늘 좀 지쳤어"}"#),
    },
];

struct Person {
    client: reqwest::Client,
    token: String,
    conversation: String,
}

struct Sample {
    step: usize,
    /// 0 when no answer came (a connection error).
    status: u16,
    latency: Duration,
    done: Instant,
}

#[derive(Clone, Copy)]
struct Plan {
    users: usize,
    rate: f64,
    start: Instant,
    end: Instant,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(4..=6).contains(&args.len()) {
        eprintln!("usage: load BASE_URL USERS RATE SECONDS [READ_P99_MS WRITE_P99_MS]");
        return ExitCode::from(2);
    }
    let number = |i: usize, default: f64| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let base: Arc<str> = args[0].trim_end_matches('/').into();
    let (users, rate, seconds) = (number(1, 0.0) as usize, number(2, 0.0), number(3, 0.0));
    let bounds = [number(4, 25.0), number(5, 50.0)];
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let people = match sign_in_everyone(&base, users).await {
            Ok(people) => people,
            Err(error) => {
                eprintln!("load: {error}");
                return ExitCode::FAILURE;
            }
        };
        let start = Instant::now() + Duration::from_secs(1);
        let plan = Plan {
            users,
            rate,
            start,
            end: start + Duration::from_secs_f64(seconds),
        };
        eprintln!("load: {users} people, {rate} requests/s for {seconds} s");
        let runs: Vec<_> = people
            .into_iter()
            .enumerate()
            .map(|(i, person)| tokio::spawn(follow(person, i, base.clone(), plan)))
            .collect();
        let mut samples = Vec::new();
        for run in runs {
            samples.extend(run.await.expect("a person's run"));
        }
        report(&samples, plan, bounds)
    })
}

async fn sign_in_everyone(base: &Arc<str>, users: usize) -> Result<Vec<Person>, String> {
    let at_once = Arc::new(Semaphore::new(SIGN_INS_AT_ONCE));
    let tasks: Vec<_> = (0..users)
        .map(|i| {
            let (base, at_once) = (base.clone(), at_once.clone());
            tokio::spawn(async move {
                let _turn = at_once.acquire_owned().await.expect("the semaphore");
                sign_in(&base, i).await
            })
        })
        .collect();
    let mut people = Vec::with_capacity(users);
    for task in tasks {
        people.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok(people)
}

/// The `data` of an enveloped answer to `request`, or what went wrong, named `what`.
async fn data(request: reqwest::RequestBuilder, what: &str) -> Result<Value, String> {
    let answer: Value = request
        .send()
        .await
        .map_err(|e| format!("{what}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    answer
        .get("data")
        .cloned()
        .ok_or_else(|| format!("{what}: {answer}"))
}

/// Logs person `i` in on a client of their own (one keep-alive connection) and opens their
/// conversation.
async fn sign_in(base: &str, i: usize) -> Result<Person, String> {
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": format!("load{i}@example.com"), "password": PASSWORD }));
    let token = data(login, "login").await?["tokens"]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let conversation = client
        .post(format!("{base}/api/v1/chat/conversations"))
        .bearer_auth(&token)
        .json(&json!({}));
    let conversation = data(conversation, "conversation").await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(Person {
        client,
        token,
        conversation,
    })
}

/// Person `index`'s requests, each at its due time (or at once when the previous answer came
/// late), timed from when it was due.
async fn follow(person: Person, index: usize, base: Arc<str>, plan: Plan) -> Vec<Sample> {
    let mut seed = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut samples = Vec::new();
    for k in 0.. {
        let due = plan.start + Duration::from_secs_f64((index + k * plan.users) as f64 / plan.rate);
        if due >= plan.end {
            break;
        }
        tokio::time::sleep_until(due).await;
        let step = pick(&mut seed);
        let status = send(&person, &base, &MIX[step]).await;
        let done = Instant::now();
        samples.push(Sample {
            step,
            status,
            latency: done - due,
            done,
        });
    }
    samples
}

/// A step of the mix by weight (xorshift64: reproducible, no dependency).
fn pick(state: &mut u64) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let mut left = *state % MIX.iter().map(|s| s.weight).sum::<u64>();
    MIX.iter()
        .position(|s| {
            let here = left < s.weight;
            left = left.saturating_sub(s.weight);
            here
        })
        .expect("a step")
}

async fn send(person: &Person, base: &str, step: &Step) -> u16 {
    let url = format!(
        "{base}{}",
        step.path.replace("{conversation}", &person.conversation)
    );
    let request = match step.body {
        Some(body) => person
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body),
        None => person.client.get(url),
    };
    match request.bearer_auth(&person.token).send().await {
        // The whole answer is read (a chat reply is a stream): the connection is then reused.
        Ok(answer) => {
            let status = answer.status().as_u16();
            if answer.bytes().await.is_ok() {
                status
            } else {
                0
            }
        }
        Err(_) => 0,
    }
}

fn report(samples: &[Sample], plan: Plan, bounds: [f64; 2]) -> ExitCode {
    let last = samples.iter().map(|s| s.done).max().unwrap_or(plan.start);
    let elapsed = (last - plan.start).as_secs_f64();
    let mut failed: Vec<u16> = samples
        .iter()
        .map(|s| s.status)
        .filter(|s| !(200..300).contains(s))
        .collect();
    failed.sort_unstable();
    let mut statuses = failed.clone();
    statuses.dedup();
    let by_status: Vec<String> = statuses
        .iter()
        .map(|status| {
            let count = failed.iter().filter(|s| *s == status).count();
            match status {
                0 => format!("{count}× no answer"),
                _ => format!("{count}× {status}"),
            }
        })
        .collect();
    println!(
        "{} requests in {elapsed:.1} s ({:.0}/s asked {:.0}/s), {} not 2xx {}",
        samples.len(),
        samples.len() as f64 / elapsed,
        plan.rate,
        failed.len(),
        by_status.join(", ")
    );
    println!(
        "{:<24} {:>7} {:>8} {:>8} {:>8} {:>8}   (ms from when each was due)",
        "", "count", "p50", "p90", "p99", "max"
    );
    let row = |name: &str, mut latencies: Vec<Duration>| {
        latencies.sort_unstable();
        let at = |q: f64| {
            let i =
                ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
            latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        println!(
            "{name:<24} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            latencies.len(),
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0)
        );
        at(0.99)
    };
    let mut met = failed.is_empty();
    for (kind, name, bound) in [
        (Kind::Read, "reads", bounds[0]),
        (Kind::Write, "writes", bounds[1]),
    ] {
        let p99 = row(
            name,
            samples
                .iter()
                .filter(|s| MIX[s.step].kind == kind)
                .map(|s| s.latency)
                .collect(),
        );
        met &= p99 <= bound;
    }
    for (i, step) in MIX.iter().enumerate() {
        row(
            step.name,
            samples
                .iter()
                .filter(|s| s.step == i)
                .map(|s| s.latency)
                .collect(),
        );
    }
    println!(
        "goal (p99 ≤ {} ms reads, ≤ {} ms writes, every answer 2xx): {}",
        bounds[0],
        bounds[1],
        if met { "met" } else { "NOT met" }
    );
    if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
