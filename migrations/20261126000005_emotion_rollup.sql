-- Per-user daily rollup of the mood journal in the user's time zone: what statistics read
-- instead of every log (a year is at most 366 days × 10 emotions). Maintained in the same
-- transaction as every log write, and rebuilt in the transaction that changes the user's
-- time zone (shared::domain::journal). Rows may reach n = 0 after deletes; readers skip them.
CREATE TABLE emotion_daily (
    user_id       UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day           DATE    NOT NULL,
    emotion       TEXT    NOT NULL,
    n             INTEGER NOT NULL,
    intensity_sum INTEGER NOT NULL,
    -- Statistics read only the index (index-only scans): a user's days are spread over the
    -- heap, since each is written on its own day.
    PRIMARY KEY (user_id, day, emotion) INCLUDE (n, intensity_sum)
);

CREATE TABLE emotion_daily_tags (
    user_id UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day     DATE    NOT NULL,
    tag     TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, tag) INCLUDE (n)
);

INSERT INTO emotion_daily (user_id, day, emotion, n, intensity_sum)
SELECT l.user_id, (l.recorded_at AT TIME ZONE u.timezone)::date, l.emotion, count(*), sum(l.intensity)
FROM emotion_logs l JOIN users u ON u.id = l.user_id
GROUP BY 1, 2, 3;

INSERT INTO emotion_daily_tags (user_id, day, tag, n)
SELECT l.user_id, (l.recorded_at AT TIME ZONE u.timezone)::date, t.tag, count(*)
FROM emotion_logs l JOIN users u ON u.id = l.user_id, unnest(l.tags) AS t(tag)
GROUP BY 1, 2, 3;
