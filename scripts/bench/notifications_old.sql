-- 9,000,000 notifications older than 30 days (31 to ~135 days), for the purge to remove.
INSERT INTO notifications (id, user_id, kind, title, body, data, created_at)
SELECT gen_random_uuid(), u.ids[1 + i % 2000], 'like', '누군가 공감했어요', '',
       '{}', now() - interval '31 days' - i * interval '1 second'
FROM generate_series(1, 9000000) AS i,
     (SELECT array_agg(id) AS ids FROM users WHERE email LIKE 'seed%') AS u;
