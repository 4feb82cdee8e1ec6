-- Notifications: what happened that concerns someone (a comment, a like, a challenge, a
-- word from the team), in their language, kept 30 days. Owned by
-- shared::domain::notifications; community, challenges and admin write them through its
-- `notify`, inside their own transactions.
CREATE TABLE notifications (
    id         UUID        PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT        NOT NULL CHECK (kind IN ('comment', 'like', 'challenge', 'system')),
    title      TEXT        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    body       TEXT        NOT NULL CHECK (char_length(body) <= 2000),
    data       JSONB       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    read_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A person's notifications, newest first (keyset pages on (created_at, id)).
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
-- The unread ones only: the unread filter and the badge count read just these entries.
CREATE INDEX notifications_unread_idx ON notifications (user_id, created_at DESC, id DESC)
    WHERE read_at IS NULL;
-- The purge takes the oldest first.
CREATE INDEX notifications_created_idx ON notifications (created_at);

SELECT create_function_role('mindpause_notifications');
SELECT create_function_role('mindpause_notification_purge');

-- notifications: a person reads, marks and deletes their own.
GRANT SELECT ON users, sessions TO mindpause_notifications;
GRANT SELECT, UPDATE, DELETE ON notifications TO mindpause_notifications;

-- notification-purge: deletes old notifications and old idempotency records.
GRANT SELECT, DELETE ON notifications TO mindpause_notification_purge;
GRANT SELECT, INSERT, UPDATE, DELETE ON processed_messages TO mindpause_notification_purge;
