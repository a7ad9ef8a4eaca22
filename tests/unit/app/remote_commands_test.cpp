#include "gateway/app/remote_commands.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

// The local file: a demo gateway with a simulated cuff (a remote config may keep sim devices only then).
std::string ConfigText(const std::string& broker_uri = "ssl://broker.example.no:8883",
                       const std::string& severity = "high") {
  return R"({
  "gateway": {"id": "gw-1", "tenant": "0301"},
  "resident": {"pseudonym": "r-0001", "time_zone": "Europe/Oslo"},
  "broker": {"uri": ")" +
         broker_uri + R"("},
  "tls": {"ca_file": "ca.pem", "cert_file": "gw.pem", "key_file": "gw.key"},
  "security": {"gateway_key_file": "keys/gateway-signing.key", "recipient_key_file": "care.jwk",
               "command_keys_file": "care-commands.jwks"},
  "storage": {"path": "data/gateway.db"},
  "devices": [{"id": "cuff", "type": "sim", "profile": "blood_pressure"}],
  "rules": [{"id": "sys-high", "kind": "threshold", "metric": "bp.systolic", "above": 170, "severity": ")" +
         severity + R"("}]
})";
}

const std::filesystem::path kConfigPath = "/etc/ehealth-gateway/gateway.json";

// Records what the handler did; each answer can be set.
struct FakePort : ehg::app::RemoteCommandPort {
  std::string local_text = ConfigText();
  std::optional<std::string> unusable;
  ehg::Result<std::uint64_t> critical_alerts = std::uint64_t{0};
  bool write_fails = false;

  std::vector<std::pair<std::string, std::filesystem::path>> configs_written;
  int reloads = 0;
  std::vector<std::string> update_requests;

  ehg::Result<std::string> ReadLocalConfigText() override { return local_text; }
  std::optional<std::string> UnusableFiles(const ehg::config::Config&) override { return unusable; }
  ehg::Result<void> WriteConfig(std::string_view text, const std::filesystem::path& previous) override {
    if (write_fails) return ehg::Fail(ehg::Errc::kIo, "disk full");
    configs_written.emplace_back(std::string(text), previous);
    return {};
  }
  void Reload() override { ++reloads; }
  ehg::Result<std::uint64_t> CountOpenCriticalAlerts() override { return critical_alerts; }
  ehg::Result<void> WriteUpdateRequest(std::string_view body) override {
    if (write_fails) return ehg::Fail(ehg::Errc::kIo, "disk full");
    update_requests.emplace_back(body);
    return {};
  }
};

struct Fixture {
  FakePort port;
  ehg::core::ManualClock clock;
  ehg::app::RemoteCommands commands{kConfigPath, true, port, clock};
};

}  // namespace

TEST_CASE("config.apply: a valid config is written with the old one kept, then reloaded") {
  Fixture f;
  const auto outcome = f.commands.ApplyConfig({ConfigText("ssl://broker.example.no:8883", "medium")});
  CHECK(outcome.ok);
  CHECK(outcome.detail.find("previous kept as gateway.json.previous") != std::string::npos);
  REQUIRE(f.port.configs_written.size() == 1);
  CHECK(f.port.configs_written[0].second == "/etc/ehealth-gateway/gateway.json.previous");
  CHECK(f.port.reloads == 1);
}

TEST_CASE("config.apply changes nothing when the config is invalid, touches the floor or cannot run") {
  Fixture f;
  SUBCASE("not a config") {
    const auto outcome = f.commands.ApplyConfig({"{\"gateway\": 1}"});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail.starts_with("invalid config, nothing changed: "));
  }
  SUBCASE("the security floor: only the local file may change the broker") {
    const auto outcome = f.commands.ApplyConfig({ConfigText("ssl://elsewhere.example.com:8883")});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail.find("only the local config file may set broker.uri") != std::string::npos);
  }
  SUBCASE("the local file does not read") {
    f.port.local_text = "{";
    const auto outcome = f.commands.ApplyConfig({ConfigText()});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail.starts_with("the local config file does not read, nothing changed"));
  }
  SUBCASE("a named file or key unusable") {
    f.port.unusable = "keys unusable, nothing changed: no key";
    const auto outcome = f.commands.ApplyConfig({ConfigText()});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail == "keys unusable, nothing changed: no key");
  }
  SUBCASE("the write fails") {
    f.port.write_fails = true;
    const auto outcome = f.commands.ApplyConfig({ConfigText()});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail.starts_with("could not write the config, the previous one stays"));
  }
  CHECK(f.port.configs_written.empty());
  CHECK(f.port.reloads == 0);
}

