#include "gateway/tz/time_zone.hpp"

#include <date/tz.h>

#include <stdexcept>

namespace ehg::tz {
namespace {

// The IANA zone through Howard Hinnant's date library (the reference implementation of C++20 zones;
// libstdc++ 12 has none), reading the system's tzdata.
class DateTimeZone final : public alerts::TimeZone {
 public:
  explicit DateTimeZone(const date::time_zone* zone) : zone_(zone) {}

  std::string_view name() const override { return zone_->name(); }

  alerts::LocalTime ToLocal(core::WallTime utc) const override {
    const date::local_time<std::chrono::milliseconds> local = zone_->to_local(utc);
    return alerts::LocalTime{local.time_since_epoch()};
  }

  core::WallTime ToUtc(alerts::LocalTime local) const override {
    const date::local_time<std::chrono::milliseconds> time{local.time_since_epoch()};
    const date::local_info info = zone_->get_info(time);
    switch (info.result) {
      case date::local_info::unique:
        break;
      case date::local_info::ambiguous:
        break;  // first.offset is the earlier occurrence
      case date::local_info::nonexistent:
        // The clocks jumped over this time: the moment of the jump, expressed in UTC.
        return core::WallTime{std::chrono::floor<std::chrono::milliseconds>(info.second.begin)};
    }
    return core::WallTime{time.time_since_epoch() - info.first.offset};
  }

 private:
  const date::time_zone* zone_;
};

}  // namespace

Result<std::shared_ptr<const alerts::TimeZone>> LoadTimeZone(const std::string& name) {
  if (name == "UTC" || name == "Etc/UTC") return std::make_shared<alerts::UtcZone>();
  try {
    return std::shared_ptr<const alerts::TimeZone>(std::make_shared<DateTimeZone>(date::locate_zone(name)));
  } catch (const std::exception& error) {
    return Fail(Errc::kNotFound, "time zone \"" + name + "\" not found in the tz database: " + error.what());
  }
}

}  // namespace ehg::tz
