#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "gateway/core/clock.hpp"
#include "gateway/core/utf8.hpp"
#include "gateway/crypto/command_verifier.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/crypto/keys.hpp"

// What the uplink does to every payload it sends and every command it takes.
namespace ehg::crypto {

class PayloadProtection {
 public:
  virtual ~PayloadProtection() = default;
  // The event body as it goes on the wire. A body is valid UTF-8 on the wire whatever it carries: a byte
  // that is not is replaced by U+FFFD before sealing, so the receiver never refuses (and the gateway never
  // re-sends for ever) a body because one field slipped past an input check.
  virtual Result<std::string> Seal(std::string_view body) const = 0;
  // A command as it came off the wire, checked (all but the replay window, which the caller keeps).
  virtual Checked<VerifiedCommand> OpenCommand(std::string_view payload, core::WallTime now) const = 0;
  // The retained status as it goes on the wire: signed by the gateway, not encrypted (it says nothing
  // about the resident, and whoever watches the broker may read it; nobody without the key can fake it).
  virtual Result<std::string> SignStatus(std::string_view body) const = 0;
  virtual bool end_to_end() const = 0;
};

// Production: events sealed in the envelope, commands verified against the care system's keys.
class JoseProtection final : public PayloadProtection {
 public:
  JoseProtection(EcKey gateway_key, EcKey recipient_key, KeySet command_keys, CommandPolicy policy);
  Result<std::string> Seal(std::string_view body) const override;
  Checked<VerifiedCommand> OpenCommand(std::string_view payload, core::WallTime now) const override;
  Result<std::string> SignStatus(std::string_view body) const override;
  bool end_to_end() const override { return true; }

 private:
  EcKey gateway_key_;
  EcKey recipient_key_;
  KeySet command_keys_;
  CommandPolicy policy_;
};

// Only when the config says "insecure_plaintext_payloads_for_development": bodies go out as plain JSON
// and commands are plain JSON objects, unsigned.
class PlaintextForDevelopment final : public PayloadProtection {
 public:
  Result<std::string> Seal(std::string_view body) const override { return core::ValidUtf8(body); }
  Checked<VerifiedCommand> OpenCommand(std::string_view payload, core::WallTime now) const override;
  Result<std::string> SignStatus(std::string_view body) const override { return std::string(body); }
  bool end_to_end() const override { return false; }
};

}  // namespace ehg::crypto