TEST_CASE("config.apply: a binary without simulators refuses a config with sim devices") {
  FakePort port;
  ehg::core::ManualClock clock;
  ehg::app::RemoteCommands production(kConfigPath, false, port, clock);
  const auto outcome = production.ApplyConfig({ConfigText()});
  CHECK_FALSE(outcome.ok);
  CHECK(outcome.detail.find("type \"sim\" needs the simulators") != std::string::npos);
  CHECK(port.configs_written.empty());
}

TEST_CASE("rules.apply: the local file with new rules, the rest of it as it was, applied as a config") {
  Fixture f;
  f.port.local_text = "// installed on 2026-11-02 by the municipality\n" + ConfigText();
  const auto outcome = f.commands.Apply(ehg::wire::RulesApply{
      R"([{"id":"sys-high","kind":"threshold","metric":"bp.systolic","above":160,"severity":"high"}])"});
  CHECK(outcome.ok);
  CHECK(outcome.detail.starts_with("rules replaced; config written"));
  REQUIRE(f.port.configs_written.size() == 1);
  const std::string& written = f.port.configs_written[0].first;
  CHECK(written.starts_with(
      "// installed on 2026-11-02 by the municipality\n{\n  \"gateway\": {\"id\": \"gw-1\""));
  CHECK(
      written.find(R"("rules": [{"id":"sys-high","kind":"threshold","metric":"bp.systolic","above":160,)") !=
      std::string::npos);
  CHECK(written.find("170") == std::string::npos);
  auto parsed = ehg::config::ParseConfig(written, kConfigPath.parent_path());
  REQUIRE(parsed);
  CHECK(parsed->broker.uri == "ssl://broker.example.no:8883");
  CHECK(f.port.reloads == 1);
}

TEST_CASE("rules.apply changes nothing for rules that do not validate or text that reaches past them") {
  Fixture f;
  SUBCASE("a rule the gateway does not know") {
    const auto outcome = f.commands.Apply(ehg::wire::RulesApply{R"([{"id":"x","kind":"magic"}])"});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail.starts_with("invalid config, nothing changed: rules[0]"));
  }
  SUBCASE("not rules at all") {
    const auto outcome = f.commands.Apply(ehg::wire::RulesApply{"[1]"});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail.starts_with("invalid config, nothing changed"));
  }
  SUBCASE("text that closes the list and sets the broker: a duplicate key, and the floor") {
    const auto outcome = f.commands.Apply(
        ehg::wire::RulesApply{R"([], "broker": {"uri": "ssl://elsewhere.example.com:8883"}, "x": [])"});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail.starts_with("invalid config, nothing changed"));
  }
  SUBCASE("the local file does not read") {
    f.port.local_text = "{";
    const auto outcome = f.commands.Apply(ehg::wire::RulesApply{"[]"});
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.detail.starts_with("the local config file does not read, nothing changed"));
  }
  CHECK(f.port.configs_written.empty());
  CHECK(f.port.reloads == 0);
}

TEST_CASE("update.request: refused while a critical alert is open, else the helper's request is written") {
  Fixture f;
  f.port.critical_alerts = std::uint64_t{1};
  auto refused = f.commands.RequestUpdate({"0.2.0-1"}, "c-7");
  CHECK_FALSE(refused.ok);
  CHECK(refused.detail == "a critical alert is open: no update starts until it is resolved");
  f.port.critical_alerts = ehg::Fail(ehg::Errc::kIo, "database locked");
  CHECK_FALSE(f.commands.RequestUpdate({"0.2.0-1"}, "c-8").ok);
  CHECK(f.port.update_requests.empty());

  f.port.critical_alerts = std::uint64_t{0};
  auto requested = f.commands.RequestUpdate({"0.2.0-1"}, "c-9");
  CHECK(requested.ok);
  REQUIRE(f.port.update_requests.size() == 1);
  CHECK(f.port.update_requests[0] == R"({"version":"0.2.0-1","command_id":"c-9","requested_at":")" +
                                         ehg::core::FormatIso8601(f.clock.Now()) + "\"}\n");
}
