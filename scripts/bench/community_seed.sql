-- A year of community: 1,000 people, 100,000 posts (a tenth anonymous, the four categories),
-- about 2,000,000 likes (per post exponential, mean 20: a few popular posts, many quiet ones)
-- and 1,000,000 comments; the counts as the API keeps them.
INSERT INTO users (id, email, nickname)
SELECT gen_random_uuid(), 'member' || i || '@example.com', 'member' || i
FROM generate_series(1, 1000) AS i;

CREATE TEMP TABLE members AS
SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM users WHERE email LIKE 'member%';
CREATE UNIQUE INDEX ON members (n);

INSERT INTO posts (id, author_id, title, content, category, is_anonymous, created_at)
SELECT gen_random_uuid(), m.id, '오늘의 이야기 ' || i,
       '하루를 돌아보며 적어 보는 글입니다. 고마웠던 일, 힘들었던 일, 내일 해 보고 싶은 일.',
       (ARRAY['daily', 'worry', 'gratitude', 'free'])[1 + i % 4], random() < 0.1,
       now() - interval '2 hours' - random() * interval '365 days'
FROM generate_series(1, 100000) AS i
JOIN members m ON m.n = i % 1000;

-- Post k's likers are consecutive members from a random start: distinct, cheap.
INSERT INTO post_likes (post_id, user_id, liked_at)
SELECT p.id, m.id, p.created_at + random() * interval '1 hour'
FROM (SELECT id, created_at, least(999, floor(-20 * ln(1 - random())))::int AS likes,
             (random() * 999)::int AS first
      FROM posts) p
CROSS JOIN LATERAL generate_series(1, p.likes) AS j
JOIN members m ON m.n = (p.first + j) % 1000;

INSERT INTO comments (id, post_id, author_id, content, is_anonymous, created_at)
SELECT gen_random_uuid(), p.id, m.id, '저도 그랬어요. 힘내요!', random() < 0.1,
       p.created_at + random() * interval '1 hour'
FROM (SELECT id, created_at, row_number() OVER () AS k FROM posts) p
CROSS JOIN generate_series(1, 10) AS j
JOIN members m ON m.n = (p.k * 7 + j) % 1000;

UPDATE posts p SET like_count = l.n
FROM (SELECT post_id, count(*)::int AS n FROM post_likes GROUP BY post_id) l
WHERE l.post_id = p.id;
UPDATE posts p SET comment_count = 10;
