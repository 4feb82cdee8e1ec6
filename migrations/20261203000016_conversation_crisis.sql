-- Crisis care: after a crisis in a conversation, its next replies keep the crisis lines for
-- 24 hours, even when the following messages show no signal (owned by the chat function).
ALTER TABLE conversations ADD COLUMN crisis_until TIMESTAMPTZ;
