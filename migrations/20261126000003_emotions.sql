-- The mood journal. One index serves every query of a user's logs: the keyset-paginated
-- list (newest first) and the statistics, which read only indexed columns (index-only scans
-- once the visibility map is set; autovacuum keeps it so).
CREATE TABLE emotion_logs (
    id          UUID        PRIMARY KEY,
    user_id     UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emotion     TEXT        NOT NULL CHECK (emotion IN ('happy', 'calm', 'grateful', 'excited', 'sad',
                                                        'anxious', 'angry', 'stressed', 'tired', 'lonely')),
    intensity   SMALLINT    NOT NULL CHECK (intensity BETWEEN 1 AND 5),
    note        TEXT        CHECK (note IS NULL OR char_length(note) <= 2000),
    tags        TEXT[]      NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 10),
    recorded_at TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX emotion_logs_user_recorded_idx
    ON emotion_logs (user_id, recorded_at DESC, id DESC)
    INCLUDE (emotion, intensity, tags);
