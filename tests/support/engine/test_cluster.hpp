#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "care/engine/engine.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

// The engine's real three-node NATS cluster (scripts/cluster) for tests: started once per test process,
// stopped at its exit, with a PKI of its own (scripts/gen-certs) and two gateways of tenant 0301.
namespace ehg::test {

class TestCluster {
 public:
  static TestCluster& Get();
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  static constexpr const char* kTenant = "0301";
  static constexpr const char* kGateway = "gw-it-01";
  static constexpr const char* kOtherGateway = "gw-it-02";
  // Users for a fleet of kFleetGateways simulated gateways (at most 9), ids kFleetPrefix + 5 digits,
  // odd numbers in kTenant, even ones in kFleetOtherTenant.
  static constexpr const char* kFleetPrefix = "fleet-gw-";
  static constexpr const char* kFleetOtherTenant = "4601";
  static constexpr int kFleetGateways = 4;

  const std::filesystem::path& directory() const { return directory_.path(); }
  std::filesystem::path Pki(const std::string& file) const { return pki_ / file; }
  std::vector<std::string> Urls() const;
  int MqttPort(int node) const;
  double start_seconds() const { return start_seconds_; }

  // The hub's options: every node, the hub certificate, the given durable consumer.
  engine::EngineOptions HubOptions(const std::string& durable = "hub") const;

  // scripts/cluster kill / restart NODE (1 to 3); restart returns once the node reports healthy.
  void Kill(int node);
  void Restart(int node);
  // A node's log so far (nN.log).
  std::string Log(int node) const;

  // mosquitto_pub -V mqttv311 -q 1 with `gateway`'s client certificate through `node`'s MQTT port; -d
  // output in the result (its PUBACK line).
  CommandResult MqttPublish(const std::string& gateway, const std::string& topic, const std::string& payload,
                            int node = 1, bool retain = false, const std::string& version = "mqttv311") const;
  // mosquitto_sub -V mqttv311 -q QOS -c (a persistent session) with `gateway`'s certificate; prints
  // "<topic> <payload>" per message and its -d debug lines; exits after `count` messages.
  Process MqttSubscribe(const std::string& gateway, const std::string& client_id, const std::string& topic,
                        int count, int node = 1, int qos = 1) const;

 private:
  TestCluster();
  std::vector<std::string> GatewayTls(const std::string& gateway) const;
  TempDir pki_directory_;
  TempDir directory_;
  std::filesystem::path pki_;
  std::map<std::string, std::string> ports_;
  double start_seconds_ = 0;
};

// A publisher of gateway subjects over the NATS protocol with JetStream acknowledgements (the cluster's
// test-only user): what "the stream acknowledged it" means, without MQTT in between.
class TestPublisher {
 public:
  TestPublisher();
  ~TestPublisher();
  TestPublisher(const TestPublisher&) = delete;
  TestPublisher& operator=(const TestPublisher&) = delete;
  // The stream sequence once the stream acknowledged it; nothing after a failure (no leader, timeout).
  std::optional<std::uint64_t> Publish(const std::string& subject, const std::string& payload,
                                       const std::string& message_id = "");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ehg::test
