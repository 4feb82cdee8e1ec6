-- 1,000,000 challenges: 10,000 people with 100 each (a third active, completed, abandoned),
-- minus 600 for the bench user (:'bench_user', already registered), whose 600 are active and
-- started ten days ago, so that each can take one check-in today.
INSERT INTO users (id, email, nickname)
SELECT gen_random_uuid(), 'goal' || i || '@example.com', 'goal' || i
FROM generate_series(1, 10000) AS i;

INSERT INTO challenges (id, user_id, title, description, target_days, start_date, status,
                        progress_days, last_check_in_date, created_at)
SELECT gen_random_uuid(), u.id, '목표 ' || j, '매일 조금씩',
       30, current_date - 40, (ARRAY['active', 'completed', 'abandoned'])[1 + j % 3],
       CASE WHEN j % 3 = 1 THEN 30 ELSE 5 END, current_date - 1,
       now() - (100 - j) * interval '1 day'
FROM users u CROSS JOIN generate_series(1, 100) AS j
WHERE u.email LIKE 'goal%'
LIMIT 999400;

INSERT INTO challenges (id, user_id, title, target_days, start_date, created_at)
SELECT gen_random_uuid(), :'bench_user'::uuid, '오늘의 목표 ' || j, 30, current_date - 10,
       now() - (600 - j) * interval '1 minute'
FROM generate_series(1, 600) AS j;
