-- 1,000,000 emotion logs: 1,000 users with 990 each over a year, and the bench user
-- (:'bench_user', already registered) with 10,000 over the last 365 days, each with a note.
-- Notes go in as written before encryption ([0][UTF-8]); bench.sh then seals them with
-- `migrate rekey`, as a deployment would.
INSERT INTO users (id, email, nickname)
SELECT gen_random_uuid(), 'seed' || i || '@example.com', 'seed' || i
FROM generate_series(1, 1000) AS i;

INSERT INTO emotion_logs (id, user_id, emotion, intensity, note, tags, recorded_at)
SELECT gen_random_uuid(), u.id,
       (ARRAY['happy','calm','grateful','excited','sad','anxious','angry','stressed','tired','lonely'])[1 + (random() * 9)::int],
       1 + (random() * 4)::int,
       CASE WHEN random() < 0.3 THEN '\x00'::bytea || convert_to('오늘은 이런 하루였다', 'UTF8') END,
       CASE (random() * 3)::int WHEN 0 THEN '{}'::text[] WHEN 1 THEN ARRAY['산책'] WHEN 2 THEN ARRAY['일', '야근'] ELSE ARRAY['친구', '저녁', '대화'] END,
       now() - random() * interval '365 days'
FROM users u CROSS JOIN generate_series(1, 990)
WHERE u.email LIKE 'seed%';

INSERT INTO emotion_logs (id, user_id, emotion, intensity, note, tags, recorded_at)
SELECT gen_random_uuid(), :'bench_user'::uuid,
       (ARRAY['happy','calm','grateful','excited','sad','anxious','angry','stressed','tired','lonely'])[1 + (random() * 9)::int],
       1 + (random() * 4)::int,
       '\x00'::bytea || convert_to('퇴근길에 비가 와서 우산 없이 걸었다. 생각보다 기분이 나쁘지 않았고, 집에 와서 따뜻한 차를 마셨다. ' || i, 'UTF8'),
       CASE (random() * 3)::int WHEN 0 THEN '{}'::text[] WHEN 1 THEN ARRAY['산책'] WHEN 2 THEN ARRAY['일', '야근'] ELSE ARRAY['친구', '저녁', '대화'] END,
       now() - (i / 10000.0) * interval '365 days'
FROM generate_series(1, 10000) AS i;

-- The daily rollup the API maintains on every write (rows inserted here bypass it); the same
-- SQL as shared::domain::journal::rebuild, for every user at once.
WITH per AS (
    SELECT l.user_id, (l.recorded_at AT TIME ZONE u.timezone)::date AS day,
           array_position('{happy,calm,grateful,excited,sad,anxious,angry,stressed,tired,lonely}'::text[], l.emotion) AS slot,
           count(*)::int AS n, sum(l.intensity)::int AS s
    FROM emotion_logs l JOIN users u ON u.id = l.user_id
    GROUP BY 1, 2, 3
)
INSERT INTO emotion_days (user_id, day, n, counts, intensity_sums)
SELECT d.user_id, d.day, sum(COALESCE(p.n, 0)),
       array_agg(COALESCE(p.n, 0) ORDER BY k.slot), array_agg(COALESCE(p.s, 0) ORDER BY k.slot)
FROM (SELECT DISTINCT user_id, day FROM per) d
CROSS JOIN generate_series(1, 10) AS k(slot)
LEFT JOIN per p ON p.user_id = d.user_id AND p.day = d.day AND p.slot = k.slot
GROUP BY d.user_id, d.day
ON CONFLICT (user_id, day) DO UPDATE
SET n = EXCLUDED.n, counts = EXCLUDED.counts, intensity_sums = EXCLUDED.intensity_sums;
INSERT INTO emotion_daily_tags (user_id, day, tag, n)
SELECT l.user_id, (l.recorded_at AT TIME ZONE u.timezone)::date, t.tag, count(*)
FROM emotion_logs l JOIN users u ON u.id = l.user_id, unnest(l.tags) AS t(tag)
GROUP BY 1, 2, 3
ON CONFLICT (user_id, day, tag) DO UPDATE SET n = EXCLUDED.n;
-- VACUUM (bench.sh) then sets the visibility map, so that reads are index-only.
