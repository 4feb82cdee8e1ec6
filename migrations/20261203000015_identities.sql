-- Social login: the provider identities an account signs in with (Google's `sub`, Kakao's
-- numeric id), owned by shared::domain::accounts. An account may have no email (Kakao
-- without consent) and no password (a provider-only account).
CREATE TABLE user_identities (
    provider   TEXT        NOT NULL CHECK (provider IN ('google', 'kakao')),
    subject    TEXT        NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 255),
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The email the provider vouched for when the identity was linked (verified only).
    email      TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);

-- An account's providers (the user object's `providers`).
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

ALTER TABLE users ALTER COLUMN email DROP NOT NULL;

-- The one-time code a provider's callback hands the frontend (60 s, single use).
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('password_reset', 'email_verification', 'oauth_exchange'));

-- auth links identities; whoever shows a user shows their providers.
GRANT SELECT, INSERT ON user_identities TO mindpause_auth;
GRANT SELECT ON user_identities TO mindpause_users, mindpause_admin, mindpause_email_worker;
