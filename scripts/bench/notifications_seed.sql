-- A table of 1,000,000 notifications from the last 29 days: 5,000 for :bench_user (a third
-- of them read), 995,000 for 2,000 other people.
INSERT INTO users (id, email, nickname)
SELECT gen_random_uuid(), 'seed' || i || '@example.com', 'seed' || i
FROM generate_series(1, 2000) AS i;

INSERT INTO notifications (id, user_id, kind, title, body, data, read_at, created_at)
SELECT gen_random_uuid(), :'bench_user', 'like', '누군가 공감했어요', '오늘 남긴 글에 공감이 달렸어요',
       jsonb_build_object('post_id', gen_random_uuid()),
       CASE WHEN i % 3 = 0 THEN now() END, now() - i * interval '8 minutes'
FROM generate_series(1, 5000) AS i;

INSERT INTO notifications (id, user_id, kind, title, body, data, created_at)
SELECT gen_random_uuid(), u.ids[1 + i % 2000], 'comment', '새 댓글', '당신의 글에 댓글이 달렸어요',
       jsonb_build_object('post_id', gen_random_uuid()), now() - (i % 2500000) * interval '1 second'
FROM generate_series(1, 995000) AS i,
     (SELECT array_agg(id) AS ids FROM users WHERE email LIKE 'seed%') AS u;
