-- Webhook registrations, the events they were sent, one row per delivery (its state machine and
-- retry schedule) and one row per attempt (the execution history users query).

CREATE TABLE hub_webhooks (
    id                          text PRIMARY KEY,
    name                        text NOT NULL,
    description                 text,
    event_type                  text NOT NULL,
    url                         text NOT NULL,
    http_method                 text NOT NULL,
    content_type                text NOT NULL,
    headers                     jsonb NOT NULL DEFAULT '{}'::jsonb,
    payload_template            text,
    is_active                   boolean NOT NULL DEFAULT true,
    retry_count                 integer,
    retry_interval              integer,
    timeout                     integer NOT NULL,
    ordered                     boolean NOT NULL DEFAULT false,
    secret_enc                  text NOT NULL,
    previous_secret_enc         text,
    previous_secret_expires_at  timestamptz,
    disabled_reason             text,
    failing_since               timestamptz,
    version                     bigint NOT NULL DEFAULT 1,
    created_by                  text,
    created_date                timestamptz NOT NULL DEFAULT now(),
    updated_by                  text,
    updated_date                timestamptz,
    UNIQUE (name, event_type)
);
CREATE INDEX hub_webhooks_event_type ON hub_webhooks (event_type);

-- Canonical events that matched at least one webhook, kept so retries and replays send the same
-- data. The body is the exact JSON (decimals keep their digits), not jsonb.
CREATE TABLE hub_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    body         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- due_at is when the row next needs a worker: next attempt for pending/retrying rows, lease expiry
-- for in_flight rows, NULL once terminal. One index serves the scheduler.
CREATE TABLE hub_webhook_deliveries (
    id            text PRIMARY KEY,
    message_id    text NOT NULL,
    webhook_id    text NOT NULL REFERENCES hub_webhooks (id) ON DELETE CASCADE,
    event_id      text NOT NULL REFERENCES hub_events (id),
    event_type    text NOT NULL,
    aggregate_id  bigint NOT NULL DEFAULT -1,
    ordered       boolean NOT NULL DEFAULT false,
    status        text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    due_at        timestamptz,
    last_error    text,
    is_test       boolean NOT NULL DEFAULT false,
    seq           bigserial,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hub_deliveries_due ON hub_webhook_deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX hub_deliveries_order ON hub_webhook_deliveries (webhook_id, aggregate_id, seq)
    WHERE due_at IS NOT NULL;
CREATE INDEX hub_deliveries_webhook ON hub_webhook_deliveries (webhook_id, created_at);

CREATE TABLE hub_webhook_attempts (
    id                 text PRIMARY KEY,
    delivery_id        text NOT NULL,
    message_id         text NOT NULL,
    webhook_id         text NOT NULL REFERENCES hub_webhooks (id) ON DELETE CASCADE,
    event_id           text NOT NULL,
    event_type         text NOT NULL,
    attempt            integer NOT NULL,
    status             text NOT NULL,
    response_status    integer,
    response_body      text,
    execution_time_ms  integer,
    error_message      text,
    request_body       text,
    next_retry_time    timestamptz,
    is_test            boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hub_attempts_webhook ON hub_webhook_attempts (webhook_id, created_at DESC);
CREATE INDEX hub_attempts_event ON hub_webhook_attempts (event_id);
CREATE INDEX hub_attempts_created ON hub_webhook_attempts (created_at);
