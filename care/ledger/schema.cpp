#include "care/ledger/schema.hpp"

#include <array>

namespace ehg::ledger {
namespace {

// Version 1: the whole first schema. docs/hub-database.md describes every table and why it is shaped so.
constexpr std::string_view kVersion1 = R"sql(
CREATE TABLE gateways (
  tenant text NOT NULL CHECK (tenant ~ '^[0-9]{4}$'),
  gateway_id text NOT NULL CHECK (gateway_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  status text NOT NULL CHECK (status IN ('enrolled', 'revoked')),
  key_id text NOT NULL,
  public_key text NOT NULL,
  cert_fingerprint text NOT NULL,
  enrolled_at timestamptz NOT NULL,
  revoked_at timestamptz,
  state text CHECK (state IN ('online', 'offline')),
  state_reason text,
  software_version text,
  last_heartbeat timestamptz,
  status_time timestamptz,
  connected_at timestamptz,
  heartbeat_interval_seconds bigint,
  backlog_events bigint,
  backlog_bytes bigint,
  backlog_alerts bigint,
  alerts_awaiting_receipt bigint,
  dropped_observations bigint,
  clock_synchronised boolean,
  PRIMARY KEY (tenant, gateway_id)
);

-- Every key a gateway has signed with: the current one (retired_at NULL) and the rotated ones, each
-- still accepted until accepted_until.
CREATE TABLE gateway_keys (
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  key_id text NOT NULL,
  public_key text NOT NULL,
  cert_fingerprint text NOT NULL,
  added_at timestamptz NOT NULL,
  retired_at timestamptz,
  accepted_until timestamptz,
  PRIMARY KEY (tenant, gateway_id, key_id),
  FOREIGN KEY (tenant, gateway_id) REFERENCES gateways
);

-- The idempotence key of the whole hub: one row per event id of every kind, UNIQUE on the id alone.
CREATE TABLE events (
  event_id uuid PRIMARY KEY,
  tenant text NOT NULL CHECK (tenant ~ '^[0-9]{4}$'),
  gateway_id text NOT NULL CHECK (gateway_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  kind text NOT NULL CHECK (kind IN ('alert', 'observation', 'device', 'gateway', 'command_result')),
  event_time timestamptz NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_stored_at ON events (stored_at);

CREATE TABLE observations (
  effective timestamptz NOT NULL,
  event_id uuid NOT NULL,
  metric text NOT NULL,
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  subject text NOT NULL,
  device_id text NOT NULL,
  issued timestamptz,
  value double precision NOT NULL,
  unit text NOT NULL,
  flags text[] NOT NULL DEFAULT '{}',
  identifier text NOT NULL DEFAULT '',
  PRIMARY KEY (effective, event_id, metric)
) PARTITION BY RANGE (effective);
CREATE INDEX observations_resident ON observations (tenant, subject, metric, effective);
CREATE TABLE observations_default PARTITION OF observations DEFAULT;

CREATE TABLE alerts (
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  alert_id text NOT NULL,
  subject text NOT NULL,
  rule_id text NOT NULL,
  metric text NOT NULL,
  device_id text NOT NULL DEFAULT '',
  severity text NOT NULL,
  priority smallint NOT NULL,
  stage smallint NOT NULL CHECK (stage BETWEEN 0 AND 2),
  last_change text NOT NULL,
  state text NOT NULL,
  raised_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  acknowledged_at timestamptz,
  acknowledged_by text,
  resolved_at timestamptz,
  resolved_by text,
  escalation_level bigint NOT NULL,
  occurrences bigint NOT NULL,
  worst_value double precision NOT NULL,
  last_event_id uuid NOT NULL,
  PRIMARY KEY (tenant, gateway_id, alert_id)
);
CREATE INDEX alerts_open ON alerts (tenant, priority, raised_at) WHERE stage < 2;

CREATE TABLE alert_events (
  event_id uuid PRIMARY KEY REFERENCES events,
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  alert_id text NOT NULL,
  change text NOT NULL,
  event_time timestamptz NOT NULL,
  body jsonb NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (tenant, gateway_id, alert_id, event_time);

CREATE TABLE devices (
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  device_id text NOT NULL,
  subject text NOT NULL,
  connected boolean NOT NULL,
  detail text NOT NULL,
  changed_at timestamptz NOT NULL,
  last_event_id uuid NOT NULL,
  PRIMARY KEY (tenant, gateway_id, device_id)
);

CREATE TABLE device_events (
  event_id uuid PRIMARY KEY REFERENCES events,
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  device_id text NOT NULL,
  event_time timestamptz NOT NULL,
  body jsonb NOT NULL
);

CREATE TABLE gateway_events (
  event_id uuid PRIMARY KEY REFERENCES events,
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  code text NOT NULL,
  severity text NOT NULL,
  event_time timestamptz NOT NULL,
  body jsonb NOT NULL
);

-- Commands the hub sent (receipts excepted), and the result each got.
CREATE TABLE commands (
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  command_id text NOT NULL,
  type text NOT NULL,
  body jsonb NOT NULL,
  sent_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  result_status text,
  result_detail text,
  result_event_id uuid,
  result_at timestamptz,
  PRIMARY KEY (tenant, gateway_id, command_id)
);

CREATE TABLE command_results (
  event_id uuid PRIMARY KEY REFERENCES events,
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  command_id text NOT NULL,
  type text NOT NULL,
  status text NOT NULL,
  event_time timestamptz NOT NULL,
  body jsonb NOT NULL
);
CREATE INDEX command_results_command ON command_results (tenant, gateway_id, command_id);

-- Receipts sent: one signed event.receipt command may confirm a whole observation batch.
CREATE TABLE receipts (
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  command_id text NOT NULL,
  event_ids uuid[] NOT NULL,
  sent_at timestamptz NOT NULL,
  PRIMARY KEY (tenant, gateway_id, command_id)
);

-- Who did what to which gateway or resident, when. Append-only: a trigger refuses UPDATE, DELETE and
-- TRUNCATE whoever asks (the owner included), and the hub's role gets INSERT and SELECT only.
CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  tenant text,
  gateway_id text,
  subject text,
  detail text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_subject ON audit_log (tenant, subject, at);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
)sql";

// Version 2: the console's staff accounts, their sessions and sign-in attempts (docs/console.md).
constexpr std::string_view kVersion2 = R"sql(
CREATE TABLE staff_accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
  role text NOT NULL CHECK (role IN ('nurse', 'coordinator', 'municipal_it', 'administrator')),
  tenants text[] NOT NULL CHECK (cardinality(tenants) > 0),
  password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  created_at timestamptz NOT NULL,
  password_changed_at timestamptz NOT NULL,
  disabled_at timestamptz
);

-- The cookie's token is never stored, only its SHA-256: a copy of this table opens no session.
CREATE TABLE staff_sessions (
  token_digest text PRIMARY KEY CHECK (token_digest ~ '^[0-9a-f]{64}$'),
  account_id bigint NOT NULL REFERENCES staff_accounts (id),
  csrf_token text NOT NULL,
  address text NOT NULL,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  ended_at timestamptz,
  end_reason text
);
CREATE INDEX staff_sessions_account ON staff_sessions (account_id) WHERE ended_at IS NULL;

-- Every sign-in attempt, for the lockout (per account since its last success, per address). A name
-- that is no account is not kept (it may be a password typed into the wrong field).
CREATE TABLE sign_in_attempts (
  at timestamptz NOT NULL,
  account_id bigint REFERENCES staff_accounts (id),
  address text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('ok', 'wrong_password', 'locked', 'disabled', 'unknown_user'))
);
CREATE INDEX sign_in_attempts_account ON sign_in_attempts (account_id, at);
CREATE INDEX sign_in_attempts_address ON sign_in_attempts (address, at);
)sql";

// Version 3: what care staff do with an alert on the console (claim, acknowledge, resolve) and the
// commands the console asks the hub to sign and send (docs/console.md#acting-on-an-alert).
constexpr std::string_view kVersion3 = R"sql(
-- One row per alert and action: the primary key makes the first of two nurses acting at once the one
-- whose action counts; the second is told who was first.
CREATE TABLE alert_actions (
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  alert_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('claim', 'acknowledge', 'resolve')),
  actor text NOT NULL,
  at timestamptz NOT NULL,
  note text NOT NULL DEFAULT '',
  command_id text,
  PRIMARY KEY (tenant, gateway_id, alert_id, action)
);

-- Commands the console asked for; a hub signs and sends each (the signing key lives on hub hosts only)
-- and records it in commands, where the gateway's result arrives.
CREATE TABLE command_requests (
  tenant text NOT NULL,
  gateway_id text NOT NULL,
  command_id text NOT NULL,
  body text NOT NULL,
  requested_by text NOT NULL,
  requested_at timestamptz NOT NULL,
  sent_at timestamptz,
  refused text,
  PRIMARY KEY (tenant, gateway_id, command_id)
);
CREATE INDEX command_requests_waiting ON command_requests (requested_at) WHERE sent_at IS NULL AND refused IS NULL;
)sql";

