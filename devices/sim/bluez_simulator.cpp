#include "devices/sim/bluez_simulator.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "devices/ble/bluez_dbus.hpp"
#include "devices/ble/bus_loop.hpp"
#include "devices/ble_profiles/bthome.hpp"
#include "devices/ble_profiles/profiles.hpp"
#include "devices/ble_profiles/racp.hpp"
#include "devices/sim/gatt_frames.hpp"
#include "gateway/core/log.hpp"

namespace ehg::devices::sim {
namespace {

using namespace std::chrono_literals;
using ble::BusLoop;
namespace bluez = ble::bluez;
namespace uuid = ble::uuid;
using Bytes = std::vector<std::uint8_t>;

core::CivilTime CivilOf(core::WallTime time) {
  return core::ToCivilTime(time.time_since_epoch());
}

struct CharacteristicSpec {
  std::uint16_t uuid16;
  std::vector<std::string> flags;
};

struct ServiceSpec {
  std::uint16_t uuid16;
  std::vector<CharacteristicSpec> characteristics;
};

std::vector<ServiceSpec> GattLayout(const VirtualBleDevice& device) {
  std::vector<ServiceSpec> services;
  const std::string& p = device.profile;
  if (p == "blood_pressure") {
    services.push_back(
        {uuid::kBloodPressureService, {{uuid::kBloodPressureMeasurement, {"indicate"}}, {0x2A49, {"read"}}}});
  } else if (p == "thermometer") {
    services.push_back({uuid::kHealthThermometerService, {{uuid::kTemperatureMeasurement, {"indicate"}}}});
  } else if (p == "heart_rate") {
    services.push_back({uuid::kHeartRateService, {{uuid::kHeartRateMeasurement, {"notify"}}}});
  } else if (p == "pulse_oximeter") {
    services.push_back(
        {uuid::kPulseOximeterService,
         {{uuid::kPlxContinuous, {"notify"}}, {uuid::kPlxSpotCheck, {"indicate"}}, {0x2A60, {"read"}}}});
  } else if (p == "weight_scale") {
    services.push_back(
        {uuid::kWeightScaleService, {{uuid::kWeightMeasurement, {"indicate"}}, {0x2A9E, {"read"}}}});
  } else if (p == "glucose") {
    services.push_back({uuid::kGlucoseService,
                        {{uuid::kGlucoseMeasurement, {"notify"}},
                         {uuid::kGlucoseContext, {"notify"}},
                         {0x2A51, {"read"}},
                         {uuid::kRecordAccessControlPoint, {"write", "indicate"}}}});
  } else {
    return services;  // BTHome sensors only advertise
  }
  if (device.has_current_time) {
    services.push_back({uuid::kCurrentTimeService, {{uuid::kCurrentTime, {"read", "write", "notify"}}}});
  }
  services.push_back({uuid::kDeviceInformationService,
                      {{uuid::kManufacturerName, {"read"}},
                       {uuid::kModelNumber, {"read"}},
                       {uuid::kFirmwareRevision, {"read"}}}});
  return services;
}

}  // namespace

struct BluezSimulator::Impl {
  struct Characteristic {
    std::uint16_t uuid16 = 0;
    std::string path;
    std::vector<std::string> flags;
    Bytes value;
    bool notifying = false;
    std::unique_ptr<sdbus::IObject> object;
  };

  struct Device {
    VirtualBleDevice spec;
    std::string path;
    std::unique_ptr<sdbus::IObject> object;
    bool connected = false;
    bool resolved = false;
    bool paired = false;
    bool trusted = false;
    std::int16_t rssi = -60;
    std::map<std::string, sdbus::Variant> service_data;
    std::vector<std::unique_ptr<sdbus::IObject>> services;
    std::vector<std::unique_ptr<Characteristic>> characteristics;
    std::deque<Bytes> queued;  // measurements waiting for a subscriber
    Bytes last_sent;
    std::map<std::uint16_t, std::pair<double, core::CivilTime>> records;  // glucose memory by sequence
    std::optional<std::pair<double, double>> stream;
    std::uint32_t bthome_counter = 1000;
    std::uint8_t packet_id = 0;
    std::uint64_t generation = 0;
    VirtualDeviceLog log;
  };

  struct Agent {
    std::string owner;
    std::string path;
    std::string capability;
  };

  Options options;
  std::unique_ptr<BusLoop> loop;
  std::string adapter_path;
  std::unique_ptr<sdbus::IObject> root;
  std::unique_ptr<sdbus::IObject> agent_manager;
  std::unique_ptr<sdbus::IObject> adapter;
  bool powered = true;
  bool discovering = false;
  std::set<std::string> discovery_clients;  // discovery runs while any client wants it, as in BlueZ
  std::vector<std::unique_ptr<Device>> devices;
  std::vector<Agent> agents;  // the last one that asked is the default
  std::unique_ptr<sdbus::IProxy> agent_proxy;
  std::mt19937 random{7};

