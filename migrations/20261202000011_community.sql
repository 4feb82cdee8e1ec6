-- Community: posts, their comments and likes, owned by the community function. Content is
-- soft-deleted (deleted_at) and outlives its author's account: author_id becomes NULL and the
-- API shows "탈퇴한 사용자"; a departed person's likes stay counted but are no one's.

CREATE TABLE posts (
    id            UUID        PRIMARY KEY,
    author_id     UUID        REFERENCES users (id) ON DELETE SET NULL,
    title         TEXT        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    content       TEXT        NOT NULL CHECK (char_length(content) BETWEEN 1 AND 5000),
    category      TEXT        NOT NULL CHECK (category IN ('daily', 'worry', 'gratitude', 'free')),
    is_anonymous  BOOLEAN     NOT NULL DEFAULT false,
    like_count    INTEGER     NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    comment_count INTEGER     NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at    TIMESTAMPTZ
);

-- The feed: newest first, and most liked first (ties by recency), each with and without a
-- category; keyset pages read these in order.
CREATE INDEX posts_latest_idx ON posts (created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX posts_category_latest_idx ON posts (category, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX posts_popular_idx ON posts (like_count DESC, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX posts_category_popular_idx ON posts (category, like_count DESC, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
-- An account's deletion finds its posts (and a person's export will).
CREATE INDEX posts_author_idx ON posts (author_id);

CREATE TABLE comments (
    id           UUID        PRIMARY KEY,
    post_id      UUID        NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id    UUID        REFERENCES users (id) ON DELETE SET NULL,
    content      TEXT        NOT NULL CHECK (char_length(content) BETWEEN 1 AND 1000),
    is_anonymous BOOLEAN     NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at   TIMESTAMPTZ
);

-- A post's comments, oldest first.
CREATE INDEX comments_post_idx ON comments (post_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX comments_author_idx ON comments (author_id);

-- One row per time someone liked a post: unliking sets unliked_at, liking again adds a row.
-- The history lets the popular feed rank by the counts as they were when its first page was
-- read (changed_at: the last change of the row) and notifies a post's author once per liker.
CREATE TABLE post_likes (
    post_id    UUID        NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    UUID        REFERENCES users (id) ON DELETE SET NULL,
    liked_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    unliked_at TIMESTAMPTZ CHECK (unliked_at >= liked_at),
    changed_at TIMESTAMPTZ NOT NULL GENERATED ALWAYS AS (COALESCE(unliked_at, liked_at)) STORED
);

-- At most one standing like per person and post (liked_by_me reads it).
CREATE UNIQUE INDEX post_likes_standing_key ON post_likes (post_id, user_id)
    WHERE unliked_at IS NULL;
-- Whether someone ever liked a post; an account's deletion finds its likes.
CREATE INDEX post_likes_user_idx ON post_likes (user_id, post_id);
-- The changes since a popular feed's snapshot.
CREATE INDEX post_likes_changed_idx ON post_likes (changed_at);

SELECT create_function_role('mindpause_community');

-- community: posts, comments and likes (soft deletes only), the authors' names, and the
-- notifications its comments and likes cause (RETURNING id needs SELECT on it).
GRANT SELECT ON users, sessions TO mindpause_community;
GRANT SELECT, INSERT, UPDATE ON posts, comments, post_likes TO mindpause_community;
GRANT INSERT, SELECT (id) ON notifications TO mindpause_community;
