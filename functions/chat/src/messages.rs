//! Sending a message: the person's words are saved first; the crisis check runs on them
//! whatever the model does; then the companion answers (at once, or streamed as SSE), and
//! the answer is saved when complete — even if the client has gone.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{SubsecRound, Utc};
use futures_util::StreamExt;
use serde_json::json;
use shared::ai::Turn;
use shared::config::RateSpec;
use shared::envelope::Envelope;
use shared::error::ErrorChain;
use shared::http::{AuthUser, Json, PerUser, ResourceId, RouteLimit};
use shared::locale::Lang;
use shared::telemetry::PRIVATE;
use shared::{ApiError, ApiResult, AppState, ErrorCode, Reply};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::model::{CONTENT, Exchange, Message, SendMessage, TITLE, title_from};
use crate::safety;
use shared::safety::{self as crisis, Safety};

/// How much of the conversation the model sees, newest first (characters: a conservative
/// stand-in for tokens, since Hangul is about one token per character), and at most 40
/// messages (a literal `LIMIT 39` in `prepare`'s statement, with the new message: as a
/// bound parameter, the planner would re-plan the statement on every message).
const CONTEXT_BUDGET_CHARS: usize = 6000;

pub const SYSTEM_PROMPT: &str = "당신은 정신건강 앱 '마음쉼표'의 AI 동반자입니다. \
사용자의 감정에 따뜻하게 공감하고, 판단하지 않으며, 짧고 다정한 말로 답합니다. \
당신이 사람이 아닌 AI라는 사실을 숨기지 않으며, AI인지 사람인지 물으면 AI라고 분명히 답합니다. \
의학적·심리학적 진단을 내리지 않고, 약물이나 치료를 처방하지 않습니다. \
고통이 크거나 오래 이어지면 정신건강의학과나 상담센터 같은 전문가의 도움을 부드럽게 권합니다. \
자해나 자살의 위험이 보이면 무엇보다 안전을 우선하고 자살예방상담전화 109, 정신건강위기상담전화 1577-0199를 안내하며, \
믿을 수 있는 사람에게 연락하도록 격려합니다. \
자살이나 자해의 방법, 수단, 약의 양, 장소에 관한 정보는 어떤 이유로도 알려 주지 않고, 그런 질문에는 안전과 도움을 먼저 이야기합니다. \
자살을 해결책처럼 말하거나 미화하지 않고, 죄책감을 주거나 훈계하지 않습니다. \
사용자가 영어로 말하면 영어로 답합니다.";

