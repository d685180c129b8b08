#include "kube/errors.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace kube {

ApiError::ApiError(int code, std::string reason, std::string message, const std::string& what)
    : Error(what), code_(code), reason_(std::move(reason)), message_(std::move(message)) {}

Cancelled::Cancelled(bool deadline_exceeded, const std::string& what)
    : Error(what + (deadline_exceeded ? ": deadline exceeded" : ": cancelled")),
      deadline_exceeded_(deadline_exceeded) {}

std::string reason_for_code(int code) {
  // The mapping of k8s.io/apimachinery/pkg/api/errors NewGenericServerResponse.
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

Status decode_status_object(int http_code, const nlohmann::json& status) {
  Status result;
  result.code = http_code;
  if (status.is_object()) {
    // The Status' own code wins: a watch ERROR event arrives on a 200 answer.
    if (auto it = status.find("code"); it != status.end() && it->is_number_integer()) {
      result.code = it->get<int>();
    }
    if (auto it = status.find("reason"); it != status.end() && it->is_string()) {
      result.reason = it->get<std::string>();
    }
    if (auto it = status.find("message"); it != status.end() && it->is_string()) {
      result.message = it->get<std::string>();
    }
  }
  if (result.reason.empty()) result.reason = reason_for_code(result.code);
  return result;
}

Status decode_status(int http_code, std::string_view body) {
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    return decode_status_object(http_code, parsed);
  }
  Status result{http_code, reason_for_code(http_code), std::string(body.substr(0, 512))};
  while (!result.message.empty() &&
         std::isspace(static_cast<unsigned char>(result.message.back()))) {
    result.message.pop_back();
  }
  if (result.message.empty()) result.message = "(no body)";
  return result;
}

void throw_api_error(const Status& status, std::string_view what) {
  std::string text = std::string(what) + ": " + status.reason + " (" + std::to_string(status.code) +
                     "): " + status.message;
  if (status.code == 410) {
    throw ResourceExpired(status.code, status.reason, status.message, text);
  }
  throw ApiError(status.code, status.reason, status.message, text);
}

}  // namespace kube
