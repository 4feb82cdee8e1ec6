-- Accounts: users, their sessions (one per login, holding the current refresh token id) and
-- single-use tokens (password reset, email verification), stored only as hashes.
--
-- Deleting an account deletes the users row. Personal data references users ON DELETE
-- CASCADE (sessions, tokens; later emotion logs, chats, challenges, notifications, files);
-- community content references it ON DELETE SET NULL so posts and comments stay, shown as
-- "탈퇴한 사용자". The email is then free to register again.

CREATE TABLE users (
    id                 UUID        PRIMARY KEY,
    email              TEXT        NOT NULL,
    password_hash      TEXT,
    nickname           TEXT        NOT NULL,
    bio                TEXT,
    profile_image_url  TEXT,
    role               TEXT        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    timezone           TEXT        NOT NULL DEFAULT 'Asia/Seoul',
    locale             TEXT        NOT NULL DEFAULT 'ko' CHECK (locale IN ('ko', 'en')),
    email_verified_at  TIMESTAMPTZ,
    status             TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    suspended_until    TIMESTAMPTZ,
    suspension_reason  TEXT,
    -- Access tokens issued (iat, unix seconds) before this are refused: password changes.
    tokens_valid_after BIGINT      NOT NULL DEFAULT 0,
    last_active_at     TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (char_length(nickname) BETWEEN 2 AND 20),
    CHECK (bio IS NULL OR char_length(bio) <= 200)
);

-- Unique index names are what the API maps to EMAIL_TAKEN / NICKNAME_TAKEN.
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_nickname_key ON users (lower(nickname));
CREATE INDEX users_created_at_idx ON users (created_at);

CREATE TABLE sessions (
    id            UUID        PRIMARY KEY,
    user_id       UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The id (jti) of the one valid refresh token, and the one it replaced: presenting the
    -- previous one within the grace period is a concurrent refresh, later it is reuse.
    refresh_jti   UUID        NOT NULL,
    previous_jti  UUID,
    rotated_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    revoked_reason TEXT
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE one_time_tokens (
    token_hash BYTEA       PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT        NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);
