// The config's top level: the sections in their order, then the devices and the rules (parsers.hpp has
// one file per concern); loading, and the files the config names.
#include "gateway/config/config.hpp"

#include <limits>

#include "gateway/config/parsers.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/json.hpp"

namespace ehg::config {
namespace {

using detail::Errors;
using detail::Expected;
using detail::Field;
using detail::ObjectReader;

// The database is SQLite's to read; the check only keeps a FIFO or a device from blocking its open.
constexpr core::FileKind kDatabaseFile{"database", std::numeric_limits<std::uint64_t>::max(), false};

// A section's object: absent (an error when required) or not an object gives nothing to read.
template <typename Parse>
void ParseSection(ObjectReader& root, std::string_view key, bool required, Parse parse) {
  const Field section = required ? root.Required(key, "an object") : root.Optional(key);
  if (!section) return;
  if (section->type != core::JsonValue::Type::kObject) {
    root.errors().Add(section.path, Expected("an object", *section), section.value);
    return;
  }
  ObjectReader reader(*section, section.path, root.errors());
  parse(reader);
}

Config ParseDocument(const core::JsonValue& root, const std::filesystem::path& base, Errors& errors) {
  Config config;
  if (root.type != core::JsonValue::Type::kObject) {
    errors.Add("", Expected("a JSON object at the top level", root), &root);
    return config;
  }
  ObjectReader reader(root, "", errors);
  ParseSection(reader, "gateway", true, [&](ObjectReader& r) { detail::ParseGateway(r, config.gateway); });
  ParseSection(reader, "resident", true, [&](ObjectReader& r) { detail::ParseResident(r, config.resident); });
  ParseSection(reader, "broker", true, [&](ObjectReader& r) { detail::ParseBroker(r, config.broker); });
  const bool tls_required = !config.broker.insecure_plaintext_for_development;
  ParseSection(reader, "tls", tls_required, [&](ObjectReader& r) { detail::ParseTls(r, config.tls, base); });
  ParseSection(reader, "security", true,
               [&](ObjectReader& r) { detail::ParseSecurity(r, config.security, base); });
  ParseSection(reader, "storage", true,
               [&](ObjectReader& r) { detail::ParseStorage(r, config.storage, base); });
  ParseSection(reader, "pipeline", false,
               [&](ObjectReader& r) { detail::ParsePipeline(r, config.pipeline); });
  ParseSection(reader, "uplink", false, [&](ObjectReader& r) { detail::ParseUplink(r, config.uplink); });
  ParseSection(reader, "bluetooth", false,
               [&](ObjectReader& r) { detail::ParseBluetooth(r, config.bluetooth); });
  ParseSection(reader, "status_page", false,
               [&](ObjectReader& r) { detail::ParseStatusPage(r, config.status_page, base); });
  if (const Field devices = reader.Optional("devices")) detail::ParseDevices(devices, errors, config.devices);
  if (const Field rules = reader.Optional("rules")) detail::ParseRules(rules, errors, config.rules);
  reader.Finish();
  detail::SuperviseDeviceSilence(config.devices, config.rules);
  return config;
}

}  // namespace

std::string ConfigError::ToString() const {
  std::string text = path.empty() ? message : path + ": " + message;
  if (line > 0) text += " (line " + std::to_string(line) + ")";
  return text;
}

ConfigResult ParseConfig(std::string_view text, const std::filesystem::path& base_directory) {
  auto document = core::ParseJson(text);
  if (!document) {
    const core::JsonSyntaxError& syntax = document.error();
    return tl::unexpected(std::vector<ConfigError>{
        ConfigError{"",
                    "invalid JSON at line " + std::to_string(syntax.position.line) + ", column " +
                        std::to_string(syntax.position.column) + ": " + syntax.message,
                    0}});
  }
  Errors errors;
  Config config = ParseDocument(*document, base_directory, errors);
  if (!errors.Empty()) return tl::unexpected(errors.Take());
  return config;
}

Result<std::string> WithRules(std::string_view text, std::string_view rules) {
  auto document = core::ParseJson(text);
  if (!document) return Fail(Errc::kInvalidArgument, "the config is not JSON: " + document.error().message);
  if (document->type != core::JsonValue::Type::kObject)
    return Fail(Errc::kInvalidArgument, "the config is not a JSON object");
  std::string out(text);
  if (const core::JsonValue* current = document->Find("rules")) {
    out.replace(current->begin, current->end - current->begin, rules);
    return out;
  }
  // Before the closing brace of the document's object.
  const std::size_t close = document->end - 1;
  out.insert(close, std::string(document->members.empty() ? "" : ",") +
                        "\n  \"rules\": " + std::string(rules) + "\n");
  return out;
}

ConfigResult LoadConfig(const std::filesystem::path& file) {
  auto text = core::ReadCheckedFile(file, core::kConfigFile);
  if (!text) return tl::unexpected(std::vector<ConfigError>{ConfigError{"", text.error().message, 0}});
  return ParseConfig(*text, std::filesystem::absolute(file).parent_path());
}

std::vector<NamedFile> NamedFiles(const Config& config) {
  std::vector<NamedFile> files;
  const auto add = [&files](std::string key, const std::filesystem::path& path, const core::FileKind& kind) {
    if (!path.empty()) files.push_back(NamedFile{std::move(key), path, kind});
  };
  if (!config.broker.insecure_plaintext_for_development) {
    add("tls.ca_file", config.tls.ca_file, core::kCaFile);
    add("tls.cert_file", config.tls.cert_file, core::kCertificateFile);
    add("tls.key_file", config.tls.key_file, core::kTlsKeyFile);
  }
  if (!config.security.insecure_plaintext_payloads_for_development) {
    add("security.gateway_key_file", config.security.gateway_key_file, core::kGatewayKeyFile);
    // Public keys; a file that holds a private key after all is refused when loaded if others may read it.
    add("security.recipient_key_file", config.security.recipient_key_file, core::kPublicKeyFile);
    add("security.command_keys_file", config.security.command_keys_file, core::kPublicKeyFile);
  }
  add("storage.path", config.storage.path, kDatabaseFile);
  if (config.status_page.enabled) {
    add("status_page.token_file", config.status_page.token_file, core::kTokenFile);
    add("status_page.tls_cert_file", config.status_page.tls_cert_file, core::kCertificateFile);
    add("status_page.tls_key_file", config.status_page.tls_key_file, core::kTlsKeyFile);
  }
  return files;
}

std::vector<ConfigError> CheckNamedFiles(const Config& config, std::vector<std::string>* missing) {
  std::vector<ConfigError> errors;
  for (const NamedFile& file : NamedFiles(config)) {
    // Opened (never blocking) and checked, not read: the components read them with the same checks.
    auto opened = core::OpenCheckedFile(file.path, file.kind);
    if (opened) continue;
    if (opened.error().code == Errc::kNotFound) {
      if (missing != nullptr) missing->push_back(file.key + ": " + opened.error().message);
      continue;
    }
    errors.push_back(ConfigError{file.key, opened.error().message, 0});
  }
  return errors;
}

}  // namespace ehg::config
