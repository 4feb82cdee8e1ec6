-- Retention (docs/privacy.md): the purge worker deletes expired sessions and single-use
-- tokens, and community writing 30 days after its removal, oldest first in short batches,
-- each batch an index range scan.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);
CREATE INDEX posts_removed_idx ON posts (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX comments_removed_idx ON comments (deleted_at) WHERE deleted_at IS NOT NULL;

GRANT SELECT, DELETE ON sessions, one_time_tokens, posts, comments TO mindpause_notification_purge;