  explicit Impl(Options o) : options(std::move(o)), adapter_path("/org/bluez/" + options.adapter) {}

  Device* Find(const std::string& address) {
    for (auto& device : devices) {
      if (device->spec.address == address) return device.get();
    }
    return nullptr;
  }

  core::CivilTime DeviceClock(const Device& device) const {
    return CivilOf(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) +
                   device.spec.clock_error);
  }

  // ---- adapter and agents --------------------------------------------------------------------------

  void ExportRoot() {
    sdbus::IConnection& connection = loop->connection();
    root = sdbus::createObject(connection, "/");
    root->addObjectManager();
    root->finishRegistration();

    agent_manager = sdbus::createObject(connection, "/org/bluez");
    agent_manager->registerMethod("RegisterAgent")
        .onInterface(bluez::kAgentManager)
        .implementedAs([this](const sdbus::ObjectPath& path, const std::string& capability) {
          const std::string owner = agent_manager->getCurrentlyProcessedMessage()->getSender();
          for (const Agent& agent : agents) {
            if (agent.owner == owner && agent.path == path) {
              throw sdbus::Error("org.bluez.Error.AlreadyExists", "Already Exists");
            }
          }
          agents.insert(agents.begin(), Agent{owner, path, capability});
        });
    agent_manager->registerMethod("UnregisterAgent")
        .onInterface(bluez::kAgentManager)
        .implementedAs([this](const sdbus::ObjectPath& path) {
          const std::string owner = agent_manager->getCurrentlyProcessedMessage()->getSender();
          std::erase_if(agents,
                        [&](const Agent& agent) { return agent.owner == owner && agent.path == path; });
        });
    agent_manager->registerMethod("RequestDefaultAgent")
        .onInterface(bluez::kAgentManager)
        .implementedAs([this](const sdbus::ObjectPath& path) {
          const std::string owner = agent_manager->getCurrentlyProcessedMessage()->getSender();
          auto found = std::find_if(agents.begin(), agents.end(), [&](const Agent& agent) {
            return agent.owner == owner && agent.path == path;
          });
          if (found == agents.end()) throw sdbus::Error("org.bluez.Error.DoesNotExist", "Does Not Exist");
          Agent agent = *found;
          agents.erase(found);
          agents.push_back(agent);
        });
    agent_manager->finishRegistration();

    adapter = sdbus::createObject(connection, adapter_path);
    adapter->registerProperty("Address").onInterface(bluez::kAdapter).withGetter([this] {
      return options.adapter_address;
    });
    adapter->registerProperty("AddressType").onInterface(bluez::kAdapter).withGetter([] {
      return std::string("public");
    });
    adapter->registerProperty("Name").onInterface(bluez::kAdapter).withGetter([] {
      return std::string("ehealth-gateway");
    });
    adapter->registerProperty("Alias").onInterface(bluez::kAdapter).withGetter([] {
      return std::string("ehealth-gateway");
    });
    adapter->registerProperty("Powered")
        .onInterface(bluez::kAdapter)
        .withGetter([this] { return powered; })
        .withSetter([this](const bool& on) { loop->Post([this, on] { ApplyPowered(on); }); });
    adapter->registerProperty("Discovering").onInterface(bluez::kAdapter).withGetter([this] {
      return discovering;
    });
    adapter->registerProperty("UUIDs").onInterface(bluez::kAdapter).withGetter([] {
      return std::vector<std::string>{};
    });
    adapter->registerMethod("SetDiscoveryFilter")
        .onInterface(bluez::kAdapter)
        .implementedAs([this](const std::map<std::string, sdbus::Variant>& filter) {
          for (const auto& [key, value] : filter) {
            if (key != "UUIDs" && key != "RSSI" && key != "Pathloss" && key != "Transport" &&
                key != "DuplicateData" && key != "Discoverable" && key != "Pattern")
              throw sdbus::Error("org.bluez.Error.InvalidArguments", "Invalid arguments in method call");
            (void)value;
          }
          if (!powered) throw sdbus::Error("org.bluez.Error.NotReady", "Resource Not Ready");
        });
    adapter->registerMethod("StartDiscovery").onInterface(bluez::kAdapter).implementedAs([this] {
      if (!powered) throw sdbus::Error("org.bluez.Error.NotReady", "Resource Not Ready");
      const std::string client = adapter->getCurrentlyProcessedMessage()->getSender();
      if (!discovery_clients.insert(client).second)
        throw sdbus::Error("org.bluez.Error.InProgress", "Operation already in progress");
      SetDiscovering(true);
    });
    adapter->registerMethod("StopDiscovery").onInterface(bluez::kAdapter).implementedAs([this] {
      const std::string client = adapter->getCurrentlyProcessedMessage()->getSender();
      if (discovery_clients.erase(client) == 0)
        throw sdbus::Error("org.bluez.Error.Failed", "No discovery started");
      if (discovery_clients.empty()) SetDiscovering(false);
    });
    adapter->registerMethod("RemoveDevice")
        .onInterface(bluez::kAdapter)
        .implementedAs([this](const sdbus::ObjectPath& path) {
          for (auto& device : devices) {
            if (device->path == path) {
              Unexport(*device);
              device->paired = false;
              device->spec.bonded = false;
              return;
            }
          }
          throw sdbus::Error("org.bluez.Error.DoesNotExist", "Does Not Exist");
        });
    adapter->finishRegistration();
    adapter->emitInterfacesAddedSignal();
  }

