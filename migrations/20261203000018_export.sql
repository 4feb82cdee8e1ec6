-- The export (GET /users/me/export): the users function reads everything a person has, in
-- one read-only snapshot; it writes none of it.
GRANT SELECT ON conversations, chat_messages, safety_events, challenges, challenge_check_ins,
    notifications, posts, comments, post_likes, files TO mindpause_users;