// Version 4: indexes for the console's resident view and audit view (docs/console.md).
constexpr std::string_view kVersion4 = R"sql(
CREATE INDEX alerts_subject ON alerts (tenant, subject, raised_at);
CREATE INDEX devices_subject ON devices (tenant, subject);
CREATE INDEX gateway_events_code ON gateway_events (tenant, gateway_id, code, event_time);
CREATE INDEX audit_log_at ON audit_log (at);
)sql";

// Version 5: a new gateway enrolled from the console (docs/console.md#enrolling-a-gateway). The
// console's role may not write gateways or keys: a console that could add a key to an enrolled gateway
// could have events forged in that gateway's name. It may call this function instead, which runs with
// the rights of the schema's owner and only ever adds a gateway not known before, with its first key
// and its audit row. Answers 'enrolled', 'already' (the same gateway with the same key: a retry) or
// 'known' (enrolled with another key, or revoked: rotating and enrolling again stay with ehealth-hub).
constexpr std::string_view kVersion5 = R"sql(
CREATE FUNCTION enrol_new_gateway(p_tenant text, p_gateway text, p_key_id text, p_public_key text,
                                  p_cert_fingerprint text, p_actor text, p_at timestamptz)
  RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  known record;
BEGIN
  -- What the audit row is made of is checked here too: the caller may be anything holding the console's
  -- credentials, not only the console.
  IF p_key_id !~ '^[[:graph:]]{1,128}$' OR p_cert_fingerprint !~ '^([0-9a-f]{64})?$'
     OR p_actor !~ '^[[:graph:]]{1,64}$' OR length(p_public_key) > 4096 THEN
    RAISE EXCEPTION 'enrol_new_gateway: a malformed key id, fingerprint, actor or key'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR attempt IN 1..2 LOOP
    SELECT status, key_id, public_key INTO known FROM gateways WHERE tenant = p_tenant AND gateway_id = p_gateway;
    IF FOUND THEN
      IF known.status = 'enrolled' AND known.key_id = p_key_id AND known.public_key = p_public_key THEN
        RETURN 'already';
      END IF;
      RETURN 'known';
    END IF;
    BEGIN
      INSERT INTO gateways (tenant, gateway_id, status, key_id, public_key, cert_fingerprint, enrolled_at)
        VALUES (p_tenant, p_gateway, 'enrolled', p_key_id, p_public_key, p_cert_fingerprint, p_at);
      INSERT INTO gateway_keys (tenant, gateway_id, key_id, public_key, cert_fingerprint, added_at)
        VALUES (p_tenant, p_gateway, p_key_id, p_public_key, p_cert_fingerprint, p_at);
      INSERT INTO audit_log (at, actor, action, tenant, gateway_id, subject, detail)
        VALUES (p_at, p_actor, 'gateway.enrol', p_tenant, p_gateway, NULL,
                'key ' || p_key_id || ', certificate ' || p_cert_fingerprint);
      RETURN 'enrolled';
    EXCEPTION WHEN unique_violation THEN
      NULL;  -- enrolled at the same moment by another request: read what it wrote, once
    END;
  END LOOP;
  RETURN 'known';