/// Send a message and get the companion's answer; with `Accept: text/event-stream` the
/// answer streams (`delta` events, then `done` with this same envelope, or `error`).
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SendMessage,
    responses(
        (status = 201, description = "Both messages and the safety check", body = Envelope<Exchange>),
        (status = 200, description = "text/event-stream: delta, then done (or error)"),
        (status = 404, description = "NOT_FOUND"),
        (status = 422, description = "VALIDATION_ERROR"),
        (status = 429, description = "RATE_LIMITED (RATE_LIMIT_AI_CHAT)"),
        (status = 503, description = "AI_UNAVAILABLE: your message was saved"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn send(
    State(state): State<AppState>,
    limit: PerUser<AiChat>,
    user: AuthUser,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    Json(body): Json<SendMessage>,
) -> (PerUser<AiChat>, Response) {
    let streaming = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let response = match prepare(&state, &user, id, &body.content).await {
        Err(e) => e.into_response(),
        Ok(turn) if streaming => stream(state, turn).into_response(),
        Ok(turn) => answer(&state, turn).await.into_response(),
    };
    (limit, response)
}

/// `RATE_LIMIT_AI_CHAT`: every send attempt the general limit allowed, per user, counted
/// before the body is read.
pub struct AiChat;

impl RouteLimit for AiChat {
    const NAME: &'static str = "ai-chat";
    const VAR: &'static str = "RATE_LIMIT_AI_CHAT";
    const DEFAULT: RateSpec = RateSpec::per_minutes(30, 60);
}

/// Everything known once the person's message is saved.
struct PendingTurn {
    conversation_id: Uuid,
    user_message: Message,
    history: Vec<Turn>,
    user_id: Uuid,
    /// The message by the detector (`shared::safety`).
    assessment: crisis::Assessment,
    /// A crisis earlier in this conversation, less than a day ago.
    recent_crisis: bool,
    lang: Lang,
}

async fn prepare(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    content: &str,
) -> ApiResult<PendingTurn> {
    let content =
        crate::model::content(content).map_err(|problem| ApiError::field("content", problem))?;
    let content = content.as_str();
    let assessment = crisis::assess(content);
    let user_message = Message {
        id: Uuid::now_v7(),
        role: "user".into(),
        content: content.to_owned(),
        provider: None,
        // What PostgreSQL stores: microseconds.
        created_at: Utc::now().trunc_subsecs(6),
    };
    // One statement, so one round trip and atomic: only the owner's conversation is counted
    // and only then is the message stored (nothing at all for someone else's: 404). The
    // recent conversation comes back with it, newest first: the new message (only when it
    // was saved), then the earlier ones (the reads see the table before the insert).
    let newest_first: Vec<(bool, String, Vec<u8>, bool)> = sqlx::query_as(
        "WITH conversation AS (
             UPDATE conversations SET
                 title = CASE WHEN title_from_message AND message_count = 0 THEN $4 ELSE title END,
                 title_from_message = title_from_message AND message_count > 0,
                 message_count = message_count + 1, last_message_at = $5, updated_at = now()
             WHERE id = $1 AND user_id = $2
             RETURNING id, COALESCE(crisis_until > now(), false) AS recent_crisis
         ),
         saved AS (
             INSERT INTO chat_messages (id, conversation_id, role, content, created_at)
             SELECT $6, id, 'user', $3, $5 FROM conversation
             RETURNING role, content
         )
         SELECT true, role, content, (SELECT recent_crisis FROM conversation) FROM saved
         UNION ALL
         (SELECT false, role, content, false FROM chat_messages
          WHERE conversation_id = (SELECT id FROM conversation)
          ORDER BY created_at DESC, id DESC LIMIT 39)",
    )
    .bind(id)
    .bind(user.id)
    .bind(state.keyring.seal(CONTENT, user.id, content))
    .bind(state.keyring.seal(TITLE, user.id, &title_from(content)))
    .bind(user_message.created_at)
    .bind(user_message.id)
    .fetch_all(&state.db)
    .await?;
    let Some(&(true, _, _, recent_crisis)) = newest_first.first() else {
        return Err(ApiError::not_found());
    };
    let mut history = Vec::with_capacity(newest_first.len());
    for (new, role, sealed, _) in newest_first {
        let text = if new {
            content.to_owned()
        } else {
            state.keyring.open(CONTENT, user.id, &sealed)?
        };
        history.push((role, text));
    }
    Ok(PendingTurn {
        conversation_id: id,
        history: context(history.into_iter()),
        user_message,
        user_id: user.id,
        assessment,
        recent_crisis,
        lang: Lang::current(),
    })
}

/// The message's safety: the detector's judgement, raised to `crisis` when the provider's
/// moderation flags self-harm (run alongside the model's answer, so it adds no waiting), and
/// kept at `concern` with the lines for a day after a crisis in the conversation. A crisis
/// is recorded without the words, and the conversation remembers it.
async fn assess(state: &AppState, turn: &PendingTurn) -> (Safety, Handling) {
    let moderation = state
        .companion
        .moderate(&turn.user_message.content)
        .await
        .unwrap_or_default();
    let mut assessment = turn.assessment;
    if moderation.flagged && assessment.level != crisis::Level::Crisis {
        assessment = crisis::Assessment {
            level: crisis::Level::Crisis,
            category: None,
        };
    }
    // Counts for the team, never who or what (our own logs only, outside the request's span).
    if assessment.level != crisis::Level::None {
        tracing::info!(target: PRIVATE, parent: None, level = ?assessment.level, category = ?assessment.category, moderation = moderation.flagged, "safety assessment");
    }
    let handling =
        if assessment.category == Some(crisis::Category::Means) || moderation.instructions {
            Handling::Replace
        } else {
            Handling::Lead
        };
    if assessment.level == crisis::Level::Crisis {
        let mut sources = Vec::new();
        if turn.assessment.level == crisis::Level::Crisis {
            sources.push("lexicon");
        }
        if moderation.flagged {
            sources.push("moderation");
        }
        let recorded = sqlx::query(
            "WITH remembered AS (
                 UPDATE conversations SET crisis_until = now() + interval '24 hours' WHERE id = $3
             )
             INSERT INTO safety_events (id, user_id, conversation_id, message_id, sources)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(turn.user_id)
        .bind(turn.conversation_id)
        .bind(turn.user_message.id)
        .bind(&sources)
        .execute(&state.db)
        .await;
        if let Err(e) = recorded {
            // The person's answer matters more than the record.
            tracing::error!(target: PRIVATE, parent: None, error = %ErrorChain(&e), "could not record a safety event");
        }
    }
    (
        Safety::of(assessment).remembering(turn.recent_crisis),
        handling,
    )
}

/// What becomes of the model's words when the message shows risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handling {
    /// Our words first, then the model's.
    Lead,
    /// Our words only: the message asks for means, or moderation saw instructions; nothing
    /// of the model's (which might answer it) passes.
    Replace,
}

