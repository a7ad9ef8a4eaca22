#include "gateway/core/json_writer.hpp"

#include <charconv>

#include "gateway/core/bug.hpp"
#include "gateway/core/json.hpp"

namespace ehg::core {

void JsonWriter::BeforeValue() {
  if (open_.empty()) {
    if (done_) Bug("JsonWriter: a second top-level value");
    done_ = true;  // this value is the whole document
    return;
  }
  if (open_.back() == Open::kObject) {
    if (!after_key_) Bug("JsonWriter: a value in an object without its key");
    after_key_ = false;
    return;
  }
  if (!first_) out_ += ',';
  first_ = false;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  if (open_.empty() || open_.back() != Open::kObject || after_key_)
    Bug("JsonWriter: a key outside an object");
  if (!first_) out_ += ',';
  first_ = false;
  out_ += JsonQuote(key);
  out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_ += '{';
  open_.push_back(Open::kObject);
  first_ = true;
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_ += '[';
  open_.push_back(Open::kArray);
  first_ = true;
  return *this;
}

void JsonWriter::Close(Open kind, char bracket) {
  if (open_.empty() || open_.back() != kind || after_key_) Bug("JsonWriter: a close that does not match");
  open_.pop_back();
  out_ += bracket;
  first_ = false;  // the closed container was a value of its parent
}

JsonWriter& JsonWriter::EndObject() {
  Close(Open::kObject, '}');
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  Close(Open::kArray, ']');
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view text) {
  BeforeValue();
  out_ += JsonQuote(text);
  return *this;
}

JsonWriter& JsonWriter::StringOrNull(std::string_view text) {
  return text.empty() ? Null() : String(text);
}

JsonWriter& JsonWriter::Number(double value) {
  BeforeValue();
  out_ += JsonNumber(value);
  return *this;
}

JsonWriter& JsonWriter::Integer(std::int64_t value) {
  BeforeValue();
  char buffer[24];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, value);
  out_.append(buffer, written.ptr);
  return *this;
}

JsonWriter& JsonWriter::Unsigned(std::uint64_t value) {
  BeforeValue();
  char buffer[24];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, value);
  out_.append(buffer, written.ptr);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_ += json;
  return *this;
}

std::string JsonWriter::Take() && {
  if (!open_.empty() || !done_) Bug("JsonWriter: text taken before it is complete");
  return std::move(out_);
}

}  // namespace ehg::core
