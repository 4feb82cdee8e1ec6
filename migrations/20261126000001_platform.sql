-- Platform tables: what workers have already done, so a redelivered Pub/Sub message does
-- nothing twice. Rows older than Pub/Sub's 7-day retention can be purged.
CREATE TABLE processed_messages (
    worker       TEXT        NOT NULL,
    message_id   TEXT        NOT NULL,
    outcome      TEXT        NOT NULL CHECK (outcome IN ('done', 'discarded')),
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (worker, message_id)
);

CREATE INDEX processed_messages_processed_at_idx ON processed_messages (processed_at);
