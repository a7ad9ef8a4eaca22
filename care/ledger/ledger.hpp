#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "care/accounts/accounts.hpp"
#include "care/ledger/rows.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/result.hpp"

// The hub's PostgreSQL store (docs/hub-database.md). One Ledger is one connection, used by one thread
// at a time; a hub runs one per worker. Every call is one transaction: it commits whole or not at all.
// A lost connection (PostgreSQL restarted) fails the call with Errc::kUnavailable after one retry on a
// new connection; the next call connects again. The hub acks JetStream only after Store returned.
namespace ehg::ledger {

struct LedgerOptions {
  std::string connection;  // a libpq connection string: "host=/run/postgresql dbname=ehealth_hub"
  // How long a rotated gateway key is still accepted (docs/hub-database.md#keys): the gateway takes the
  // rotation command up to its lifetime later (at most 192 h, docs/integration.md) and messages it
  // signed before may wait in JetStream while no hub runs.
  std::chrono::hours key_grace{24 * 14};
};

enum class Outcome {
  kNew,        // stored now
  kDuplicate,  // stored before (by this or another hub): answer it with a receipt again
  kConflict,   // the id is stored for another gateway or kind: nothing written, no receipt, look into it
};
std::string_view ToString(Outcome outcome);

struct EventOutcome {
  core::EventId event_id;
  Outcome outcome = Outcome::kNew;
};

// Per message of a Store batch: its events' outcomes, or why the database refused the message (a
// constraint or data error: nothing of it was written, the other messages of the batch were).
struct MessageOutcome {
  std::optional<Error> refused;
  std::vector<EventOutcome> events;
};

// One gateway of one tenant.
struct GatewayRef {
  std::string tenant;
  std::string gateway;
  auto operator<=>(const GatewayRef&) const = default;
};

struct GatewayKey {
  std::string key_id;      // the JWK's kid or RFC 7638 thumbprint
  std::string public_key;  // JWK or PEM text
};

struct Enrolment {
  std::string tenant;
  std::string gateway;
  GatewayKey key;
  std::string cert_fingerprint;  // SHA-256 of the gateway's client certificate (DER), hex
};

struct AuditEntry {
  core::WallTime at{};
  std::string actor;   // a care worker's id, "hub", an operator
  std::string action;  // e.g. gateway.enrol, observations.read, alert.ack
  std::string tenant;  // empty: none
  std::string gateway;
  std::string subject;  // a resident's pseudonym
  std::string detail;
};

struct SentCommand {
  std::string tenant;
  std::string gateway;
  std::string command_id;
  std::string type;
  std::string body;  // the command object as JSON
  core::WallTime sent_at{};
  core::WallTime expires_at{};
  std::string jws;  // what went on the wire: sent again until the result comes (empty: never again)
};

// A command to send again (ResendCommands): as signed the first time, so the gateway's replay window
// knows it.
struct CommandToResend {
  std::string tenant;
  std::string gateway;
  std::string command_id;
  std::string jws;
  int sends = 0;  // how often it went out before
};

// When a command without a result goes out again: after the gateway reported itself online since its
// last send, and no sooner than `first_wait` after the first send, doubled after each further one, at
// most `longest_wait`. The waits keep a command whose result is on its way (in the gateway's outbox,
// behind a backlog) from being sent again and again: each repeat is refused by the gateway's replay
// window, and logged there as a warning.
struct ResendPolicy {
  std::chrono::seconds first_wait{15};
  std::chrono::seconds longest_wait{15 * 60};
};

struct SentReceipt {
  std::string tenant;
  std::string gateway;
  std::string command_id;
  std::vector<core::EventId> event_ids;
  core::WallTime sent_at{};
};

struct ObservationQuery {
  std::string actor;  // who reads: the read is audited in the same transaction
  std::string tenant;
  std::string subject;
  std::string metric;
  core::WallTime from{};  // inclusive
  core::WallTime to{};    // exclusive
};

struct CommandState {
  std::string type;
  std::optional<std::string> result_status;
  std::optional<std::string> result_detail;
};

// The console's staff (docs/console.md). Accounts, sessions and sign-in attempts; the rules they follow
// (names, passwords, lockout, session lifetime) are care/accounts'.
struct StaffAccount {
  accounts::Account account;
  std::string password_hash;  // argon2id, PHC string
  core::WallTime created_at{};
  core::WallTime password_changed_at{};
};

struct NewStaffAccount {
  std::string username;
  accounts::Role role = accounts::Role::kNurse;
  std::vector<std::string> tenants;
  std::string password_hash;
};

enum class SignInOutcome { kOk, kWrongPassword, kLocked, kDisabled, kUnknownUser };
std::string_view ToString(SignInOutcome outcome);

// The failures that count for the lockout: the account's since its last success, and the address's.
struct SignInFailures {
  std::vector<core::WallTime> account;
  std::vector<core::WallTime> address;
};

struct StaffSession {
  std::string token_digest;  // SHA-256 of the cookie's token (accounts::TokenDigest)
  accounts::Account account;
  std::string csrf_token;
  std::string address;
  core::WallTime created_at{};
  core::WallTime last_seen_at{};
};

// One alert on the console's board: the current state of an alert that is not resolved.
struct BoardAlert {
  std::string tenant;
  std::string gateway;
  std::string alert_id;
  std::string subject;  // the resident's pseudonym
  std::string rule_id;
  std::string metric;
  std::string device;
  std::string severity;
  int priority = 1;  // 0 critical
  int stage = 0;     // 0 open, 1 acknowledged
  std::string state;
  std::string last_change;
  core::WallTime raised_at{};
  core::WallTime updated_at{};
  std::optional<core::WallTime> acknowledged_at;
  std::string acknowledged_by;
  std::int64_t escalation_level = 0;
  std::int64_t occurrences = 0;
  double worst_value = 0;
  // The console's actions on it: who claimed it, who asked for the acknowledgement or the resolution,
  // and where that command is (requested, sent by a hub, answered by the gateway).
  struct Action {
    std::string actor;
    core::WallTime at{};
    std::optional<core::WallTime> sent_at;
    std::string result_status;  // "ok", "error", ... from the gateway's cmd.result; empty until then
    std::string refused;        // why the hub did not send it
  };
  std::optional<Action> claim;
  std::optional<Action> acknowledge;
  std::optional<Action> resolve;
};

// What the console's resident view asks for: one resident of one tenant, a time range, and the width of
// the buckets the chart values are summarised in.
struct ResidentQuery {
  std::string tenant;
  std::string subject;  // the resident's pseudonym
  core::WallTime from{};
  core::WallTime to{};
  std::chrono::seconds bucket{300};
};

// The resident view, each part a JSON text PostgreSQL built (json_agg: well-formed by construction),
// passed on to the browser as it is (docs/console.md, "Resident view").
struct ResidentView {
  bool known = false;  // the tenant has anything stored of this resident
  // [{"metric","unit","points":[[bucket start ms, lowest, mean, highest, count], ...]}, ...]
  std::string series = "[]";
  // Alerts raised before `to` and not resolved before `from`, newest first, with their events and the
  // evidence of their latest event.
  std::string alerts = "[]";
  // NEWS2 totals the gateway reported in its NEWS2 alerts: [[ms, total, risk], ...].
  std::string news2 = "[]";
  // [{"gateway","device","connected","detail","changed_at","battery","battery_at","last_reading_at"}]
  std::string devices = "[]";
  // The rules the resident's gateway reported last (gateway event rules.in_force): its "rules" array.
  std::string rules = "[]";
  std::optional<core::WallTime> rules_reported_at;
};

// What an administrator asks of the audit log: newest first, every filter optional.
struct AuditQuery {
  std::vector<std::string> tenants;  // accounts::kAllTenants: every one (rows without a tenant too)
  std::string tenant;                // one municipality
  std::string actor;
  std::string subject;                    // a resident's pseudonym
  std::string action;                     // e.g. resident.read
  std::optional<std::int64_t> before_id;  // the next page: rows older than this one
  std::size_t limit = 200;
};
struct AuditRow {
  std::int64_t id = 0;
  AuditEntry entry;
};

// One gateway on the fleet view: its enrolment and what its latest signed status said.
struct FleetGateway {
  std::string tenant;
  std::string gateway;
  std::string status;  // enrolled, revoked
  std::string state;   // online, offline, or empty before the first status
  std::string state_reason;
  std::string software_version;
  std::optional<core::WallTime> last_heartbeat;
  std::optional<core::WallTime> status_time;
  std::int64_t heartbeat_interval_seconds = 0;
  std::int64_t backlog_events = 0;
  std::int64_t backlog_alerts = 0;
  std::int64_t alerts_awaiting_receipt = 0;
  std::int64_t dropped_observations = 0;
  std::optional<bool> clock_synchronised;
  // The latest update outcome the gateway reported (gateway event update.*), and when.
  std::string last_update;
  std::optional<core::WallTime> last_update_at;
  // The latest update the console asked for: the version, when, and where it is: requested (waiting
  // for a hub), sent, refused (by the hub: the gateway would refuse it), or the gateway's result status.
  std::string update_requested_version;
  std::optional<core::WallTime> update_requested_at;
  std::string update_request_state;
  // The latest rules change the console asked for (rules.apply): when, its state as above, and the
  // gateway's answer (why it refused the rules, say).
  std::optional<core::WallTime> rules_requested_at;
  std::string rules_request_state;
  std::string rules_request_detail;
};

// The PostgreSQL channel the hub notifies when a tenant's alerts changed (payload: the tenant).
inline constexpr std::string_view kAlertChannel = "ehg_alerts";
// The channel a command request is notified on, for the hubs that send them (payload: the tenant).
inline constexpr std::string_view kCommandChannel = "ehg_commands";

// Waits for the hub's notifications on kAlertChannel, on a connection of its own (board.cpp).
class AlertChanges {
 public:
  explicit AlertChanges(std::string connection);
  ~AlertChanges();
  AlertChanges(const AlertChanges&) = delete;
  AlertChanges& operator=(const AlertChanges&) = delete;

