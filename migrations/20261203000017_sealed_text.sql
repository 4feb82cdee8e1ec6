-- Privacy: what people write for themselves (journal notes, chat messages and the titles made
-- from them) is sealed by the functions before it is stored (AES-256-GCM, `shared::sealing`:
-- a version byte, the key id, a nonce, the ciphertext and its tag). Values from before are
-- kept as [0][UTF-8 text], which the functions read as they are, until `migrate rekey` seals
-- them. Bounds move from characters (checked by the functions) to bytes: 4 bytes a character
-- at most, plus 31 of sealing.
ALTER TABLE emotion_logs
    DROP CONSTRAINT emotion_logs_note_check,
    ALTER COLUMN note TYPE BYTEA USING '\x00'::bytea || convert_to(note, 'UTF8'),
    ADD CONSTRAINT emotion_logs_note_check CHECK (note IS NULL OR octet_length(note) <= 8031);

ALTER TABLE conversations
    DROP CONSTRAINT conversations_title_check,
    ALTER COLUMN title TYPE BYTEA USING '\x00'::bytea || convert_to(title, 'UTF8'),
    ADD CONSTRAINT conversations_title_check CHECK (octet_length(title) BETWEEN 2 AND 431);

ALTER TABLE chat_messages
    ALTER COLUMN content TYPE BYTEA USING '\x00'::bytea || convert_to(content, 'UTF8');