  void SetDiscovering(bool on) {
    if (discovering == on) return;
    discovering = on;
    adapter->emitPropertiesChangedSignal(bluez::kAdapter, {"Discovering"});
  }

  void ApplyPowered(bool on) {
    if (powered == on) return;
    powered = on;
    if (!on) {
      discovery_clients.clear();
      SetDiscovering(false);
      for (auto& device : devices)
        DropConnection(*device);
    }
    adapter->emitPropertiesChangedSignal(bluez::kAdapter, {"Powered"});
  }

  // Calls a method of the default agent; `done` gets the error name (empty on success) and the reply's
  // values (`Results`: none for a yes/no question, the passkey for RequestPasskey).
  template <typename... Results, typename Done>
  void AskAgent(Device& device, const char* method, Done done) {
    device.log.agent_calls.emplace_back(method);
    if (agents.empty()) {
      done(std::string("org.bluez.Error.AuthenticationFailed"), Results{}...);
      return;
    }
    const Agent agent = agents.back();
    agent_proxy = sdbus::createProxy(loop->connection(), agent.owner, agent.path);
    agent_proxy->callMethodAsync(method)
        .onInterface(bluez::kAgent)
        .withArguments(sdbus::ObjectPath(device.path))
        .withTimeout(60s)
        .uponReplyInvoke([done](const sdbus::Error* error, Results... results) {
          done(error != nullptr ? error->getName() : std::string(), results...);
        });
  }

  // ---- devices --------------------------------------------------------------------------------------

  void SetPaired(Device& device) {
    device.paired = true;
    device.log.paired = true;
    if (device.object) device.object->emitPropertiesChangedSignal(bluez::kDevice, {"Paired", "Bonded"});
  }

  void Export(Device& device) {
    if (device.object) return;
    auto object = sdbus::createObject(loop->connection(), device.path);
    Device* d = &device;
    object->registerProperty("Address").onInterface(bluez::kDevice).withGetter([d] {
      return d->spec.address;
    });
    object->registerProperty("AddressType").onInterface(bluez::kDevice).withGetter([] {
      return std::string("public");
    });
    object->registerProperty("Name").onInterface(bluez::kDevice).withGetter([d] { return d->spec.name; });
    object->registerProperty("Alias").onInterface(bluez::kDevice).withGetter([d] { return d->spec.name; });
    object->registerProperty("Adapter").onInterface(bluez::kDevice).withGetter([this] {
      return sdbus::ObjectPath(adapter_path);
    });
    object->registerProperty("Paired").onInterface(bluez::kDevice).withGetter([d] { return d->paired; });
    object->registerProperty("Bonded").onInterface(bluez::kDevice).withGetter([d] { return d->paired; });
    object->registerProperty("Trusted")
        .onInterface(bluez::kDevice)
        .withGetter([d] { return d->trusted; })
        .withSetter([this, d](const bool& trusted) {
          d->trusted = trusted;
          d->log.trusted = trusted;
          loop->Post([d] {
            if (d->object) d->object->emitPropertiesChangedSignal(bluez::kDevice, {"Trusted"});
          });
        });
    object->registerProperty("Blocked").onInterface(bluez::kDevice).withGetter([] { return false; });
    object->registerProperty("Connected").onInterface(bluez::kDevice).withGetter([d] {
      return d->connected;
    });
    object->registerProperty("ServicesResolved").onInterface(bluez::kDevice).withGetter([d] {
      return d->resolved;
    });
    object->registerProperty("RSSI").onInterface(bluez::kDevice).withGetter([d] { return d->rssi; });
    object->registerProperty("UUIDs").onInterface(bluez::kDevice).withGetter([d] {
      std::vector<std::string> uuids;
      for (const ServiceSpec& service : GattLayout(d->spec))
        uuids.push_back(ble::Uuid128(service.uuid16));
      if (d->spec.profile == "bthome") uuids.push_back(ble::Uuid128(uuid::kBthomeServiceData));
      return uuids;
    });
    object->registerProperty("ServiceData").onInterface(bluez::kDevice).withGetter([d] {
      return d->service_data;
    });
    object->registerMethod("Connect")
        .onInterface(bluez::kDevice)
        .implementedAs([this, d](sdbus::Result<>&& result) { OnConnect(*d, std::move(result)); });
    object->registerMethod("Disconnect").onInterface(bluez::kDevice).implementedAs([this, d] {
      loop->Post([this, d] { DropConnection(*d); });
    });
    object->registerMethod("Pair")
        .onInterface(bluez::kDevice)
        .implementedAs([this, d](sdbus::Result<>&& result) { OnPair(*d, std::move(result)); });
    object->registerMethod("CancelPairing").onInterface(bluez::kDevice).implementedAs([] {});
    if (device.spec.profile != "bthome") {
      object->registerProperty("Percentage").onInterface(bluez::kBattery).withGetter([d] {
        return d->spec.battery;
      });
    }
    object->finishRegistration();
    device.object = std::move(object);
    device.object->emitInterfacesAddedSignal();
  }

