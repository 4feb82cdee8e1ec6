-- Admin: searching people, suspensions, moderation, and the audit trail of every admin
-- action. Owned by the admin function (the audit table); users and community content are
-- written through their owners (shared::domain::accounts, shared::domain::community).

-- Partial, case-insensitive search of emails and nicknames (three characters or more).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_email_trgm_idx ON users USING gin (lower(email) gin_trgm_ops);
CREATE INDEX users_nickname_trgm_idx ON users USING gin (lower(nickname) gin_trgm_ops);
-- The list of people newest first (keyset pages), and the suspended ones.
CREATE INDEX users_listing_idx ON users (created_at DESC, id DESC);
CREATE INDEX users_suspended_idx ON users (created_at DESC, id DESC) WHERE status = 'suspended';
-- Statistics: people active in the last days.
CREATE INDEX users_last_active_idx ON users (last_active_at);

-- Who did what to whom, and why: written in the transaction of the action, never changed.
-- No foreign keys: the record outlives the accounts and content it names.
CREATE TABLE admin_audit (
    id          UUID        PRIMARY KEY,
    admin_id    UUID        NOT NULL,
    action      TEXT        NOT NULL
                            CHECK (action IN ('suspend_user', 'unsuspend_user', 'delete_post', 'delete_comment')),
    target_type TEXT        NOT NULL CHECK (target_type IN ('user', 'post', 'comment')),
    target_id   UUID        NOT NULL,
    reason      TEXT        CHECK (char_length(reason) <= 500),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX admin_audit_created_idx ON admin_audit (created_at DESC, id DESC);
CREATE INDEX admin_audit_admin_idx ON admin_audit (admin_id, created_at DESC, id DESC);
CREATE INDEX admin_audit_target_idx ON admin_audit (target_id, created_at DESC, id DESC);

-- Append-only for everyone, the schema's owner included (the admin role is granted no
-- UPDATE or DELETE besides).
CREATE FUNCTION admin_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit is append-only';
END
$$;
CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION admin_audit_is_append_only();
CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON admin_audit
    FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_is_append_only();

SELECT create_function_role('mindpause_admin');

-- admin: reads people and ends their sessions (suspension, through accounts), removes
-- community content (through community), tells authors, writes and reads the audit trail,
-- and counts what was written lately (ids only: UUIDv7s are time-ordered; no content).
GRANT SELECT, UPDATE ON users, sessions TO mindpause_admin;
GRANT SELECT, UPDATE ON posts, comments TO mindpause_admin;
GRANT INSERT, SELECT (id) ON notifications TO mindpause_admin;
GRANT SELECT, INSERT ON admin_audit TO mindpause_admin;
GRANT SELECT (id) ON emotion_logs, chat_messages TO mindpause_admin;
