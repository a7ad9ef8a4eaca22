#include "tests/support/engine/test_cluster.hpp"

#include <nats/nats.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/made_once.hpp"

namespace ehg::test {
namespace {

std::string ClusterScript() {
  return std::string(EHG_SOURCE_DIR) + "/scripts/cluster";
}

void RunOrThrow(const std::vector<std::string>& argv, const std::string& what) {
  const CommandResult result = RunCommand(argv, std::chrono::seconds(90));
  if (result.exit_code != 0) throw std::runtime_error(what + " failed: " + result.output);
}

}  // namespace

TestCluster& TestCluster::Get() {
  static TestCluster cluster;
  return cluster;
}

TestCluster::TestCluster() : pki_(pki_directory_.path()) {
  CopyTestPki(pki_, {"--engine", kGateway, kOtherGateway});
  const std::filesystem::path gateways = directory_ / "gateways.txt";
  std::ofstream(gateways) << "# tenant gateway-id\n"
                          << kTenant << " " << kGateway << "\n"
                          << kTenant << " " << kOtherGateway << "\n";
  // The small fleet of the fleet simulator's test (ehealth-fleet-sim provision --prefix kFleetPrefix
  // --tenants kTenant,kFleetOtherTenant names them so).
  for (int n = 1; n <= kFleetGateways; ++n)
    std::ofstream(gateways, std::ios::app)
        << (n % 2 == 1 ? kTenant : kFleetOtherTenant) << " " << kFleetPrefix << "0000" << n << "\n";
  const auto started = std::chrono::steady_clock::now();
  RunOrThrow({ClusterScript(), "start", directory_.path().string(), "--pki", pki_.string(), "--gateways",
              gateways.string(), "--test-publisher"},
             "scripts/cluster start");
  start_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::ifstream env(directory_ / "ports.env");
  for (std::string line; std::getline(env, line);) {
    const auto equals = line.find('=');
    if (equals != std::string::npos) ports_[line.substr(0, equals)] = line.substr(equals + 1);
  }
}

TestCluster::~TestCluster() {
  // kill -9, not stop: the store is thrown away with the directory, and a clean JetStream shutdown
  // costs about 1.5 s per test process.
  for (int node = 1; node <= 3; ++node)
    (void)RunCommand({ClusterScript(), "kill", std::to_string(node), directory_.path().string()},
                     std::chrono::seconds(30));
}

std::vector<std::string> TestCluster::Urls() const {
  std::vector<std::string> urls;
  std::stringstream stream(ports_.at("EHG_NATS_URLS"));
  for (std::string url; std::getline(stream, url, ',');)
    urls.push_back(url);
  return urls;
}

int TestCluster::MqttPort(int node) const {
  return std::stoi(ports_.at("EHG_NATS_N" + std::to_string(node) + "_MQTT"));
}

engine::EngineOptions TestCluster::HubOptions(const std::string& durable) const {
  engine::EngineOptions options;
  options.servers = Urls();
  options.ca_file = Pki("ca.crt").string();
  options.cert_file = Pki("hub.crt").string();
  options.key_file = Pki("hub.key").string();
  options.consumer.durable = durable;
  options.ping_interval = std::chrono::milliseconds(1000);  // a wedged connection is replaced within 3 s
  // Small enough for a test machine's disk reservation, large enough for every test.
  options.stream.max_bytes = std::int64_t{256} * 1024 * 1024;
  return options;
}

void TestCluster::Kill(int node) {
  RunOrThrow({ClusterScript(), "kill", std::to_string(node), directory_.path().string()},
             "scripts/cluster kill");
}

void TestCluster::Restart(int node) {
  RunOrThrow({ClusterScript(), "restart", std::to_string(node), directory_.path().string()},
             "scripts/cluster restart");
}

std::string TestCluster::Log(int node) const {
  std::ifstream file(directory_ / ("n" + std::to_string(node) + ".log"));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> TestCluster::GatewayTls(const std::string& gateway) const {
  const std::string stem = gateway == kGateway ? "gateway" : "gateway-" + gateway;
  return {"--cafile", Pki("ca.crt").string(),     "--cert", Pki(stem + ".crt").string(),
          "--key",    Pki(stem + ".key").string()};
}

CommandResult TestCluster::MqttPublish(const std::string& gateway, const std::string& topic,
                                       const std::string& payload, int node, bool retain,
                                       const std::string& version) const {
  std::vector<std::string> argv{"/usr/bin/mosquitto_pub",      "-V", version, "-h", "127.0.0.1", "-p",
                                std::to_string(MqttPort(node))};
  for (const std::string& arg : GatewayTls(gateway))
    argv.push_back(arg);
  for (const std::string& arg : {std::string("-i"), "pub-" + gateway, std::string("-q"), std::string("1"),
                                 std::string("-t"), topic, std::string("-m"), payload, std::string("-d")})
    argv.push_back(arg);
  if (retain) argv.emplace_back("-r");
  return RunCommand(argv, std::chrono::seconds(30));
}

Process TestCluster::MqttSubscribe(const std::string& gateway, const std::string& client_id,
                                   const std::string& topic, int count, int node, int qos) const {
  // stdbuf: mosquitto_sub buffers its -d lines in a pipe, the tests wait for them as they come.
  std::vector<std::string> argv{
      "/usr/bin/stdbuf", "-oL", "/usr/bin/mosquitto_sub",      "-V", "mqttv311", "-h",
      "127.0.0.1",       "-p",  std::to_string(MqttPort(node))};
  for (const std::string& arg : GatewayTls(gateway))
    argv.push_back(arg);
  for (const std::string& arg : {std::string("-i"), client_id, std::string("-c"), std::string("-q"),
                                 std::to_string(qos), std::string("-t"), topic, std::string("-v"),
                                 std::string("-d"), std::string("-C"), std::to_string(count)})
    argv.push_back(arg);
  return Process::Start(argv);
}

struct TestPublisher::Impl {
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* jetstream = nullptr;
  ~Impl() {
    if (jetstream != nullptr) jsCtx_Destroy(jetstream);
    if (connection != nullptr) natsConnection_Destroy(connection);
    if (options != nullptr) natsOptions_Destroy(options);
  }
};

TestPublisher::TestPublisher() : impl_(std::make_unique<Impl>()) {
  const TestCluster& cluster = TestCluster::Get();
  std::vector<std::string> urls = cluster.Urls();
  std::vector<const char*> servers;
  for (const std::string& url : urls)
    servers.push_back(url.c_str());
  natsStatus status = natsOptions_Create(&impl_->options);
  if (status == NATS_OK)
    status = natsOptions_SetServers(impl_->options, servers.data(), static_cast<int>(servers.size()));
  if (status == NATS_OK) status = natsOptions_SetSecure(impl_->options, true);
  if (status == NATS_OK)
    status = natsOptions_LoadCATrustedCertificates(impl_->options, cluster.Pki("ca.crt").c_str());
  if (status == NATS_OK)
    status = natsOptions_LoadCertificatesChain(impl_->options, cluster.Pki("publisher.crt").c_str(),
                                               cluster.Pki("publisher.key").c_str());
  if (status == NATS_OK) status = natsOptions_SetMaxReconnect(impl_->options, -1);
  if (status == NATS_OK) status = natsOptions_SetReconnectWait(impl_->options, 50);
  if (status == NATS_OK) status = natsConnection_Connect(&impl_->connection, impl_->options);
  if (status == NATS_OK) status = natsConnection_JetStream(&impl_->jetstream, impl_->connection, nullptr);
  if (status != NATS_OK)
    throw std::runtime_error(std::string("test publisher: ") + natsStatus_GetText(status));
}

TestPublisher::~TestPublisher() = default;

std::optional<std::uint64_t> TestPublisher::Publish(const std::string& subject, const std::string& payload,
                                                    const std::string& message_id) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = 2000;
  if (!message_id.empty()) options.MsgId = message_id.c_str();
  jsPubAck* ack = nullptr;
  jsErrCode error = static_cast<jsErrCode>(0);
  const natsStatus status = js_Publish(&ack, impl_->jetstream, subject.c_str(), payload.data(),
                                       static_cast<int>(payload.size()), &options, &error);
  std::optional<std::uint64_t> sequence;
  if (status == NATS_OK && ack != nullptr) sequence = ack->Sequence;
  if (ack != nullptr) jsPubAck_Destroy(ack);
  return sequence;
}

}  // namespace ehg::test
