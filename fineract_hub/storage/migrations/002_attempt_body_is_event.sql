-- The default JSON body of a delivery is the canonical event itself, already in hub_events.
-- Writing it again for every attempt was a tenth of the machine's CPU per delivery; such
-- attempts keep request_body NULL and say where the body is. Adding a column with a constant
-- default rewrites nothing (PostgreSQL >= 11).
ALTER TABLE hub_webhook_attempts ADD COLUMN body_is_event boolean NOT NULL DEFAULT false;
