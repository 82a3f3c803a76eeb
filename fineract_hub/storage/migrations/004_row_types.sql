-- Row types for the batched writes of the delivery path: a statement takes one array of rows
-- instead of one array per column. asyncpg checks every element of every array parameter with
-- a Python-level isinstance, so sixteen column arrays cost the worker three times the CPU of
-- one array of rows, and PostgreSQL unnests one array faster than sixteen.
-- Each type has the fields of a NamedTuple in storage/deliveries.py, by name and in order
-- (tests/integration/test_storage.py checks that they agree).
CREATE TYPE hub_event_row AS (id text, type text, body text);

CREATE TYPE hub_new_delivery_row AS (
    id text, message_id text, webhook_id text, event_id text, event_type text,
    aggregate_id bigint, ordered boolean, status text, due_in float8, is_test boolean
);

CREATE TYPE hub_attempt_row AS (
    id text, delivery_id text, message_id text, webhook_id text, event_id text,
    event_type text, attempt integer, status text, response_status integer,
    response_body text, execution_time_ms integer, error_message text, request_body text,
    next_retry_in float8, is_test boolean, body_is_event boolean
);

CREATE TYPE hub_delivery_update_row AS (
    delivery_id text, status text, attempts integer, due_in float8, last_error text
);
