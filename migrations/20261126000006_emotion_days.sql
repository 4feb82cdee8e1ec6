-- The daily rollup becomes one row per user and local day (a year is at most 366 rows, not
-- ten times that): counts and intensity sums per emotion in arrays indexed like
-- shared::domain::journal::EMOTIONS (the API's order, append-only). Reading a year of
-- statistics no longer reads, sorts and groups ~3,600 rows. Maintained and rebuilt as before
-- (shared::domain::journal); rows may reach n = 0 after deletes, readers skip them.
CREATE TABLE emotion_days (
    user_id        UUID      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day            DATE      NOT NULL,
    n              INTEGER   NOT NULL,
    counts         INTEGER[] NOT NULL CHECK (cardinality(counts) = 10),
    intensity_sums INTEGER[] NOT NULL CHECK (cardinality(intensity_sums) = 10),
    -- Statistics read only the index (index-only scans).
    PRIMARY KEY (user_id, day) INCLUDE (n, counts, intensity_sums)
);

INSERT INTO emotion_days (user_id, day, n, counts, intensity_sums)
SELECT d.user_id, d.day, sum(COALESCE(r.n, 0)),
       array_agg(COALESCE(r.n, 0) ORDER BY e.i), array_agg(COALESCE(r.intensity_sum, 0) ORDER BY e.i)
FROM (SELECT DISTINCT user_id, day FROM emotion_daily) d
CROSS JOIN unnest('{happy,calm,grateful,excited,sad,anxious,angry,stressed,tired,lonely}'::text[])
           WITH ORDINALITY AS e(emotion, i)
LEFT JOIN emotion_daily r ON r.user_id = d.user_id AND r.day = d.day AND r.emotion = e.emotion
GROUP BY d.user_id, d.day;

DROP TABLE emotion_daily;
