#include "devices/ble/pairing_agent.hpp"

#include <future>
#include <thread>

#include "devices/ble/bluez_dbus.hpp"
#include "devices/ble/bus_loop.hpp"
#include "gateway/core/log.hpp"

namespace ehg::devices::ble {
namespace {

using namespace std::chrono_literals;

}  // namespace

std::string AddressOfDevicePath(const std::string& path) {
  const auto at = path.rfind("/dev_");
  if (at == std::string::npos) return {};
  std::string address = path.substr(at + 5);
  if (address.size() != 17) return {};
  for (char& c : address) {
    if (c == '_') c = ':';
  }
  return address;
}

struct PairingAgent::Impl {
  BusLoop& loop;
  AgentPolicy policy;
  std::string capability;
  std::unique_ptr<sdbus::IObject> object;
  std::unique_ptr<sdbus::IProxy> manager;

  Impl(BusLoop& l, AgentPolicy p, std::string c) : loop(l), policy(std::move(p)), capability(std::move(c)) {
    if (!policy.confirm) {
      policy.confirm = [authorize = policy.authorize](const std::string& address, std::uint32_t) {
        return authorize && authorize(address);
      };
    }
  }

  static void Refuse(const std::string& address, const char* what) {
    core::LogWarning("pairing request refused", {{"address", address}, {"request", what}});
    throw sdbus::Error("org.bluez.Error.Rejected", "Rejected");
  }