  void Unexport(Device& device) {
    DropConnection(device);
    if (!device.object) return;
    device.object->emitInterfacesRemovedSignal();
    device.object.reset();
  }

  void OnConnect(Device& device, sdbus::Result<>&& result) {
    if (!powered) {
      result.returnError(sdbus::Error("org.bluez.Error.NotReady", "Resource Not Ready"));
      return;
    }
    if (device.connected) {
      result.returnResults();
      return;
    }
    const bool asleep = device.spec.disconnect_after_measurement && device.queued.empty();
    if (!device.spec.in_range || asleep || device.spec.profile == "bthome") {
      // A device that is not listening: the controller gives up after its connection timeout.
      auto pending = std::make_shared<sdbus::Result<>>(std::move(result));
      loop->PostAfter(300ms, [pending] {
        pending->returnError(sdbus::Error("org.bluez.Error.Failed", "le-connection-abort-by-local"));
      });
      return;
    }
    device.connected = true;
    ++device.log.connects;
    const std::uint64_t generation = ++device.generation;
    device.object->emitPropertiesChangedSignal(bluez::kDevice, {"Connected"});
    result.returnResults();
    Device* d = &device;
    loop->PostAfter(50ms, [this, d, generation] {
      if (!d->connected || d->generation != generation) return;
      ExportGatt(*d);
      d->resolved = true;
      d->object->emitPropertiesChangedSignal(bluez::kDevice, {"ServicesResolved"});
    });
  }

  void OnPair(Device& device, sdbus::Result<>&& result) {
    if (device.paired) {
      result.returnError(sdbus::Error("org.bluez.Error.AlreadyExists", "Already Exists"));
      return;
    }
    if (!device.spec.in_range || !powered) {
      result.returnError(sdbus::Error("org.bluez.Error.ConnectionAttemptFailed", "Page Timeout"));
      return;
    }
    auto pending = std::make_shared<sdbus::Result<>>(std::move(result));
    Device* d = &device;
    if (device.spec.pairing == "passkey") {
      AskAgent<std::uint32_t>(
          device, "RequestPasskey", [this, d, pending](const std::string& error, std::uint32_t passkey) {
            if (!error.empty()) {
              pending->returnError(
                  sdbus::Error("org.bluez.Error.AuthenticationCanceled", "Authentication Canceled"));
            } else if (passkey != d->spec.passkey) {
              pending->returnError(
                  sdbus::Error("org.bluez.Error.AuthenticationFailed", "Authentication Failed"));
            } else {
              SetPaired(*d);
              pending->returnResults();
            }
          });
      return;
    }
    SetPaired(device);  // Just Works from our side: no question for the user
    pending->returnResults();
  }

