#pragma once

#include <string>
#include <string_view>

// What BlueZ's D-Bus errors mean for the installer in the home. The status page and the log show these
// sentences; the D-Bus name and message stay available as the technical detail (docs/ble.md, "Errors").
namespace ehg::devices::ble {

struct ExplainedError {
  std::string text;  // what happened and what to do, in plain words
  // True when the link cannot come back by itself (pairing, the adapter, bluetoothd): someone has to act.
  // False for what passes on its own or is normal for a device that sleeps between measurements.
  bool needs_action = false;
};

// `name` is the D-Bus error name (org.bluez.Error.Failed, org.freedesktop.DBus.Error.NoReply, ...),
// `message` its text (BlueZ puts the reason of a failed connection there: le-connection-abort-by-local).
// Pure; an error it does not know gets a sentence that points to the technical detail.
ExplainedError ExplainBluezError(std::string_view name, std::string_view message);

}  // namespace ehg::devices::ble
