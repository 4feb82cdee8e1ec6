//! The `image-resize` event: what the files function (and account deletion) asks the image
//! worker to do, tagged by `kind`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageEvent {
    /// A profile picture to resize (`{file_id, bucket, object, kind: "profile"}`).
    Profile {
        file_id: Uuid,
        bucket: String,
        object: String,
    },
    /// Objects queued as garbage are waiting to be deleted (`{kind: "sweep"}`).
    Sweep,
}