  void ExportGatt(Device& device) {
    unsigned handle = 0x0010;
    Device* d = &device;
    char name[16];
    for (const ServiceSpec& service : GattLayout(device.spec)) {
      std::snprintf(name, sizeof name, "/service%04x", handle);
      const std::string service_path = device.path + name;
      auto service_object = sdbus::createObject(loop->connection(), service_path);
      const std::uint16_t service_handle = static_cast<std::uint16_t>(handle);
      service_object->registerProperty("UUID").onInterface(bluez::kGattService).withGetter([uuid16 = service.uuid16] {
        return ble::Uuid128(uuid16);
      });
      service_object->registerProperty("Primary").onInterface(bluez::kGattService).withGetter([] {
        return true;
      });
      service_object->registerProperty("Device").onInterface(bluez::kGattService).withGetter([d] {
        return sdbus::ObjectPath(d->path);
      });
      service_object->registerProperty("Handle")
          .onInterface(bluez::kGattService)
          .withGetter([service_handle] { return service_handle; });
      service_object->finishRegistration();
      service_object->emitInterfacesAddedSignal();
      device.services.push_back(std::move(service_object));
      ++handle;
      for (const CharacteristicSpec& spec : service.characteristics) {
        auto characteristic = std::make_unique<Characteristic>();
        characteristic->uuid16 = spec.uuid16;
        characteristic->flags = spec.flags;
        std::snprintf(name, sizeof name, "/char%04x", handle);
        characteristic->path = service_path + name;
        handle += 2;  // value handle and its descriptor
        Characteristic* c = characteristic.get();
        auto object = sdbus::createObject(loop->connection(), c->path);
        object->registerProperty("UUID").onInterface(bluez::kCharacteristic).withGetter([c] {
          return ble::Uuid128(c->uuid16);
        });
        object->registerProperty("Service").onInterface(bluez::kCharacteristic).withGetter([service_path] {
          return sdbus::ObjectPath(service_path);
        });
        object->registerProperty("Value").onInterface(bluez::kCharacteristic).withGetter([c] {
          return c->value;
        });
        object->registerProperty("Notifying").onInterface(bluez::kCharacteristic).withGetter([c] {
          return c->notifying;
        });
        object->registerProperty("Flags").onInterface(bluez::kCharacteristic).withGetter([c] {
          return c->flags;
        });
        object->registerMethod("ReadValue")
            .onInterface(bluez::kCharacteristic)
            .implementedAs(
                [this, d, c](const std::map<std::string, sdbus::Variant>&) { return ReadValue(*d, *c); });
        object->registerMethod("WriteValue")
            .onInterface(bluez::kCharacteristic)
            .implementedAs([this, d, c](const Bytes& value, const std::map<std::string, sdbus::Variant>&) {
              WriteValue(*d, *c, value);
            });
        object->registerMethod("StartNotify")
            .onInterface(bluez::kCharacteristic)
            .implementedAs(
                [this, d, c](sdbus::Result<>&& result) { StartNotify(*d, *c, std::move(result)); });
        object->registerMethod("StopNotify").onInterface(bluez::kCharacteristic).implementedAs([c] {
          c->notifying = false;
        });
        object->finishRegistration();
        object->emitInterfacesAddedSignal();
        c->object = std::move(object);
        device.characteristics.push_back(std::move(characteristic));
      }
    }
  }

  void UnexportGatt(Device& device) {
    for (auto& characteristic : device.characteristics)
      characteristic->object->emitInterfacesRemovedSignal();
    device.characteristics.clear();
    for (auto& service : device.services)
      service->emitInterfacesRemovedSignal();
    device.services.clear();
  }

  void DropConnection(Device& device) {
    if (!device.connected) return;
    device.connected = false;
    device.resolved = false;
    ++device.generation;
    ++device.log.disconnects;
    UnexportGatt(device);
    if (device.object)
      device.object->emitPropertiesChangedSignal(bluez::kDevice, {"ServicesResolved", "Connected"});
  }

  Characteristic* CharacteristicOf(Device& device, std::uint16_t uuid16) {
    for (auto& characteristic : device.characteristics) {
      if (characteristic->uuid16 == uuid16) return characteristic.get();
    }
    return nullptr;
  }

  Bytes ReadValue(Device& device, Characteristic& characteristic) {
    switch (characteristic.uuid16) {
      case uuid::kManufacturerName:
        return Bytes{'S', 'i', 'm', 'u', 'l', 'a', 't', 'e', 'd'};
      case uuid::kModelNumber: {
        const std::string model = device.spec.name;
        return Bytes(model.begin(), model.end());
      }
      case uuid::kFirmwareRevision:
        return Bytes{'1', '.', '0'};
      case uuid::kCurrentTime:
        return ble::EncodeCurrentTime(DeviceClock(device), 0, 0);
      default:
        return characteristic.value;
    }
  }

  void Send(Device& device, Characteristic& characteristic, Bytes value) {
    characteristic.value = std::move(value);
    ++device.log.notifications;
    characteristic.object->emitPropertiesChangedSignal(bluez::kCharacteristic, {"Value"});
  }

