#pragma once
// Inside care/ledger only: the transaction policy and the text helpers its PostgreSQL adapters share
// (ledger.cpp, staff.cpp). The only header of the project that includes libpqxx.

#include <charconv>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

namespace ehg::ledger::detail {

using core::WallTime;

// Thrown inside a transaction for a refusal of our own (not a database error): rolls the transaction
// back and becomes the call's Error.
struct Refusal {
  Error error;
};

inline std::string Iso(WallTime time) {
  return core::FormatIso8601(time);
}

inline std::optional<std::string> Nullable(std::string_view text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

inline std::optional<std::string> NullableTime(const std::optional<WallTime>& time) {
  return time ? std::optional<std::string>(Iso(*time)) : std::nullopt;
}

// An array literal for text[] or uuid[]: every element quoted, quotes and backslashes escaped.
inline std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string literal = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    literal += i ? ",\"" : "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

// The same with NULL for an absent element, for the columns of a many-row insert (unnest).
inline std::string ArrayLiteral(const std::vector<std::optional<std::string>>& items) {
  std::string literal = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) literal += ',';
    if (!items[i]) {
      literal += "NULL";
      continue;
    }
    literal += '"';
    for (char c : *items[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

// The shortest text that reads back as the same double (PostgreSQL's float8 input is exact for it).
inline std::string ExactDouble(double value) {
  char text[32];
  const auto written = std::to_chars(text, text + sizeof text, value);
  return std::string(text, written.ptr);
}

// SQLSTATE classes that say the statement's data was wrong (22 data exception, 23 integrity constraint):
// the same message would fail again, so it is refused rather than retried.
inline bool Permanent(const std::string& sqlstate) {
  return sqlstate.starts_with("22") || sqlstate.starts_with("23");
}

// The connection is gone: 08 connection exception, 57P01-57P03 the server shutting down or restarting.
inline bool ConnectionLost(const std::string& sqlstate) {
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

// The server's primary message only: its DETAIL line may quote the failing row (a resident's pseudonym
// and measured values), and errors end up in logs, where health data must not (docs/security.md).
inline std::string Primary(const std::exception& error) {
  std::string text = error.what();
  text = text.substr(0, text.find('\n'));
  return text;
}

// One connection and the error policy around each transaction: a connection lost before the commit is
// retried once on a new connection (nothing of the first attempt was committed, and every write is
// idempotent); a commit whose outcome is unknown is reported, never retried here.
class Transactor {
 public:
  explicit Transactor(std::string connection_string) : connection_string_(std::move(connection_string)) {}

  template <typename T, typename Work>
  Result<T> Run(std::string_view what, Work&& work) {
    for (int attempt = 0;; ++attempt) {
      try {
        if (!connection_) connection_ = std::make_unique<pqxx::connection>(connection_string_);
        pqxx::work tx(*connection_);
        T value = work(tx);
        tx.commit();
        return value;
      } catch (const Refusal& refusal) {
        return tl::unexpected(refusal.error);
      } catch (const pqxx::in_doubt_error&) {
        connection_.reset();
        return Fail(Errc::kUnavailable,
                    std::string(what) +
                        ": the connection broke during the commit; it may or may not have "
                        "happened (every write is idempotent: do it again)");
      } catch (const pqxx::broken_connection& error) {
        connection_.reset();
        if (attempt == 0) continue;
        return Fail(Errc::kUnavailable, std::string(what) + ": database unreachable: " + Primary(error));
      } catch (const pqxx::sql_error& error) {
        if (ConnectionLost(error.sqlstate())) {
          connection_.reset();
          if (attempt == 0) continue;
          return Fail(Errc::kUnavailable, std::string(what) + ": database unreachable: " + Primary(error));
        }
        return Fail(Permanent(error.sqlstate()) ? Errc::kRejected : Errc::kUnavailable,
                    std::string(what) + ": " + error.sqlstate() + " " + Primary(error));
      } catch (const std::exception& error) {
        // pqxx reports a connection that closed under it in more than one way; start afresh next time.
        connection_.reset();
        return Fail(Errc::kUnavailable, std::string(what) + ": " + Primary(error));
      }
    }
  }

 private:
  std::string connection_string_;
  std::unique_ptr<pqxx::connection> connection_;
};

}  // namespace ehg::ledger::detail
