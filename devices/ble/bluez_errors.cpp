#include "devices/ble/bluez_errors.hpp"

namespace ehg::devices::ble {
namespace {

// The sentences, one per meaning. Each says what happened and what to do, for someone standing in the
// home with the device and a phone; none repeats a D-Bus name.
constexpr std::string_view kNotAnswering =
    "The device did not answer: it is asleep, switched off or out of range. Cuffs, thermometers, scales and "
    "glucose meters sleep between measurements; otherwise bring it closer to the gateway.";
constexpr std::string_view kHungUpExplained =
    "The device ended the connection. Measuring devices do so after sending; if readings stop coming, "
    "check its batteries.";
constexpr std::string_view kBusy =
    "The Bluetooth adapter was busy with another device; the gateway tries again by itself.";
constexpr std::string_view kRefused =
    "The device refused the connection: it may be paired with a phone or another gateway. Clear its "
    "pairing and pair it again with `ehealth-gateway pair`.";
constexpr std::string_view kAdapterOff =
    "The gateway's Bluetooth adapter is off or not ready: check it is plugged in and switched on "
    "(`bluetoothctl show`, `rfkill list`).";
constexpr std::string_view kNotSupported =
    "The device does not offer what the gateway needs over Bluetooth LE: check that the profile in the "
    "config matches the device model.";
constexpr std::string_view kAlreadyConnected = "The device was already connected.";
constexpr std::string_view kLinkFailed =
    "The Bluetooth connection failed partway (interference or a device fault); the gateway tries again. "
    "If it keeps failing, move the device closer or restart it.";
constexpr std::string_view kInProgress =
    "A connection to the device was already being made; the gateway waits for it.";
constexpr std::string_view kUnknownDevice =
    "Bluetooth has not seen the device recently. Take a measurement near the gateway; if it is never "
    "found, check the device address in the config.";
constexpr std::string_view kPairingFailed =
    "Pairing failed: a wrong passkey, or the device has forgotten the gateway. Pair it again with "
    "`ehealth-gateway pair`.";
constexpr std::string_view kPairingCancelled =
    "Pairing was cancelled before it finished (no passkey entered, or the device left pairing mode). "
    "Pair it again with `ehealth-gateway pair`.";
constexpr std::string_view kPairingRejected =
    "The device rejected pairing: put it in pairing mode and pair it again with `ehealth-gateway pair`.";
constexpr std::string_view kPairingTimedOut =
    "Pairing took too long: put the device in pairing mode and pair it again with `ehealth-gateway pair`.";
constexpr std::string_view kNeedsPairing =
    "The device answers only a gateway it is paired with: pair it with `ehealth-gateway pair`.";
constexpr std::string_view kNoAnswerInTime =
    "No answer in time from the device: it is asleep, switched off or out of range. The gateway tries "
    "again by itself.";
constexpr std::string_view kBluetoothdMissing =
    "The Bluetooth service (bluetoothd) is not running: start it with `systemctl start bluetooth`.";
constexpr std::string_view kNoPermission =
    "The gateway is not allowed to use Bluetooth: its D-Bus permissions are missing. Reinstall the "
    "ehealth-gateway package.";
constexpr std::string_view kRequestRefused =
    "The device refused a request of the gateway (a firmware difference). If it repeats, report it with "
    "the technical detail.";
constexpr std::string_view kUnknown =
    "Bluetooth reported an error the gateway does not know; the technical detail says which.";

ExplainedError Explained(std::string_view text, bool needs_action) {
  return {std::string(text), needs_action};
}

// BlueZ's reasons for a failed connection: "le-connection-<reason>" or "br-connection-<reason>".
ExplainedError ConnectionFailure(std::string_view reason) {
  if (reason == "abort-by-local" || reason == "page-timeout" || reason == "timeout")
    return Explained(kNotAnswering, false);
  if (reason == "abort-by-remote") return Explained(kHungUpExplained, false);
  if (reason == "busy" || reason == "concurrent-connection-limit") return Explained(kBusy, false);
  if (reason == "refused") return Explained(kRefused, true);
  if (reason == "adapter-not-powered" || reason == "not-powered") return Explained(kAdapterOff, true);
  if (reason == "not-supported" || reason == "profile-unavailable") return Explained(kNotSupported, true);
  if (reason == "already-connected") return Explained(kAlreadyConnected, false);
  return Explained(kLinkFailed, false);
}

// org.bluez.Error.Failed: the message carries the reason.
ExplainedError Failed(std::string_view message) {
  for (const std::string_view prefix :
       {std::string_view("le-connection-"), std::string_view("br-connection-")}) {
    if (message.starts_with(prefix)) return ConnectionFailure(message.substr(prefix.size()));
  }
  if (message == "Page Timeout") return Explained(kNotAnswering, false);
  return Explained(kLinkFailed, false);
}

}  // namespace

ExplainedError ExplainBluezError(std::string_view name, std::string_view message) {
  constexpr std::string_view kBluez = "org.bluez.Error.";
  constexpr std::string_view kBus = "org.freedesktop.DBus.Error.";
  if (name.starts_with(kBluez)) {
    const std::string_view error = name.substr(kBluez.size());
    if (error == "Failed") return Failed(message);
    if (error == "ConnectionAttemptFailed") return Explained(kNotAnswering, false);
    if (error == "InProgress") return Explained(kInProgress, false);
    if (error == "AlreadyConnected" || error == "AlreadyExists") return Explained(kAlreadyConnected, false);
    if (error == "NotReady") return Explained(kAdapterOff, true);
    if (error == "DoesNotExist") return Explained(kUnknownDevice, false);
    if (error == "AuthenticationFailed") return Explained(kPairingFailed, true);
    if (error == "AuthenticationCanceled") return Explained(kPairingCancelled, true);
    if (error == "AuthenticationRejected") return Explained(kPairingRejected, true);
    if (error == "AuthenticationTimeout") return Explained(kPairingTimedOut, true);
    if (error == "NotPermitted" || error == "NotAuthorized") return Explained(kNeedsPairing, true);
    if (error == "NotSupported" || error == "NotAvailable") return Explained(kNotSupported, true);
    if (error == "InvalidArguments" || error == "InvalidValueLength" || error == "InvalidOffset")
      return Explained(kRequestRefused, false);
    return Explained(kUnknown, false);
  }
  if (name.starts_with(kBus)) {
    const std::string_view error = name.substr(kBus.size());
    if (error == "NoReply" || error == "Timeout" || error == "TimedOut")
      return Explained(kNoAnswerInTime, false);
    if (error == "ServiceUnknown" || error == "NameHasNoOwner") return Explained(kBluetoothdMissing, true);
    if (error == "UnknownObject") return Explained(kUnknownDevice, false);
    if (error == "AccessDenied") return Explained(kNoPermission, true);
    return Explained(kUnknown, false);
  }
  return Explained(kUnknown, false);
}

}  // namespace ehg::devices::ble
