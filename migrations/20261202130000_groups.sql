-- Groups as Kasm has them (issue #14): a unique priority, two system groups, settings per
-- group and the workspaces (images) assigned to groups.
--
-- "All Users" (priority 1000, the last to be consulted) holds every user implicitly: no
-- user_groups rows are kept for it. "Administrators" (priority 1) holds the administrators
-- explicitly: those of today are added here, and later ones by the trigger below.
-- Every image, existing or registered later, starts assigned to All Users (trigger below), so
-- a deployment without assignments launches what it launched before; an administrator narrows
-- an image down by changing its groups. An image assigned to no group is offered to
-- administrators only.

-- Priorities made unique: groups sharing one keep the oldest there, the others move to the end.
WITH shared AS (
    SELECT group_id, row_number() OVER (PARTITION BY priority ORDER BY created, group_id) AS n
    FROM groups
), moved AS (
    SELECT group_id, row_number() OVER (ORDER BY group_id) AS m FROM shared WHERE n > 1
)
UPDATE groups g SET priority = (SELECT coalesce(max(priority), 0) FROM groups) + moved.m
FROM moved WHERE g.group_id = moved.group_id;

-- Room for the system groups' names and priorities.
UPDATE groups SET name = name || ' (renamed)' WHERE lower(name) IN ('all users', 'administrators');
UPDATE groups SET priority = (SELECT coalesce(max(priority), 0) FROM groups) + 1
    WHERE priority = 1;
UPDATE groups SET priority = (SELECT coalesce(max(priority), 0) FROM groups) + 1
    WHERE priority = 1000;

CREATE UNIQUE INDEX groups_priority_key ON groups (priority);

INSERT INTO groups (group_id, name, description, priority, is_system) VALUES
    ('00000000-0000-4000-8000-00000000a11a', 'All Users',
     'Every user. Its settings are the defaults.', 1000, true),
    ('00000000-0000-4000-8000-00000000ad01', 'Administrators',
     'The administrators.', 1, true);

INSERT INTO user_groups (user_id, group_id)
    SELECT user_id, '00000000-0000-4000-8000-00000000ad01' FROM users WHERE role = 'admin';

-- A user who becomes an administrator joins Administrators (leaving it is the admin's choice).
CREATE FUNCTION administrators_join() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.role = 'admin' THEN
        INSERT INTO user_groups (user_id, group_id)
            VALUES (NEW.user_id, '00000000-0000-4000-8000-00000000ad01') ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER users_administrators_join AFTER INSERT OR UPDATE OF role ON users
    FOR EACH ROW EXECUTE FUNCTION administrators_join();

-- One value per group and setting (Kasm's names; the server knows their types).
CREATE TABLE group_settings (
    group_id  uuid NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    name      text NOT NULL CHECK (name ~ '^[a-z0-9_]{1,64}$'),
    value     jsonb NOT NULL,
    updated   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, name)
);

-- The workspaces each group's members see and may launch.
CREATE TABLE group_images (
    group_id  uuid NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    image_id  uuid NOT NULL REFERENCES images (image_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, image_id)
);
CREATE INDEX group_images_image_id ON group_images (image_id);

INSERT INTO group_images (group_id, image_id)
    SELECT '00000000-0000-4000-8000-00000000a11a', image_id FROM images;

CREATE FUNCTION images_offered_to_all_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO group_images (group_id, image_id)
        VALUES ('00000000-0000-4000-8000-00000000a11a', NEW.image_id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER images_offered_to_all_users AFTER INSERT ON images
    FOR EACH ROW EXECUTE FUNCTION images_offered_to_all_users();
