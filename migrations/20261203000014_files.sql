-- Files: uploads and the storage objects that hold them, owned by shared::domain::files (the
-- files function records an upload, the image worker finishes a profile picture). Object
-- names are ours (files/<id>/...); the client's file name is kept only as sanitised text.
CREATE TABLE files (
    id            UUID        PRIMARY KEY,
    user_id       UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT        NOT NULL CHECK (kind IN ('profile', 'attachment')),
    content_type  TEXT        NOT NULL,
    size          BIGINT      NOT NULL CHECK (size > 0),
    -- The uploaded bytes, metadata removed.
    object        TEXT        NOT NULL,
    -- A profile picture's resized copies: {"64": "files/<id>/64.webp", ...}.
    variants      JSONB       NOT NULL DEFAULT '{}',
    status        TEXT        NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
    original_name TEXT        CHECK (char_length(original_name) <= 255),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A person's files, newest first.
CREATE INDEX files_user_idx ON files (user_id, created_at DESC, id DESC);

-- The picture a profile shows: a file, not a URL (links are signed when a user is shown).
ALTER TABLE users ADD COLUMN profile_image_id UUID REFERENCES files (id) ON DELETE SET NULL;
ALTER TABLE users DROP COLUMN profile_image_url;

-- Objects to remove from storage, queued in the transaction that removes their row (a
-- deleted file, a replaced picture, a deleted account) and removed by the image worker, so
-- a slow or failing storage never blocks nor undoes a request.
CREATE TABLE storage_garbage (
    object    TEXT        PRIMARY KEY,
    queued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Whatever removes a files row (its owner, the image worker, ON DELETE CASCADE from users)
-- queues its objects: no path can forget them. SECURITY DEFINER: a cascade runs as the
-- table's owner, a direct delete as the function's role; both may queue, neither more.
CREATE FUNCTION files_queue_objects() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO storage_garbage (object)
    SELECT OLD.object
    UNION
    SELECT value FROM jsonb_each_text(OLD.variants)
    ON CONFLICT DO NOTHING;
    RETURN OLD;
END
$$;
REVOKE ALL ON FUNCTION files_queue_objects() FROM PUBLIC;

CREATE TRIGGER files_queue_objects AFTER DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION files_queue_objects();

SELECT create_function_role('mindpause_files');
SELECT create_function_role('mindpause_image_worker');

-- files: a person's own uploads; replacing or removing a file (the profile's picture goes
-- with it by ON DELETE SET NULL, run as the owner).
GRANT SELECT ON users, sessions TO mindpause_files;
GRANT SELECT, INSERT, DELETE ON files TO mindpause_files;

-- image-worker: its idempotency records, the pictures it finishes, the profile it points at
-- them, and the garbage it takes out.
GRANT SELECT, INSERT, UPDATE, DELETE ON processed_messages TO mindpause_image_worker;
GRANT SELECT, UPDATE, DELETE ON files TO mindpause_image_worker;
GRANT SELECT, UPDATE (profile_image_id, updated_at) ON users TO mindpause_image_worker;
GRANT SELECT, DELETE ON storage_garbage TO mindpause_image_worker;