  // The tenants whose alerts changed within `timeout` (empty: none). After (re)connecting it returns
  // {"*"} once: whatever happened while it was not listening must be read again. Errc::kUnavailable
  // while the database is away (call again: it reconnects).
  Result<std::vector<std::string>> Wait(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a care worker does with an alert on the console.
enum class AlertActionKind { kClaim, kAcknowledge, kResolve };
std::string_view ToString(AlertActionKind kind);

struct AlertAction {
  std::string tenant;
  std::string gateway;
  std::string alert_id;
  AlertActionKind kind = AlertActionKind::kClaim;
  std::string actor;         // the care worker's user name (the gateway's "by")
  std::string note;          // resolve only, at most wire::kMaxNoteBytes
  std::string command_id;    // acknowledge and resolve: the command the hub is to send, its id
  std::string command_body;  // and its object (wire::AlertActionCommand)
};

struct AlertActionOutcome {
  bool done = false;        // false: another worker was first
  std::string first_actor;  // who was, when not done
};

// A command the console asked for and a hub has not sent yet.
struct CommandRequest {
  std::string tenant;
  std::string gateway;
  std::string command_id;
  std::string body;  // the command object, as the gateway will read it
  std::string requested_by;
};

class Ledger {
 public:
  // Connects and brings the schema to this build's version (one transaction under an advisory lock).
  // Errc::kUnsupported when the database is newer than this build.
  static Result<std::unique_ptr<Ledger>> Open(LedgerOptions options);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // The rows of the messages, in one transaction, idempotently by event id. An error (Errc::kUnavailable
  // when the database cannot be reached) means nothing was written: ack nothing, let JetStream redeliver.
  Result<std::vector<MessageOutcome>> Store(const std::vector<Message>& batch);

  // Enrolment. Each writes its audit row in the same transaction.
  Result<void> Enrol(const Enrolment& enrolment, std::string_view actor, core::WallTime now);
  // Only a gateway not known before (the console's enrolment, through the schema's enrol_new_gateway:
  // the console's role writes no gateway or key itself). True: enrolled now; false: it already was,
  // with this key (a retry). Errc::kRejected when it is enrolled with another key or was revoked.
  Result<bool> EnrolNew(const Enrolment& enrolment, std::string_view actor, core::WallTime now);
  // The new key becomes the current one; the old one stays accepted for key_grace.
  Result<void> RotateKey(std::string_view tenant, std::string_view gateway, const GatewayKey& key,
                         std::string_view cert_fingerprint, std::string_view actor, core::WallTime now);
  // No key of the gateway is accepted from `now` on, rotated ones included.
  Result<void> Revoke(std::string_view tenant, std::string_view gateway, std::string_view actor,
                      core::WallTime now);
  // The keys to verify the gateway's messages with at `now`, the current one first. Errc::kNotFound for
  // a gateway never enrolled, Errc::kRejected for a revoked one.
  Result<std::vector<GatewayKey>> LookupKeys(std::string_view tenant, std::string_view gateway,
                                             core::WallTime now);
  // The same for several gateways in one statement (a turn's), each with its own answer; the outer error
  // only for the database itself.
  Result<std::map<GatewayRef, Result<std::vector<GatewayKey>>>> LookupKeys(
      const std::vector<GatewayRef>& gateways, core::WallTime now);

  // A verified status (wire::StatusTracker accepted it): true when it was newer than the one kept.
  Result<bool> ApplyStatus(const StatusRow& status);
  // Several in one transaction (a turn's heartbeats: one commit instead of one each), in order.
  Result<std::vector<bool>> ApplyStatuses(const std::vector<StatusRow>& statuses);

  Result<void> Append(const AuditEntry& entry);
  Result<void> RecordCommand(const SentCommand& command);
  Result<void> RecordReceipt(const SentReceipt& receipt);
  Result<std::optional<CommandState>> LookupCommand(std::string_view tenant, std::string_view gateway,
                                                    std::string_view command_id);
  // Up to `limit` commands due again under `policy` at `now` (not expired, no result yet; see
  // ResendPolicy), each locked while `send` publishes it (other hubs skip it), then its last send moved to
  // `now`. An error of `send` ends the call: the rest wait for the next. Returns how many went out.
  Result<int> ResendCommands(int limit, const ResendPolicy& policy,
                             const std::function<Result<void>(const CommandToResend&)>& send,
                             core::WallTime now);

  // A resident's values of one metric in [from, to), oldest first; audited as `observations.read`.
  Result<std::vector<ObservationRow>> QueryObservations(const ObservationQuery& query, core::WallTime now);

  // Monthly partitions of observations for every month from `from` to `to` (UTC) that has none yet;
  // rows that waited in the default partition move into theirs. Returns how many were created.
  Result<int> EnsurePartitions(core::WallTime from, core::WallTime to);

  Result<int> SchemaVersion();

  // --- The console's staff (staff.cpp). Changes to accounts are audited in the same transaction.
  // Errc::kRejected when the name is taken.
  Result<std::int64_t> CreateAccount(const NewStaffAccount& account, std::string_view actor,
                                     core::WallTime now);
  // Disabling ends the account's sessions at once. Errc::kNotFound for an unknown name.
  Result<void> SetAccountDisabled(std::string_view username, bool disabled, std::string_view actor,
                                  core::WallTime now);
  // A new password hash ends the account's sessions (a reset: whoever knew the old one is out).
  Result<void> SetPasswordHash(std::string_view username, std::string_view password_hash,
                               std::string_view actor, core::WallTime now);
  Result<std::optional<StaffAccount>> FindAccount(std::string_view username);
  Result<std::vector<StaffAccount>> ListAccounts();
  // Failures since `since`; the account's only after its last success.
  Result<SignInFailures> RecentSignInFailures(std::optional<std::int64_t> account_id,
                                              std::string_view address, core::WallTime since);
  // The attempt, and for a known account its audit row (session.sign_in / session.sign_in_refused).
  Result<void> RecordSignIn(std::optional<std::int64_t> account_id, std::string_view username,
                            std::string_view address, SignInOutcome outcome, core::WallTime now);
  Result<void> CreateSession(const StaffSession& session);
  // The session of a cookie's digest when it is alive (not ended, account enabled, within `policy`),
  // its last_seen moved to `now`; nullopt otherwise (an expired one is ended with its reason).
  Result<std::optional<StaffSession>> TouchSession(std::string_view token_digest, core::WallTime now,
                                                   const accounts::SessionPolicy& policy);
  Result<void> EndSession(std::string_view token_digest, std::string_view reason, core::WallTime now);

  // --- The console's board (board.cpp). Open and acknowledged alerts of the tenants (accounts::kAllTenants:
  // every one), critical first, then the longest waiting; at most `limit`. Audited as alerts.read by
  // `actor`: the board shows residents' pseudonyms.
  // The action, first come first served: Errc::kNotFound when the alert is unknown or resolved (for a
  // claim or an acknowledgement: also when acknowledged). Acknowledge and resolve also queue the command
  // for the gateway. Audited as alert.claim / alert.acknowledge / alert.resolve (without the note, which
  // is free text); the tenant's boards are notified.
  Result<AlertActionOutcome> RecordAlertAction(const AlertAction& action, core::WallTime now);
  // Queues a command for a hub to sign and send (idempotent by id).
  Result<void> RequestCommand(const CommandRequest& request, core::WallTime now);
  // Up to `limit` waiting requests, each locked while `send` signs and publishes it (other hubs skip
  // it): its result is recorded in commands and the request marked sent; an Errc::kRejected marks it
  // refused with the reason; any other error leaves it waiting and ends the call. Returns how many were
  // sent or refused.
  Result<int> SendRequestedCommands(int limit,
                                    const std::function<Result<SentCommand>(const CommandRequest&)>& send,
                                    core::WallTime now);

  Result<std::vector<BoardAlert>> BoardAlerts(const std::vector<std::string>& tenants, std::size_t limit,
                                              std::string_view actor, core::WallTime now);

  // --- The audit view (staff.cpp): administrators read the log; the read is itself audited
  // (audit.read).
  Result<std::vector<AuditRow>> ReadAudit(const AuditQuery& query, std::string_view actor,
                                          core::WallTime now);

  // --- The fleet view (fleet.cpp): the gateways of the tenants (accounts::kAllTenants: every one),
  // by tenant and id, at most `limit`. No health data: not audited as a read of residents.
  Result<std::vector<FleetGateway>> FleetGateways(const std::vector<std::string>& tenants, std::size_t limit);
  // One gateway as the fleet view shows it; nullopt when the tenant has no such gateway.
  Result<std::optional<FleetGateway>> FindGateway(std::string_view tenant, std::string_view gateway);

  // --- The console's resident view (resident.cpp). Audited as resident.read by `actor`, with the
  // tenant, the pseudonym and the range, whether or not anything was found.
  Result<ResidentView> ReadResident(const ResidentQuery& query, std::string_view actor, core::WallTime now);

 private:
  struct Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// SQL that grants a hub's login role what it needs: read and write on every table, but on audit_log
// only INSERT and SELECT (the trigger refuses changes to it anyway). `role` must be a plain identifier.
Result<std::string> HubGrants(std::string_view role);
// SQL that grants the console's login role what it needs and no more: it reads alerts, readings,
// devices, gateways, commands and accounts; appends to the audit log, sign-in attempts, alert actions
// and command requests; and keeps its sessions. It cannot store or change events, alerts, accounts or
// keys, send a command (a hub signs and sends), or change the audit log.
Result<std::string> ConsoleGrants(std::string_view role);

}  // namespace ehg::ledger
