-- Every message updates its conversation twice (the person's words, then the reply). With
-- last_message_at indexed none of those updates could be HOT: each one wrote new entries
-- into both indexes and left a dead version that later updates of the same row stepped
-- over. A person has tens or hundreds of conversations; listing them by activity sorts
-- those few rows, which costs less than the index cost every message. The free space left
-- on each page keeps the updated versions on the same page.
DROP INDEX conversations_user_activity_idx;
CREATE INDEX conversations_user_idx ON conversations (user_id);
ALTER TABLE conversations SET (fillfactor = 70);
