-- Challenges: a person's own goals with a daily check-in, owned by the challenges function.
-- Days are the person's local dates (users.timezone when they checked in); a time-zone change
-- later does not move them.
CREATE TABLE challenges (
    id                 UUID        PRIMARY KEY,
    user_id            UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title              TEXT        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 50),
    description        TEXT        CHECK (char_length(description) BETWEEN 1 AND 500),
    target_days        INTEGER     NOT NULL CHECK (target_days BETWEEN 1 AND 365),
    start_date         DATE        NOT NULL,
    status             TEXT        NOT NULL DEFAULT 'active'
                                   CHECK (status IN ('active', 'completed', 'abandoned')),
    progress_days      INTEGER     NOT NULL DEFAULT 0 CHECK (progress_days BETWEEN 0 AND target_days),
    last_check_in_date DATE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A person's challenges, newest first, all or of one status (keyset pages on (created_at, id)).
CREATE INDEX challenges_user_idx ON challenges (user_id, created_at DESC, id DESC);
CREATE INDEX challenges_user_status_idx ON challenges (user_id, status, created_at DESC, id DESC);

-- One row per local day checked in: at most one a day, and the history a streak view or a
-- recount needs.
CREATE TABLE challenge_check_ins (
    challenge_id UUID        NOT NULL REFERENCES challenges (id) ON DELETE CASCADE,
    day          DATE        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (challenge_id, day)
);

SELECT create_function_role('mindpause_challenges');

-- challenges: a person's own challenges and check-ins, their time zone, and the notification
-- of a completed challenge (RETURNING id needs SELECT on it).
GRANT SELECT ON users, sessions TO mindpause_challenges;
GRANT SELECT, INSERT, UPDATE, DELETE ON challenges, challenge_check_ins TO mindpause_challenges;
GRANT INSERT, SELECT (id) ON notifications TO mindpause_challenges;
