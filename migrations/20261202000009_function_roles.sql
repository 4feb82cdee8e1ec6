-- One database role per function, holding exactly what its code touches (least privilege).
-- The migrate job owns the schema; in production it also lets these roles log in, with the
-- passwords Terraform made (functions/migrate). Every later migration that creates a table
-- grants it here-style to the functions that use it.
--
-- A new function's migration creates its role with create_function_role('mindpause_<name>').
-- Roles are cluster-wide: concurrent migrations of several databases (the tests) may race
-- to create them, so creating one that exists is not an error.
CREATE FUNCTION create_function_role(role TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE ROLE %I NOLOGIN', role);
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
REVOKE ALL ON FUNCTION create_function_role(TEXT) FROM PUBLIC;

SELECT create_function_role(role)
FROM unnest(ARRAY['mindpause_auth', 'mindpause_users', 'mindpause_emotions', 'mindpause_chat',
                  'mindpause_email_worker']) AS role;

-- Every service checks session gates and reads the signed-in user.
GRANT SELECT ON users, sessions
    TO mindpause_auth, mindpause_users, mindpause_emotions, mindpause_chat;

-- auth: registration, sign-in, refresh, logout, verification and password reset.
GRANT INSERT, UPDATE ON users, sessions TO mindpause_auth;
GRANT SELECT, INSERT, UPDATE, DELETE ON one_time_tokens TO mindpause_auth;

-- users: the profile, the password (revoking other sessions), deleting the account (its rows
-- elsewhere go by ON DELETE CASCADE, which PostgreSQL runs as the tables' owner).
GRANT UPDATE, DELETE ON users TO mindpause_users;
GRANT UPDATE ON sessions TO mindpause_users;
-- A new time zone moves the journal's days: the rollup is rebuilt from the logs.
GRANT SELECT ON emotion_logs TO mindpause_users;
GRANT SELECT, INSERT, UPDATE, DELETE ON emotion_days, emotion_daily_tags TO mindpause_users;

-- emotions: the journal and its daily rollup.
GRANT SELECT, INSERT, UPDATE, DELETE ON emotion_logs, emotion_days, emotion_daily_tags
    TO mindpause_emotions;
-- A write to the rollup locks the user's row FOR SHARE (against a concurrent time zone
-- change), and PostgreSQL lets only a role that may update some column lock a row:
-- updated_at is the one that changes nothing anyone relies on.
GRANT UPDATE (updated_at) ON users TO mindpause_emotions;

-- chat: conversations, their messages, and the record of crisis signals (write-only).
GRANT SELECT, INSERT, UPDATE, DELETE ON conversations, chat_messages TO mindpause_chat;
GRANT INSERT ON safety_events TO mindpause_chat;

-- email-worker: its idempotency records; a reset request looks the address up and issues
-- the token.
GRANT SELECT, INSERT, UPDATE, DELETE ON processed_messages TO mindpause_email_worker;
GRANT SELECT ON users TO mindpause_email_worker;
GRANT SELECT, INSERT, DELETE ON one_time_tokens TO mindpause_email_worker;
