-- A million people over two years (1% suspended, a fifth active in the last week) and ten
-- million emotion logs over the last year. Ids are UUIDv7-ordered by their creation time,
-- as the API makes them (the statistics count by id ranges).
CREATE FUNCTION pg_temp.uuid7(ts timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(overlay(uuid_send(gen_random_uuid())
                          placing substring(int8send(floor(extract(epoch FROM ts) * 1000)::bigint) FROM 3)
                          FROM 1 FOR 6), 'hex')::uuid
$$;

INSERT INTO users (id, email, nickname, created_at, last_active_at, status)
SELECT pg_temp.uuid7(t.created_at), 'person' || i || '@example.com', 'person' || i, t.created_at,
       CASE WHEN random() < 0.2 THEN now() - random() * interval '7 days'
            ELSE t.created_at + random() * (now() - t.created_at) END,
       CASE WHEN random() < 0.01 THEN 'suspended' ELSE 'active' END
FROM generate_series(1, 1000000) AS i,
     -- (`i` in the lateral makes it per row: random() once per person)
     LATERAL (SELECT now() - random() * interval '730 days' + i * interval '0 s' AS created_at) AS t;

CREATE TEMP TABLE people AS
SELECT row_number() OVER () - 1 AS n, id FROM users WHERE email LIKE 'person%';
CREATE UNIQUE INDEX ON people (n);

INSERT INTO emotion_logs (id, user_id, emotion, intensity, recorded_at, created_at)
SELECT pg_temp.uuid7(t.at), p.id, 'calm', 3, t.at, t.at
FROM generate_series(1, 10000000) AS i
JOIN people p ON p.n = i % 1000000,
     LATERAL (SELECT now() - random() * interval '365 days' + i * interval '0 s' AS at) AS t;