/// What the reply says first for `safety`, if anything.
fn safety_words(safety: &Safety, english: bool) -> Option<&'static str> {
    match safety.level {
        crisis::Level::Crisis => Some(safety::crisis_preamble(english)),
        crisis::Level::Concern if safety.category == Some(crisis::Category::ThirdParty) => {
            Some(safety::helping_someone(english))
        }
        crisis::Level::Concern => Some(safety::gentle_lines(english)),
        crisis::Level::None => None,
    }
}

/// The recent conversation within the budget, oldest first, from (role, text) newest first.
fn context(newest_first: impl Iterator<Item = (String, String)>) -> Vec<Turn> {
    let mut used = 0;
    let mut turns = Vec::new();
    for (role, text) in newest_first {
        used += text.chars().count();
        if used > CONTEXT_BUDGET_CHARS && !turns.is_empty() {
            break;
        }
        turns.push(if role == "user" {
            Turn::User(text)
        } else {
            Turn::Assistant(text)
        });
    }
    turns.reverse();
    turns
}

/// One statement, so atomic without a transaction. The conversation may have been deleted
/// meanwhile: then nothing is saved (the reply went with it) and the message is returned
/// as it would have been.
async fn save_reply(
    state: &AppState,
    turn: &PendingTurn,
    content: &str,
    provider: &str,
) -> ApiResult<Message> {
    let message = Message {
        id: Uuid::now_v7(),
        role: "assistant".into(),
        content: content.to_owned(),
        provider: Some(provider.to_owned()),
        // What PostgreSQL stores: microseconds.
        created_at: Utc::now().trunc_subsecs(6),
    };
    sqlx::query(
        "WITH conversation AS (
             UPDATE conversations SET message_count = message_count + 1, last_message_at = $5, updated_at = now()
             WHERE id = $2
             RETURNING id
         )
         INSERT INTO chat_messages (id, conversation_id, role, content, provider, created_at)
         SELECT $1, id, 'assistant', $3, $4, $5 FROM conversation",
    )
    .bind(message.id)
    .bind(turn.conversation_id)
    .bind(state.keyring.seal(CONTENT, turn.user_id, content))
    .bind(provider)
    .bind(message.created_at)
    .execute(&state.db)
    .await?;
    Ok(message)
}

/// The reply the person gets: our words first when the message showed risk (only ours when
/// the model must not answer it); ours alone if the model failed then.
fn compose(
    turn: &PendingTurn,
    (safety, handling): &(Safety, Handling),
    model: Result<String, shared::ai::AiError>,
    provider: &'static str,
) -> Result<(String, &'static str), shared::ai::AiError> {
    let ours = safety_words(safety, turn.lang == Lang::En);
    let replace = safety.level == crisis::Level::Crisis && *handling == Handling::Replace;
    match (model, ours) {
        (_, Some(ours)) if replace => Ok((ours.to_owned(), "offline")),
        (Ok(text), None) => Ok((text, provider)),
        (Ok(text), Some(ours)) => Ok((format!("{ours}\n\n{text}"), provider)),
        (Err(_), Some(ours)) => Ok((ours.to_owned(), "offline")),
        (Err(e), None) => Err(e),
    }
}

