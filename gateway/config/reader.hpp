#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/core/json.hpp"

// The config parser's shared machinery (not part of the library's interface): the error collector, the
// wording of "expected ..." errors, and the readers that carry a value's JSON path, so each key's name
// is written once, where it is read, and every error about it names the same path.
namespace ehg::config::detail {

using core::JsonValue;

// Every error of a document, reported together.
class Errors {
 public:
  void Add(std::string path, std::string message, const JsonValue* at);
  void AddAtLine(std::string path, std::string message, int line);
  std::size_t Count() const { return list_.size(); }
  bool Empty() const { return list_.empty(); }
  std::vector<ConfigError> Take() { return std::move(list_); }

 private:
  std::vector<ConfigError> list_;
};

// Whether any error was added since it was made: a device or rule goes into the Config only when none
// was (the Config is returned only without errors; this keeps half-read entries out of it all the same).
class ErrorMark {
 public:
  explicit ErrorMark(const Errors& errors) : errors_(errors), count_(errors.Count()) {}
  bool Clean() const { return errors_.Count() == count_; }

 private:
  const Errors& errors_;
  std::size_t count_;
};

// "expected <expected>, got <the value described>": the wording of every type and range error.
std::string Expected(std::string_view expected, const JsonValue& got);
// "a, b, c": the choices an error offers, in the order the caller gives them.
std::string JoinNames(std::span<const std::string_view> names);

// A JSON value with the path that names it in the document ("devices[2].port").
struct Field {
  const JsonValue* value = nullptr;  // null: the key is absent
  std::string path;

  explicit operator bool() const { return value != nullptr; }
  const JsonValue& operator*() const { return *value; }
  const JsonValue* operator->() const { return value; }
  // The index-th item of an array value: path "path[index]".
  Field Item(std::size_t index) const;
};

// Readers of one value: nullopt and an error naming the field's path when it is not what is expected.
std::optional<std::string> ReadString(const Field& field, Errors& errors, std::string_view expected);
std::optional<bool> ReadBool(const Field& field, Errors& errors);
std::optional<double> ReadNumber(const Field& field, Errors& errors, double min, double max,
                                 std::string_view what);
std::optional<std::int64_t> ReadInteger(const Field& field, Errors& errors, std::int64_t min,
                                        std::int64_t max, std::string_view what);
std::optional<std::string> ReadChoice(const Field& field, Errors& errors,
                                      std::span<const std::string_view> choices);

// Reads the members of one JSON object; every key it is asked for counts as known, Finish() reports the
// rest as unknown (a misspelt key must never silently leave a safety setting at its default).
class ObjectReader {
 public:
  ObjectReader(const JsonValue& object, std::string path, Errors& errors)
      : object_(object), path_(std::move(path)), errors_(errors) {}

  const JsonValue& object() const { return object_; }
  const std::string& path() const { return path_; }
  Errors& errors() const { return errors_; }
  std::string PathOf(std::string_view key) const;

  // The key's value (absent: a null Field) and path; the key counts as known.
  Field Optional(std::string_view key);
  // As Optional, and "required key missing (expected <expected>)" when absent.
  Field Required(std::string_view key, std::string_view expected);
  // Whether the object has the key, without asking for it (for cross-checks between keys).
  bool Has(std::string_view key) const { return object_.Find(key) != nullptr; }

  // Optional keys of one type: nullopt when absent, and when wrong (then with an error).
  std::optional<bool> Bool(std::string_view key);
  std::optional<std::int64_t> Integer(std::string_view key, std::int64_t min, std::int64_t max,
                                      std::string_view what);
  std::optional<double> Number(std::string_view key, double min, double max, std::string_view what);
  std::optional<std::string> Choice(std::string_view key, std::span<const std::string_view> choices);
  // A file path, resolved against `base` when relative.
  std::optional<std::filesystem::path> FilePath(std::string_view key, bool required,
                                                const std::filesystem::path& base);

  // A duration named `name` given in exactly one unit: name_seconds, name_minutes, name_hours or
  // name_days. Absent: nullopt without an error (callers decide whether it is required).
  // `zero_allowed`: 0 is accepted besides min..max (a setting where 0 means "none" or "at once").
  std::optional<std::chrono::seconds> Duration(std::string_view name, std::chrono::seconds min,
                                               std::chrono::seconds max, bool zero_allowed = false);
  // A duration that must be given: "required: <what>" at name_<unit_hint> when it is absent.
  std::optional<std::chrono::seconds> RequiredDuration(std::string_view name, std::string_view unit_hint,
                                                       std::chrono::seconds min, std::chrono::seconds max,
                                                       std::string_view what);

  // Reports every member not asked for as an unknown key, listing the known ones.
  void Finish();

 private:
  bool HasDuration(std::string_view name) const;

  const JsonValue& object_;
  std::string path_;
  Errors& errors_;
  std::vector<std::string> known_;
};

bool IsIdentifier(std::string_view text, std::size_t min_length, std::size_t max_length, bool allow_dot);
bool AllDigits(std::string_view text);
bool IsHex(std::string_view text);

}  // namespace ehg::config::detail
