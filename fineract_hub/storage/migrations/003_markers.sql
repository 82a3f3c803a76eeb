-- One-time jobs the service has done to itself (e.g. fanning out the canonical-topic backlog an
-- earlier version left at an upgrade), so that later starts skip them.
CREATE TABLE hub_markers (
    name        text PRIMARY KEY,
    detail      jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
