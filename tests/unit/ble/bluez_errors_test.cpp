#include "devices/ble/bluez_errors.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using ehg::devices::ble::ExplainBluezError;
using ehg::devices::ble::ExplainedError;

namespace {

struct Case {
  std::string name;
  std::string message;
  std::string says;  // a phrase the sentence must contain: what it means or what to do
  bool needs_action;
};

// Every error name and connection reason the gateway can meet, with what the installer must read.
const std::vector<Case> kCases{
    // Connect: a device asleep between measurements, switched off or out of range.
    {"org.bluez.Error.Failed", "le-connection-abort-by-local", "did not answer", false},
    {"org.bluez.Error.Failed", "le-connection-timeout", "did not answer", false},
    {"org.bluez.Error.Failed", "br-connection-page-timeout", "did not answer", false},
    {"org.bluez.Error.Failed", "Page Timeout", "did not answer", false},
    {"org.bluez.Error.ConnectionAttemptFailed", "Page Timeout", "did not answer", false},
    {"org.bluez.Error.Failed", "le-connection-abort-by-remote", "ended the connection", false},
    {"org.bluez.Error.Failed", "br-connection-abort-by-remote", "ended the connection", false},
    {"org.bluez.Error.Failed", "le-connection-busy", "busy", false},
    {"org.bluez.Error.Failed", "le-connection-concurrent-connection-limit", "busy", false},
    {"org.bluez.Error.Failed", "le-connection-refused", "pair it again", true},
    {"org.bluez.Error.Failed", "le-connection-adapter-not-powered", "adapter is off", true},
    {"org.bluez.Error.Failed", "br-connection-not-powered", "adapter is off", true},
    {"org.bluez.Error.Failed", "le-connection-not-supported", "profile in the config", true},
    {"org.bluez.Error.Failed", "le-connection-profile-unavailable", "profile in the config", true},
    {"org.bluez.Error.Failed", "le-connection-already-connected", "already connected", false},
    {"org.bluez.Error.Failed", "le-connection-link-layer-protocol-error", "failed partway", false},
    {"org.bluez.Error.Failed", "le-connection-gatt-browsing", "failed partway", false},
    {"org.bluez.Error.Failed", "le-connection-unknown", "failed partway", false},
    {"org.bluez.Error.Failed", "Not connected", "failed partway", false},
    {"org.bluez.Error.Failed", "", "failed partway", false},
    {"org.bluez.Error.InProgress", "In Progress", "already being made", false},
    {"org.bluez.Error.AlreadyConnected", "Already Connected", "already connected", false},
    {"org.bluez.Error.AlreadyExists", "Already Exists", "already connected", false},
    {"org.bluez.Error.NotReady", "Resource Not Ready", "adapter is off", true},
    {"org.bluez.Error.DoesNotExist", "Does Not Exist", "has not seen the device", false},
    {"org.freedesktop.DBus.Error.UnknownObject", "Unknown object", "has not seen the device", false},
    // Pairing and bonds: someone has to act.
    {"org.bluez.Error.AuthenticationFailed", "Authentication Failed", "Pairing failed", true},
    {"org.bluez.Error.AuthenticationCanceled", "Authentication Canceled", "cancelled", true},
    {"org.bluez.Error.AuthenticationRejected", "Authentication Rejected", "rejected pairing", true},
    {"org.bluez.Error.AuthenticationTimeout", "Authentication Timeout", "took too long", true},
    {"org.bluez.Error.NotPermitted", "Insufficient Authentication", "pair it with", true},
    {"org.bluez.Error.NotAuthorized", "Not Authorized", "pair it with", true},
    {"org.bluez.Error.NotSupported", "Operation is not supported", "profile in the config", true},
    {"org.bluez.Error.NotAvailable", "Operation currently not available", "profile in the config", true},
    // A request the device refused.
    {"org.bluez.Error.InvalidArguments", "Invalid arguments in method call", "firmware", false},
    {"org.bluez.Error.InvalidValueLength", "Invalid Value Length", "firmware", false},
    {"org.bluez.Error.InvalidOffset", "Invalid offset", "firmware", false},
    // The bus: our call timed out, bluetoothd is not there, the policy forbids us.
    {"org.freedesktop.DBus.Error.NoReply", "Did not receive a reply", "No answer in time", false},
    {"org.freedesktop.DBus.Error.Timeout", "Connection timed out", "No answer in time", false},
    {"org.freedesktop.DBus.Error.TimedOut", "Timed out", "No answer in time", false},
    {"org.freedesktop.DBus.Error.ServiceUnknown", "The name org.bluez was not provided",
     "systemctl start bluetooth", true},
    {"org.freedesktop.DBus.Error.NameHasNoOwner", "", "systemctl start bluetooth", true},
    {"org.freedesktop.DBus.Error.AccessDenied", "Rejected send message", "permissions", true},
    // Names it does not know: the technical detail carries them.
    {"org.bluez.Error.SomethingNew", "", "technical detail", false},
    {"org.freedesktop.DBus.Error.Failed", "", "technical detail", false},
    {"com.example.Error", "le-connection-abort-by-local", "technical detail", false},
    {"", "", "technical detail", false},
};

}  // namespace

TEST_CASE("Every BlueZ error the gateway meets reads as what it means and what to do") {
  for (const Case& known : kCases) {
    INFO(known.name, " / ", known.message);
    const ExplainedError explained = ExplainBluezError(known.name, known.message);
    CHECK(explained.text.find(known.says) != std::string::npos);
    CHECK(explained.needs_action == known.needs_action);
    // Plain words: no D-Bus name, no BlueZ reason code, a sentence that ends.
    CHECK(explained.text.find("org.") == std::string::npos);
    CHECK(explained.text.find("le-connection") == std::string::npos);
    CHECK(explained.text.find("Error") == std::string::npos);
    CHECK(explained.text.ends_with("."));
    CHECK(explained.text.size() < 220);
  }
}