  void Export() {
    object = sdbus::createObject(loop.connection(), kPath);
    object->registerMethod("Release").onInterface(bluez::kAgent).implementedAs([] {
      core::LogInfo("pairing agent released by BlueZ", {});
    });
    object->registerMethod("RequestPinCode")
        .onInterface(bluez::kAgent)
        .implementedAs([](const sdbus::ObjectPath& device) -> std::string {
          Refuse(AddressOfDevicePath(device), "PIN code (classic Bluetooth)");
          return {};
        });
    object->registerMethod("DisplayPinCode")
        .onInterface(bluez::kAgent)
        .implementedAs([](const sdbus::ObjectPath& device, const std::string&) {
          Refuse(AddressOfDevicePath(device), "display PIN code");
        });
    object->registerMethod("RequestPasskey")
        .onInterface(bluez::kAgent)
        .implementedAs([this](const sdbus::ObjectPath& device) {
          const std::string address = AddressOfDevicePath(device);
          std::optional<std::uint32_t> passkey = policy.passkey ? policy.passkey(address) : std::nullopt;
          if (!passkey) Refuse(address, "passkey entry (pair it with `ehealth-gateway pair`)");
          return *passkey;
        });
    object->registerMethod("DisplayPasskey")
        .onInterface(bluez::kAgent)
        .implementedAs(
            [this](const sdbus::ObjectPath& device, const std::uint32_t& passkey, const std::uint16_t&) {
              if (policy.display) policy.display(AddressOfDevicePath(device), passkey);
            });
    object->registerMethod("RequestConfirmation")
        .onInterface(bluez::kAgent)
        .implementedAs([this](const sdbus::ObjectPath& device, const std::uint32_t& passkey) {
          const std::string address = AddressOfDevicePath(device);
          if (!policy.confirm(address, passkey)) Refuse(address, "numeric comparison");
        });
    object->registerMethod("RequestAuthorization")
        .onInterface(bluez::kAgent)
        .implementedAs([this](const sdbus::ObjectPath& device) {
          const std::string address = AddressOfDevicePath(device);
          if (!policy.authorize || !policy.authorize(address))
            Refuse(address, "authorization of a device not in the configuration");
          core::LogInfo("pairing authorized", {{"address", address}});
        });
    object->registerMethod("AuthorizeService")
        .onInterface(bluez::kAgent)
        .implementedAs([this](const sdbus::ObjectPath& device, const std::string&) {
          const std::string address = AddressOfDevicePath(device);
          if (!policy.authorize || !policy.authorize(address)) Refuse(address, "service authorization");
        });
    object->registerMethod("Cancel").onInterface(bluez::kAgent).implementedAs([] {
      core::LogInfo("pairing request cancelled by BlueZ", {});
    });
    object->finishRegistration();
  }
};

PairingAgent::PairingAgent(BusLoop& loop, AgentPolicy policy, std::string capability)
    : impl_(std::make_unique<Impl>(loop, std::move(policy), std::move(capability))) {
  impl_->Export();
}

PairingAgent::~PairingAgent() = default;

void PairingAgent::Register() {
  Impl& impl = *impl_;
  impl.manager = sdbus::createProxy(impl.loop.connection(), bluez::kService, "/org/bluez");
  impl.manager->callMethodAsync("RegisterAgent")
      .onInterface(bluez::kAgentManager)
      .withArguments(sdbus::ObjectPath(kPath), impl.capability)
      .uponReplyInvoke([&impl](const sdbus::Error* error) {
        if (error != nullptr && error->getName() != "org.bluez.Error.AlreadyExists") {
          core::LogWarning("pairing agent not registered", {{"reason", bluez::ErrorText(*error)}});
          return;
        }
        impl.manager->callMethodAsync("RequestDefaultAgent")
            .onInterface(bluez::kAgentManager)
            .withArguments(sdbus::ObjectPath(kPath))
            .uponReplyInvoke([](const sdbus::Error* default_error) {
              if (default_error != nullptr) {
                core::LogWarning("pairing agent is not the default agent",
                                 {{"reason", bluez::ErrorText(*default_error)}});
              }
            });
      });
}

ehg::Result<void> PairDevice(const PairOptions& options, AgentPolicy policy) {
  auto connected = BusLoop::Connect(options.bus_address);
  if (!connected) return tl::unexpected(connected.error());
  std::unique_ptr<BusLoop> loop = std::move(*connected);
  const std::string adapter_path = "/org/bluez/" + options.adapter;
  const std::string device_path = bluez::DevicePath(adapter_path, options.address);
  std::unique_ptr<PairingAgent> agent;
  std::unique_ptr<sdbus::IProxy> manager, adapter, device;
  std::vector<sdbus::Slot> matches;
  std::atomic<bool> found{false};
  ehg::Result<void> outcome;

  auto cleanup = [&] {
    loop->RunAndWait([&] {
      try {
        if (manager) {
          manager->callMethod("UnregisterAgent")
              .onInterface(bluez::kAgentManager)
              .withArguments(sdbus::ObjectPath(PairingAgent::kPath));
        }
      } catch (const sdbus::Error&) {
      }
    });
    loop->Stop();
    device.reset();
    adapter.reset();
    manager.reset();
    matches.clear();
    agent.reset();
  };

  // Set-up with synchronous calls on the loop thread: nothing else is waiting for it yet.
  loop->Start();
  loop->RunAndWait([&] {
    try {
      agent = std::make_unique<PairingAgent>(*loop, std::move(policy), "KeyboardDisplay");
      manager = sdbus::createProxy(loop->connection(), bluez::kService, "/org/bluez");
      manager->callMethod("RegisterAgent")
          .onInterface(bluez::kAgentManager)
          .withArguments(sdbus::ObjectPath(PairingAgent::kPath), std::string("KeyboardDisplay"));
      manager->callMethod("RequestDefaultAgent")
          .onInterface(bluez::kAgentManager)
          .withArguments(sdbus::ObjectPath(PairingAgent::kPath));
      matches.push_back(loop->connection().addMatch(
          "type='signal',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded',path='/'",
          [&](sdbus::Message& message) {
            sdbus::ObjectPath path;
            message >> path;
            if (path == device_path) found = true;
          }));
      auto root = sdbus::createProxy(loop->connection(), bluez::kService, "/");
      bluez::ManagedObjects objects;
      root->callMethod("GetManagedObjects").onInterface(bluez::kObjectManager).storeResultsTo(objects);
      if (objects.count(sdbus::ObjectPath(device_path)) != 0) found = true;
      adapter = sdbus::createProxy(loop->connection(), bluez::kService, adapter_path);
      if (!found) {
        std::map<std::string, sdbus::Variant> filter{{"Transport", sdbus::Variant(std::string("le"))}};
        adapter->callMethod("SetDiscoveryFilter").onInterface(bluez::kAdapter).withArguments(filter);
        adapter->callMethod("StartDiscovery").onInterface(bluez::kAdapter);
      }
    } catch (const sdbus::Error& error) {
      outcome = Fail(Errc::kUnavailable, "BlueZ: " + bluez::ErrorText(error));
    }
  });
  if (!outcome) {
    cleanup();
    return outcome;
  }

  const auto deadline = std::chrono::steady_clock::now() + options.discovery_timeout;
  while (!found && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  if (!found) {
    cleanup();
    return Fail(Errc::kNotFound, options.address + " was not seen within " +
                                     std::to_string(options.discovery_timeout.count()) +
                                     " s: is it switched on and in pairing mode, and near the gateway?");
  }

  std::promise<ehg::Result<void>> paired;
  loop->RunAndWait([&] {
    try {
      adapter->callMethod("StopDiscovery").onInterface(bluez::kAdapter);
    } catch (const sdbus::Error&) {
      // not discovering: fine
    }
    device = sdbus::createProxy(loop->connection(), bluez::kService, device_path);
    device->callMethodAsync("Pair")
        .onInterface(bluez::kDevice)
        .withTimeout(options.pairing_timeout)
        .uponReplyInvoke([&](const sdbus::Error* error) {
          if (error != nullptr && error->getName() != "org.bluez.Error.AlreadyExists") {
            paired.set_value(Fail(Errc::kRejected, "pairing failed: " + bluez::ErrorText(*error)));
            return;
          }
          try {
            device->setProperty("Trusted").onInterface(bluez::kDevice).toValue(true);
            paired.set_value({});
          } catch (const sdbus::Error& trust_error) {
            paired.set_value(
                Fail(Errc::kRejected, "paired, but not marked trusted: " + bluez::ErrorText(trust_error)));
          }
        });
  });
  outcome = paired.get_future().get();
  cleanup();
  return outcome;
}

}  // namespace ehg::devices::ble