  void StartNotify(Device& device, Characteristic& characteristic, sdbus::Result<>&& result) {
    const bool needs_bond = device.spec.pairing != "none" && characteristic.uuid16 != uuid::kCurrentTime;
    if (needs_bond && !device.paired) {
      if (device.spec.pairing == "passkey") {
        result.returnError(sdbus::Error("org.bluez.Error.NotPermitted", "Insufficient Authentication"));
        return;
      }
      // Just Works started by the device: BlueZ asks the default agent to authorize it, and the
      // subscription completes once the link is encrypted.
      auto pending = std::make_shared<sdbus::Result<>>(std::move(result));
      Device* d = &device;
      Characteristic* c = &characteristic;
      const std::uint64_t generation = device.generation;
      AskAgent<>(device, "RequestAuthorization", [this, d, c, generation, pending](const std::string& error) {
        if (d->generation != generation) {
          pending->returnError(sdbus::Error("org.bluez.Error.Failed", "Not connected"));
        } else if (!error.empty()) {
          pending->returnError(sdbus::Error("org.bluez.Error.NotPermitted", "Insufficient Authentication"));
        } else {
          SetPaired(*d);
          Subscribed(*d, *c);
          pending->returnResults();
        }
      });
      return;
    }
    Subscribed(device, characteristic);
    result.returnResults();
  }

  void Subscribed(Device& device, Characteristic& characteristic) {
    characteristic.notifying = true;
    characteristic.object->emitPropertiesChangedSignal(bluez::kCharacteristic, {"Notifying"});
    ScheduleDelivery(device);
  }

  // Queued measurements go out once the measurement characteristic is subscribed; a device that hangs up
  // after measuring does so a little later, when the gateway has had time to set its clock.
  void ScheduleDelivery(Device& device) {
    Device* d = &device;
    const std::uint64_t generation = device.generation;
    loop->PostAfter(100ms, [this, d, generation] {
      if (d->generation != generation || !d->connected) return;
      Characteristic* target = nullptr;
      for (auto& characteristic : d->characteristics) {
        const auto id = characteristic->uuid16;
        if (characteristic->notifying &&
            (id == uuid::kBloodPressureMeasurement || id == uuid::kTemperatureMeasurement ||
             id == uuid::kWeightMeasurement || id == uuid::kPlxSpotCheck))
          target = characteristic.get();
      }
      if (target == nullptr) return;
      while (!d->queued.empty()) {
        d->last_sent = d->queued.front();
        Send(*d, *target, d->queued.front());
        d->queued.pop_front();
      }
      if (d->spec.disconnect_after_measurement) {
        loop->PostAfter(400ms, [this, d, generation] {
          if (d->generation == generation) DropConnection(*d);
        });
      }
    });
  }

  void WriteValue(Device& device, Characteristic& characteristic, const Bytes& value) {
    if (characteristic.uuid16 == uuid::kCurrentTime || characteristic.uuid16 == uuid::kDateTime) {
      if (value.size() < 7) throw sdbus::Error("org.bluez.Error.InvalidValueLength", "Invalid Value Length");
      device.log.time_writes.push_back(value);
      device.spec.clock_error = std::chrono::minutes{0};
      return;
    }
    if (characteristic.uuid16 != uuid::kRecordAccessControlPoint) {
      throw sdbus::Error("org.bluez.Error.NotPermitted", "Write not permitted");
    }
    device.log.record_requests.push_back(value);
    Characteristic* measurement = CharacteristicOf(device, uuid::kGlucoseMeasurement);
    if (!characteristic.notifying || measurement == nullptr || !measurement->notifying) {
      throw sdbus::Error("org.bluez.Error.Failed",
                         "Client Characteristic Configuration Descriptor Improperly Configured (0x81)");
    }
    auto request = ble::racp::ParseRequest(value);
    if (!request) throw sdbus::Error("org.bluez.Error.InvalidValueLength", "Invalid Value Length");
    std::vector<std::uint16_t> selected;
    std::uint8_t code = 0x01;
    if (request->op == ble::racp::OpCode::kAbort) {
      QueueRacp(device, gatt::RacpResponse(0x03, 0x01), {}, true);
      return;
    }
    if (request->op != ble::racp::OpCode::kReportRecords &&
        request->op != ble::racp::OpCode::kReportNumberOfRecords) {
      QueueRacp(device, gatt::RacpResponse(static_cast<std::uint8_t>(request->op), 0x02), {});
      return;
    }
    if (request->op_operator == 0x01) {
      for (const auto& [sequence, record] : device.records)
        selected.push_back(sequence);
    } else if (request->op_operator == 0x03 && request->operand.size() == 3 && request->operand[0] == 0x01) {
      const auto from = static_cast<std::uint16_t>(request->operand[1] | (request->operand[2] << 8));
      for (const auto& [sequence, record] : device.records) {
        if (sequence >= from) selected.push_back(sequence);
      }
    } else {
      QueueRacp(device, gatt::RacpResponse(static_cast<std::uint8_t>(request->op), 0x04), {});
      return;
    }
    if (request->op == ble::racp::OpCode::kReportNumberOfRecords) {
      QueueRacp(device, gatt::RacpCount(static_cast<std::uint16_t>(selected.size())), {});
      return;
    }
    if (selected.empty()) code = 0x06;
    QueueRacp(device, gatt::RacpResponse(0x01, code), selected);
  }

