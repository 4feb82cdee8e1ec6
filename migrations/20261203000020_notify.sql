-- notify(): the one insert into notifications (shared::domain::notifications), as a function
-- so that a write can tell someone inside its own statement (docs/decisions.md, "Writes at
-- the database's pace"): a like, its count and the author's notification in one round trip.
-- The text is chosen in the recipient's language; NULL when the recipient no longer exists.
-- SECURITY INVOKER (the default): callers still need their INSERT grant on notifications.
CREATE FUNCTION notify(id UUID, recipient UUID, kind TEXT, title_ko TEXT, title_en TEXT,
                       body_ko TEXT, body_en TEXT, data JSONB)
RETURNS UUID LANGUAGE sql VOLATILE AS $$
    INSERT INTO notifications (id, user_id, kind, title, body, data)
    SELECT $1, u.id, $3,
           CASE WHEN u.locale = 'en' THEN $5 ELSE $4 END,
           CASE WHEN u.locale = 'en' THEN $7 ELSE $6 END,
           $8
    FROM users u WHERE u.id = $2
    RETURNING notifications.id
$$;

REVOKE EXECUTE ON FUNCTION notify(UUID, UUID, TEXT, TEXT, TEXT, TEXT, TEXT, JSONB) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notify(UUID, UUID, TEXT, TEXT, TEXT, TEXT, TEXT, JSONB)
    TO mindpause_community, mindpause_challenges, mindpause_admin;
