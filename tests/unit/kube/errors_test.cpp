// Decoding error answers into typed errors (kube/errors.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kube/errors.h"

namespace {

using ::testing::HasSubstr;

TEST(DecodeStatus, StatusBody) {
  const auto status = kube::decode_status(404, R"({
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "deployments.apps \"web\" not found", "reason": "NotFound",
    "details": {"name": "web", "group": "apps", "kind": "deployments"}, "code": 404})");
  EXPECT_EQ(status.code, 404);
  EXPECT_EQ(status.reason, "NotFound");
  EXPECT_EQ(status.message, "deployments.apps \"web\" not found");
}

TEST(DecodeStatus, NonStatusBodyFallsBackToTheHttpCode) {
  const auto html = kube::decode_status(503, "<html>upstream unavailable</html>\n");
  EXPECT_EQ(html.code, 503);
  EXPECT_EQ(html.reason, "ServiceUnavailable");
  EXPECT_EQ(html.message, "<html>upstream unavailable</html>");
  EXPECT_EQ(kube::decode_status(429, "").message, "(no body)");
  EXPECT_EQ(kube::decode_status(429, "").reason, "TooManyRequests");
  EXPECT_EQ(kube::decode_status(418, "{}").reason, "Unknown");
  // A Status without a reason gets the one for its code.
  EXPECT_EQ(kube::decode_status(409, R"({"kind":"Status","code":409,"message":"m"})").reason,
            "Conflict");
  // Very long bodies are cut.
  EXPECT_LE(kube::decode_status(500, std::string(10000, 'x')).message.size(), 512u);
}

TEST(DecodeStatus, WatchErrorEventObjectUsesItsOwnCode) {
  const auto object = nlohmann::json::parse(R"json({"kind":"Status","apiVersion":"v1",
    "status":"Failure","message":"too old resource version: 1 (2345)","reason":"Expired",
    "code":410})json");
  const auto status = kube::decode_status_object(200, object);
  EXPECT_EQ(status.code, 410);
  EXPECT_EQ(status.reason, "Expired");
}

TEST(ReasonForCode, KnownCodes) {
  EXPECT_EQ(kube::reason_for_code(400), "BadRequest");
  EXPECT_EQ(kube::reason_for_code(401), "Unauthorized");
  EXPECT_EQ(kube::reason_for_code(403), "Forbidden");
  EXPECT_EQ(kube::reason_for_code(404), "NotFound");
  EXPECT_EQ(kube::reason_for_code(409), "Conflict");
  EXPECT_EQ(kube::reason_for_code(410), "Gone");
  EXPECT_EQ(kube::reason_for_code(422), "Invalid");
  EXPECT_EQ(kube::reason_for_code(429), "TooManyRequests");
  EXPECT_EQ(kube::reason_for_code(500), "InternalError");
  EXPECT_EQ(kube::reason_for_code(504), "Timeout");
}

TEST(ThrowApiError, MessageNamesVerbObjectReasonAndServerMessage) {
  try {
    kube::throw_api_error({404, "NotFound", "deployments.apps \"web\" not found"},
                          "get deployments default/web");
    FAIL() << "did not throw";
  } catch (const kube::ResourceExpired&) {
    FAIL() << "404 is not ResourceExpired";
  } catch (const kube::ApiError& e) {
    EXPECT_STREQ(e.what(),
                 "get deployments default/web: NotFound (404): deployments.apps \"web\" not found");
    EXPECT_TRUE(e.is_not_found());
    EXPECT_EQ(e.message(), "deployments.apps \"web\" not found");
  }
}

TEST(ThrowApiError, GoneIsResourceExpired) {
  for (const char* reason : {"Expired", "Gone"}) {
    EXPECT_THROW(kube::throw_api_error({410, reason, "too old resource version"}, "watch pods"),
                 kube::ResourceExpired);
  }
  // ResourceExpired is an ApiError and a kube::Error: callers may catch broadly.
  EXPECT_THROW(kube::throw_api_error({410, "Expired", "x"}, "list pods"), kube::ApiError);
  EXPECT_THROW(kube::throw_api_error({500, "InternalError", "x"}, "list pods"), kube::Error);
}

TEST(ApiError, Predicates) {
  const kube::ApiError exists(409, "AlreadyExists", "m", "w");
  EXPECT_TRUE(exists.is_already_exists());
  EXPECT_FALSE(exists.is_conflict());
  const kube::ApiError conflict(409, "Conflict", "m", "w");
  EXPECT_TRUE(conflict.is_conflict());
  EXPECT_FALSE(conflict.is_already_exists());
  EXPECT_TRUE(kube::ApiError(422, "Invalid", "m", "w").is_invalid());
  EXPECT_TRUE(kube::ApiError(403, "Forbidden", "m", "w").is_forbidden());
  EXPECT_TRUE(kube::ApiError(401, "Unauthorized", "m", "w").is_unauthorized());
  EXPECT_TRUE(kube::ApiError(429, "TooManyRequests", "m", "w").is_too_many_requests());
}

}  // namespace