  // Records first (notifications, a little apart), then the response indication.
  void QueueRacp(Device& device, Bytes response, std::vector<std::uint16_t> sequences,
                 bool always_respond = false) {
    Device* d = &device;
    const std::uint64_t generation = device.generation;
    auto delay = 20ms;
    for (const std::uint16_t sequence : sequences) {
      loop->PostAfter(delay, [this, d, generation, sequence] {
        if (d->generation != generation) return;
        const auto& record = d->records.at(sequence);
        if (Characteristic* c = CharacteristicOf(*d, uuid::kGlucoseMeasurement)) {
          Send(*d, *c, gatt::Glucose(sequence, record.first, record.second));
        }
      });
      delay += 10ms;
    }
    if (device.spec.racp_never_completes && !always_respond) return;
    loop->PostAfter(delay + 10ms, [this, d, generation, response] {
      if (d->generation != generation) return;
      if (Characteristic* c = CharacteristicOf(*d, uuid::kRecordAccessControlPoint)) Send(*d, *c, response);
    });
  }

  // ---- radio ----------------------------------------------------------------------------------------

  // Every advertising interval: devices in range that have something to say are seen by a discovering
  // adapter (their object appears, their RSSI changes); streaming devices send their values.
  void Tick() {
    loop->PostAfter(options.advertising_interval, [this] { Tick(); });
    if (!powered) return;
    for (auto& device : devices) {
      Device& d = *device;
      if (d.connected && d.stream) {
        const auto [first, second] = *d.stream;
        if (Characteristic* c = CharacteristicOf(d, uuid::kPlxContinuous); c != nullptr && c->notifying) {
          Send(d, *c, gatt::PlxContinuous(first, second));
        }
        if (Characteristic* c = CharacteristicOf(d, uuid::kHeartRateMeasurement);
            c != nullptr && c->notifying) {
          Send(d, *c, gatt::HeartRate(static_cast<unsigned>(first), {}));
        }
      }
      const bool advertising = d.spec.in_range && !d.connected && d.spec.profile != "bthome" &&
                               (!d.spec.disconnect_after_measurement || !d.queued.empty());
      if (!advertising || !discovering) continue;
      d.rssi = static_cast<std::int16_t>(-50 - static_cast<int>(random() % 20));
      if (!d.object) {
        Export(d);
      } else {
        d.object->emitPropertiesChangedSignal(bluez::kDevice, {"RSSI"});
      }
    }
  }
};

VirtualBleDevice BondedDevice(std::string address, std::string name, std::string profile,
                              bool disconnect_after_measurement) {
  VirtualBleDevice device;
  device.address = std::move(address);
  device.name = std::move(name);
  device.profile = std::move(profile);
  device.bonded = true;
  device.disconnect_after_measurement = disconnect_after_measurement;
  return device;
}

BluezSimulator::BluezSimulator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ehg::Result<std::unique_ptr<BluezSimulator>> BluezSimulator::Start(Options options) {
  auto loop = BusLoop::Connect(options.bus_address, bluez::kService);
  if (!loop) return tl::unexpected(loop.error().WithContext("bluez simulator"));
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->loop = std::move(*loop);
  try {
    impl->ExportRoot();
  } catch (const sdbus::Error& error) {
    return Fail(Errc::kUnavailable, "bluez simulator: " + error.getName() + ": " + error.getMessage());
  }
  impl->loop->Start();
  impl->loop->Post([raw = impl.get()] { raw->Tick(); });
  return std::unique_ptr<BluezSimulator>(new BluezSimulator(std::move(impl)));
}

BluezSimulator::~BluezSimulator() {
  impl_->loop->Stop();
  // Objects and proxies belong to the connection: gone before it closes (which releases org.bluez).
  impl_->agent_proxy.reset();
  impl_->devices.clear();
  impl_->adapter.reset();
  impl_->agent_manager.reset();
  impl_->root.reset();
  impl_->loop.reset();
}

void BluezSimulator::AddDevice(VirtualBleDevice device) {
  impl_->loop->RunAndWait([&] {
    auto added = std::make_unique<Impl::Device>();
    added->spec = std::move(device);
    added->path = bluez::DevicePath(impl_->adapter_path, added->spec.address);
    added->paired = added->spec.bonded;
    added->trusted = added->spec.bonded;
    added->log.paired = added->paired;
    Impl::Device& stored = *added;
    impl_->devices.push_back(std::move(added));
    if (stored.spec.bonded) impl_->Export(stored);  // BlueZ keeps bonded devices across restarts
  });
}