END $$;
REVOKE ALL ON FUNCTION enrol_new_gateway(text, text, text, text, text, text, timestamptz) FROM PUBLIC;

-- The fleet view's latest request of each type per gateway.
CREATE INDEX command_requests_type ON command_requests (tenant, gateway_id, ((body::jsonb) ->> 'type'), requested_at);
)sql";

// Version 6: commands sent again until their result comes (docs/hub-database.md#commands). On the
// engine a gateway's command subscription is QoS 0, so a command sent while it is away is not kept for
// it: the hub keeps what it signed (jws), when it last went out and how often, and sends it again once
// the gateway reports itself online after that (status_received_at, the hub's clock: the gateway's may
// lie). Commands sent before have no jws and are not sent again (they went to the gateway's session).
constexpr std::string_view kVersion6 = R"sql(
ALTER TABLE commands ADD COLUMN jws text, ADD COLUMN last_sent_at timestamptz,
  ADD COLUMN sends integer NOT NULL DEFAULT 1;
UPDATE commands SET last_sent_at = sent_at;
ALTER TABLE commands ALTER COLUMN last_sent_at SET NOT NULL;
CREATE INDEX commands_awaiting_result ON commands (expires_at) WHERE result_status IS NULL AND jws IS NOT NULL;
ALTER TABLE gateways ADD COLUMN status_received_at timestamptz;
)sql";

constexpr std::array kMigrations{
    Migration{1, "the first schema: gateways, keys, events, observations by month, alerts, commands, audit",
              kVersion1},
    Migration{2, "the console's staff accounts, sessions and sign-in attempts", kVersion2},
    Migration{3, "staff actions on alerts and the commands they ask the hub to send", kVersion3},
    Migration{4, "indexes for the resident view and the audit view", kVersion4},
    Migration{5, "enrolling a new gateway from the console, through a function; command requests by type",
              kVersion5},
    Migration{6, "commands sent again until their result comes", kVersion6},
};

}  // namespace

std::span<const Migration> Migrations() {
  return kMigrations;
}

int LatestSchemaVersion() {
  return kMigrations.back().version;
}

}  // namespace ehg::ledger
