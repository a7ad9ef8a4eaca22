#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Writes compact JSON text as it goes: the gateway's event bodies, status messages, command answers and
// its HTTP views. Commas and colons are placed by the writer, strings go through JsonQuote (the output is
// valid UTF-8 whatever the input bytes) and numbers through JsonNumber (non-finite values become null).
// It replaced Poco::JSON in the gateway, whose libraries kept about 1.9 MiB of the daemon resident.
//
//   JsonWriter json;
//   json.BeginObject().Key("id").String(id).Key("values").BeginArray();
//   for (double v : values) json.Number(v);
//   json.EndArray().EndObject();
//   std::string text = std::move(json).Take();
//
// Misuse (a value where a key is due, a close that does not match) is a bug in the caller and stops the
// process through core::Bug rather than writing text a reader would refuse.
namespace ehg::core {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view text);
  JsonWriter& Number(double value);
  JsonWriter& Integer(std::int64_t value);
  JsonWriter& Unsigned(std::uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // JSON text written elsewhere (a nested body), inserted as one value. The caller vouches for it.
  JsonWriter& Raw(std::string_view json);

  // A string, or null when it is empty (optional fields of the wire formats).
  JsonWriter& StringOrNull(std::string_view text);

  // The text so far; complete once every object and array opened is closed.
  std::string Take() &&;
  const std::string& Text() const { return out_; }

 private:
  enum class Open : std::uint8_t { kObject, kArray };
  void BeforeValue();
  void Close(Open kind, char bracket);

  std::string out_;
  std::vector<Open> open_;
  bool first_ = true;       // no value yet in the innermost open object or array
  bool after_key_ = false;  // a key was written, its value is due
  bool done_ = false;       // a complete top-level value was written
};

}  // namespace ehg::core
