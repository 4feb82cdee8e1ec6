//! The image worker, on `image-resize`: makes a profile picture's WebP copies and shows it
//! on the profile (the picture it replaces goes), and deletes the storage objects of removed
//! files. Every effect is idempotent: a redelivered picture that is no longer `processing`
//! is done, copies overwrite themselves, a deleted object stays deleted.

mod resize;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use shared::AppState;
use shared::config::ConfigError;
use shared::domain::{accounts, files};
use shared::error::ErrorChain;
use shared::events::image::ImageEvent;
use shared::storage::{StorageError, Store};
use shared::worker::{self, PushMessage, WorkError, Worker};
use uuid::Uuid;

pub use resize::copies;

/// Objects one statement takes from the garbage queue.
const SWEEP_BATCH: i64 = 100;
/// How long one message may spend deleting garbage; what is left waits for the next.
const SWEEP_BUDGET: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct Images;

impl Worker for Images {
    type Payload = ImageEvent;
    const NAME: &'static str = "image-worker";

    async fn handle(
        &self,
        state: &AppState,
        _message: &PushMessage,
        event: ImageEvent,
    ) -> Result<(), WorkError> {
        if let ImageEvent::Profile { file_id, .. } = event {
            finish_picture(state, file_id).await?;
        }
        // Every message takes some garbage out, so a lost sweep is made up by the next one.
        sweep(state).await
    }
}

pub fn routes(state: &AppState) -> Result<Router<AppState>, ConfigError> {
    Ok(worker::route(
        &state.settings.pubsub.topic_image_resize,
        Images,
    ))
}

/// A storage failure: worth a redelivery when transient, else a failure no retry changes.
fn storage(e: StorageError) -> WorkError {
    if e.transient {
        WorkError::retry(e)
    } else {
        WorkError::permanent(e)
    }
}

/// Makes the copies of picture `id`, then (in one transaction) marks it ready and shows it
/// on the profile unless a newer picture is shown already; the one it replaces, or itself
/// when overtaken, is removed (its objects queued as garbage).
async fn finish_picture(state: &AppState, id: Uuid) -> Result<(), WorkError> {
    let store = state.storage.store().await.map_err(storage)?;
    let Some(row) = files::find(&state.db, id).await? else {
        // Deleted since. A delivery that failed after making copies left them unlisted in
        // the row, so its deletion queued none of them.
        return remove_copies(store, id).await;
    };
    if row.status != files::Status::Processing {
        return Ok(()); // a redelivery of a picture already finished (or failed)
    }
    let Some(data) = store.get(&row.object).await.map_err(storage)? else {
        tracing::error!(file_id = %id, "a picture's upload is missing from storage");
        files::fail(&state.db, id).await?;
        return Ok(());
    };
    let made = tokio::task::spawn_blocking(move || copies(&data))
        .await
        .map_err(WorkError::retry)?;
    let made = match made {
        Ok(made) => made,
        Err(e) => {
            // The error says what the decoder met, never anything of the picture's content.
            tracing::warn!(file_id = %id, error = %e, "a picture could not be decoded; marked failed");
            files::fail(&state.db, id).await?;
            return Ok(());
        }
    };
    let mut variants = BTreeMap::new();
    for (size, webp) in made {
        let object = files::variant_name(id, size);
        store
            .put(&object, webp.into(), "image/webp")
            .await
            .map_err(storage)?;
        variants.insert(size.to_string(), object);
    }

    let mut tx = state.db.begin().await?;
    let Some(row) = files::lock(&mut tx, id).await? else {
        // Deleted while the copies were made: they were never queued, so they go now (or,
        // should that fail, at the redelivery).
        drop(tx);
        return remove_copies(store, id).await;
    };
    if row.status != files::Status::Processing {
        return Ok(());
    }
    files::finish(&mut tx, id, &variants).await?;
    match accounts::show_picture(&mut tx, row.user_id, id).await? {
        Some(Some(previous)) => files::discard(&mut tx, previous).await?,
        Some(None) => {}
        None => files::discard(&mut tx, id).await?,
    }
    tx.commit().await?;
    tracing::info!(file_id = %id, "profile picture ready");
    Ok(())
}

/// Deletes every copy file `id` may have (none is fine).
async fn remove_copies(store: &Store, id: Uuid) -> Result<(), WorkError> {
    for size in files::VARIANTS {
        store
            .delete(&files::variant_name(id, size))
            .await
            .map_err(storage)?;
    }
    Ok(())
}

/// Deletes queued objects from storage, oldest first, for at most [`SWEEP_BUDGET`].
async fn sweep(state: &AppState) -> Result<(), WorkError> {
    let started = Instant::now();
    let store = state.storage.store().await.map_err(storage)?;
    while started.elapsed() < SWEEP_BUDGET {
        let objects = files::garbage(&state.db, SWEEP_BATCH).await?;
        if objects.is_empty() {
            break;
        }
        let mut deleted = Vec::with_capacity(objects.len());
        let mut failure = None;
        for object in objects {
            match store.delete(&object).await {
                Ok(_) => deleted.push(object),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        files::collected(&state.db, &deleted).await?;
        if let Some(e) = failure {
            tracing::warn!(error = %ErrorChain(&e), "storage sweep stopped");
            return Err(storage(e));
        }
    }
    Ok(())
}
