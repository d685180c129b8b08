#include "kube/meta.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace kube {

std::string Resource::api_version() const {
  return group.empty() ? version : group + "/" + version;
}

namespace meta {
namespace {

std::tm utc_fields(TimePoint time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::seconds>(time));
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return tm;
}

}  // namespace

std::string format_time(TimePoint time) {
  const std::tm tm = utc_fields(time);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string format_micro_time(TimePoint time) {
  const auto whole = std::chrono::floor<std::chrono::seconds>(time);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time - whole).count();
  const std::tm tm = utc_fields(whole);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

std::optional<TimePoint> parse_time(std::string_view view) {
  const std::string text(view);
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::size_t at = 19;
  std::chrono::microseconds fraction{0};
  if (at < text.size() && text[at] == '.') {
    long long scale = 100000, micros = 0;
    const std::size_t digits_from = ++at;
    for (; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at) {
      micros += (text[at] - '0') * scale;
      scale /= 10;
    }
    if (at == digits_from) return std::nullopt;
    fraction = std::chrono::microseconds(micros);
  }
  long offset_seconds = 0;
  const std::string zone = text.substr(at);
  if (zone != "Z" && zone != "z") {
    int hours = 0, minutes = 0, zone_consumed = 0;
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') ||
        std::sscanf(zone.c_str() + 1, "%2d:%2d%n", &hours, &minutes, &zone_consumed) != 2 ||
        zone_consumed != 5) {
      return std::nullopt;
    }
    offset_seconds = (hours * 3600L + minutes * 60L) * (zone[0] == '-' ? -1 : 1);
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm) - offset_seconds) + fraction;
}

std::optional<TimePoint> parse_time_value(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  return parse_time(std::string_view(value.get_ref<const std::string&>()));
}

const nlohmann::json* controller_ref(const nlohmann::json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return nullptr;
  auto refs = metadata->find("ownerReferences");
  if (refs == metadata->end() || !refs->is_array()) return nullptr;
  for (const auto& ref : *refs) {
    auto controller = ref.find("controller");
    if (controller != ref.end() && controller->is_boolean() && controller->get<bool>()) return &ref;
  }
  return nullptr;
}

}  // namespace meta
}  // namespace kube