async fn answer(state: &AppState, turn: PendingTurn) -> ApiResult<Reply<Exchange>> {
    let english = turn.lang == Lang::En;
    let (judged, model) = tokio::join!(
        assess(state, &turn),
        state.companion.reply(SYSTEM_PROMPT, &turn.history, english)
    );
    let (content, provider) =
        compose(&turn, &judged, model, state.companion.provider()).map_err(|e| {
            tracing::warn!(conversation_id = %turn.conversation_id, error = %ErrorChain(&e), "AI companion unavailable");
            ApiError::code(ErrorCode::AiUnavailable)
        })?;
    let assistant_message = save_reply(state, &turn, &content, provider).await?;
    Ok(Reply::created(Exchange {
        user_message: turn.user_message,
        assistant_message,
        safety: judged.0,
    }))
}

fn done_event(exchange: &Exchange) -> Event {
    let envelope = json!({
        "success": true, "data": exchange, "message": "Success",
        "timestamp": shared::envelope::timestamp(),
    });
    Event::default().event("done").data(envelope.to_string())
}

fn error_event(error: ApiError, lang: Lang) -> Event {
    Event::default()
        .event("error")
        .data(error.body(lang).to_string())
}

/// SSE: the generation runs in its own task, so a client that disconnects mid-stream still
/// gets the whole reply saved; events to a gone client are simply dropped.
fn stream(state: AppState, turn: PendingTurn) -> impl IntoResponse {
    let (tx, rx) = mpsc::channel::<Event>(256);
    tokio::spawn(async move {
        // Waits for a slow client; fails at once (ignored) for one that has gone.
        let emit = |event: Event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event).await;
            }
        };
        let delta = |content: &str| {
            Event::default()
                .event("delta")
                .data(json!({ "content": content }).to_string())
        };
        let english = turn.lang == Lang::En;
        // The moderation check and the model's first bytes are awaited together; the crisis
        // lines, when needed, still come before the model's first word.
        let (judged, upstream) = tokio::join!(
            assess(&state, &turn),
            state
                .companion
                .stream(SYSTEM_PROMPT, &turn.history, english)
        );
        let ours = safety_words(&judged.0, english);
        // The model's words are not shown at all when they must not pass.
        let replace = judged.0.level == crisis::Level::Crisis && judged.1 == Handling::Replace;
        if let Some(ours) = ours {
            let tail = if replace { "" } else { "\n\n" };
            emit(delta(&format!("{ours}{tail}"))).await;
        }
        let mut text = String::new();
        let mut failure = None;
        match upstream {
            Ok(mut pieces) => {
                while let Some(piece) = pieces.next().await {
                    match piece {
                        Ok(piece) => {
                            if !replace {
                                emit(delta(&piece)).await;
                            }
                            text.push_str(&piece);
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
            Err(e) => failure = Some(e),
        }
        let model = match failure {
            None if !text.trim().is_empty() => Ok(text),
            None => Err(shared::ai::AiError::new("empty reply")),
            Some(e) => Err(e),
        };
        let (content, provider) = match compose(&turn, &judged, model, state.companion.provider()) {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(conversation_id = %turn.conversation_id, error = %ErrorChain(&e), "AI companion unavailable (stream)");
                emit(error_event(
                    ApiError::code(ErrorCode::AiUnavailable),
                    turn.lang,
                ))
                .await;
                return;
            }
        };
        match save_reply(&state, &turn, &content, provider).await {
            Ok(assistant_message) => {
                let exchange = Exchange {
                    user_message: turn.user_message,
                    assistant_message,
                    safety: judged.0,
                };
                emit(done_event(&exchange)).await;
            }
            Err(e) => {
                let code = e.error_code();
                tracing::error!(?code, "could not save a streamed reply");
                emit(error_event(e, turn.lang)).await;
            }
        }
    });
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), rx))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
