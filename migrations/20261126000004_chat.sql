-- AI chat: conversations and their messages. Crisis events are recorded without the text.
CREATE TABLE conversations (
    id              UUID        PRIMARY KEY,
    user_id         UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title           TEXT        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    -- Set from the first message when the conversation was created without a title.
    title_from_message BOOLEAN  NOT NULL DEFAULT false,
    message_count   INTEGER     NOT NULL DEFAULT 0,
    last_message_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX conversations_user_activity_idx ON conversations (user_id, last_message_at DESC, id DESC);

CREATE TABLE chat_messages (
    id              UUID        PRIMARY KEY,
    conversation_id UUID        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            TEXT        NOT NULL CHECK (role IN ('user', 'assistant')),
    content         TEXT        NOT NULL,
    provider        TEXT        CHECK (provider IN ('openai', 'offline')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX chat_messages_conversation_idx ON chat_messages (conversation_id, created_at DESC, id DESC);

CREATE TABLE safety_events (
    id              UUID        PRIMARY KEY,
    user_id         UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id UUID        REFERENCES conversations (id) ON DELETE SET NULL,
    message_id      UUID,
    -- What flagged it: the lexicon, the moderation endpoint, or both.
    sources         TEXT[]      NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX safety_events_user_idx ON safety_events (user_id, created_at);