void BluezSimulator::MeasureBloodPressure(const std::string& address, double systolic, double diastolic,
                                          double pulse, std::optional<std::uint8_t> user) {
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) {
      const double mean = std::round(diastolic + (systolic - diastolic) / 3.0);
      device->queued.push_back(
          gatt::BloodPressure(systolic, diastolic, mean, pulse, impl_->DeviceClock(*device), 0, user));
      if (device->connected) impl_->ScheduleDelivery(*device);
    }
  });
}

void BluezSimulator::MeasureTemperature(const std::string& address, double celsius) {
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) {
      device->queued.push_back(gatt::Temperature(celsius, impl_->DeviceClock(*device)));
      if (device->connected) impl_->ScheduleDelivery(*device);
    }
  });
}

void BluezSimulator::MeasureWeight(const std::string& address, double kilograms) {
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) {
      device->queued.push_back(gatt::Weight(kilograms, impl_->DeviceClock(*device)));
      if (device->connected) impl_->ScheduleDelivery(*device);
    }
  });
}

void BluezSimulator::SetStream(const std::string& address, double first, double second) {
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) device->stream = std::make_pair(first, second);
  });
}

void BluezSimulator::RepeatLastMeasurement(const std::string& address) {
  impl_->loop->RunAndWait([&] {
    Impl::Device* device = impl_->Find(address);
    if (device == nullptr || device->last_sent.empty()) return;
    device->queued.push_back(device->last_sent);
    if (device->connected) impl_->ScheduleDelivery(*device);
  });
}

void BluezSimulator::AddGlucoseRecord(const std::string& address, std::uint16_t sequence,
                                      double mmol_per_litre, std::chrono::minutes age) {
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) {
      const auto taken =
          std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) - age +
          device->spec.clock_error;
      device->records[sequence] = {mmol_per_litre, CivilOf(taken)};
    }
  });
}

void BluezSimulator::Advertise(const std::string& address, const std::vector<std::uint8_t>& objects,
                               bool trigger_based) {
  impl_->loop->RunAndWait([&] {
    Impl::Device* device = impl_->Find(address);
    if (device == nullptr || !impl_->powered || !device->spec.in_range) return;
    std::vector<std::uint8_t> plain{0x00, ++device->packet_id};
    plain.insert(plain.end(), objects.begin(), objects.end());
    const std::uint8_t info = static_cast<std::uint8_t>(0x40 | (trigger_based ? 0x04 : 0x00));
    std::vector<std::uint8_t> data;
    if (device->spec.bthome_key) {
      const auto mac = ble::ParseAddress(device->spec.address).value_or(ble::BluetoothAddress{});
      data = ble::EncryptBthome(plain, static_cast<std::uint8_t>(info | 0x01), ++device->bthome_counter,
                                *device->spec.bthome_key, mac);
    } else {
      data.push_back(info);
      data.insert(data.end(), plain.begin(), plain.end());
    }
    device->service_data = {{ble::Uuid128(uuid::kBthomeServiceData), sdbus::Variant(data)}};
    if (!impl_->discovering) return;  // nobody is listening
    if (!device->object) {
      impl_->Export(*device);
    } else {
      device->object->emitPropertiesChangedSignal(bluez::kDevice, {"ServiceData"});
    }
  });
}

void BluezSimulator::SetClockError(const std::string& address, std::chrono::minutes error) {
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) device->spec.clock_error = error;
  });
}

void BluezSimulator::SetPowered(bool powered) {
  impl_->loop->RunAndWait([&] { impl_->ApplyPowered(powered); });
}

void BluezSimulator::DropLink(const std::string& address) {
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) impl_->DropConnection(*device);
  });
}

void BluezSimulator::SetInRange(const std::string& address, bool in_range) {
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) {
      device->spec.in_range = in_range;
      if (!in_range) impl_->DropConnection(*device);
    }
  });
}

VirtualDeviceLog BluezSimulator::Log(const std::string& address) const {
  VirtualDeviceLog log;
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) log = device->log;
  });
  return log;
}

bool BluezSimulator::Discovering() const {
  bool discovering = false;
  impl_->loop->RunAndWait([&] { discovering = impl_->discovering; });
  return discovering;
}

core::CivilTime BluezSimulator::DeviceClock(const std::string& address) const {
  core::CivilTime time;
  impl_->loop->RunAndWait([&] {
    if (Impl::Device* device = impl_->Find(address)) time = impl_->DeviceClock(*device);
  });
  return time;
}

}  // namespace ehg::devices::sim
