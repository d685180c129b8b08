// The one error hierarchy of the kube layer. Thrown at the kube/ boundary,
// caught at the worker boundary; messages name the verb and the object, e.g.
//   get deployments default/web: NotFound (404): deployments.apps "web" not found
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace kube {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A kubeconfig / in-cluster configuration problem; the message names the file
// and the field.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// No HTTP answer: connection refused, TLS failure, timeout.
class TransportError : public Error {
 public:
  using Error::Error;
};

// The call's Context (context.h) was cancelled or its deadline passed before
// an answer; deadline_exceeded() tells which.
class Cancelled : public Error {
 public:
  Cancelled(bool deadline_exceeded, const std::string& what);
  bool deadline_exceeded() const noexcept { return deadline_exceeded_; }

 private:
  bool deadline_exceeded_;
};

// The API server answered with an error Status.
class ApiError : public Error {
 public:
  ApiError(int code, std::string reason, std::string message, const std::string& what);

  int code() const noexcept { return code_; }
  const std::string& reason() const noexcept { return reason_; }    // "NotFound", "Conflict", ...
  const std::string& message() const noexcept { return message_; }  // the server's message

  bool is_not_found() const noexcept { return code_ == 404; }
  bool is_already_exists() const noexcept { return reason_ == "AlreadyExists"; }
  bool is_conflict() const noexcept { return code_ == 409 && reason_ != "AlreadyExists"; }
  bool is_invalid() const noexcept { return code_ == 422; }
  bool is_forbidden() const noexcept { return code_ == 403; }
  bool is_unauthorized() const noexcept { return code_ == 401; }
  bool is_too_many_requests() const noexcept { return code_ == 429; }

 private:
  int code_;
  std::string reason_;
  std::string message_;
};

// The requested resourceVersion is too old (HTTP 410 Gone, or a watch ERROR
// event carrying a 410 Status): the caller must relist.
class ResourceExpired : public ApiError {
 public:
  using ApiError::ApiError;
};

// A decoded metav1.Status: what the server said about a failed call.
struct Status {
  int code = 0;
  std::string reason;   // "NotFound", "Conflict", ...
  std::string message;  // the server's own words
};

// The reason client-go assumes when an error answer carries no Status:
// 404 -> NotFound, 409 -> Conflict, 410 -> Gone, 429 -> TooManyRequests, ...
std::string reason_for_code(int code);

// Decodes an error answer. A Status body gives code, reason and message; any
// other body (a proxy's HTML, plain text) gives the reason for the HTTP code
// and the start of the body as message.
Status decode_status(int http_code, std::string_view body);
// The same for a Status object already parsed (a watch ERROR event).
Status decode_status_object(int http_code, const nlohmann::json& status);

// Throws ApiError, or ResourceExpired for 410, with the message
//   "<what>: <reason> (<code>): <message>".
[[noreturn]] void throw_api_error(const Status& status, std::string_view what);

}  // namespace kube
