#include "route.h"

#include <gtest/gtest.h>

#include <string>

#include "eightball.h"

namespace sreracha {
namespace {

const CounterSnapshot kCounterAt15{true, 15, ""};
const CounterSnapshot kCounterDown{false, 0, "redis unreachable"};

Response get(std::string_view target, const CounterSnapshot& counter = kCounterAt15) {
  return route("GET", target, counter, 0);
}

TEST(AppRoute, QueryParameterQWithAValueAnswersAnAnswerAndTheCounter) {
  Response r = get("/?q=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            "{\"answer\":\"It is certain.\",\"count\":15,\"fizzbuzz\":\"FizzBuzz\","
            "\"counter\":\"ok\"}\n");
}

TEST(AppRoute, TheAnswerIndexPicksOneOfTheTwentyAnswers) {
  Response r = route("GET", "/?q=will+it+work", kCounterAt15, 19);
  EXPECT_NE(r.body.find("\"Very doubtful.\""), std::string::npos) << r.body;
  // Any index is safe: it wraps.
  Response wrapped = route("GET", "/?q=x", kCounterAt15, 20 + 7);
  EXPECT_NE(wrapped.body.find(std::string(kEightBallAnswers[7])), std::string::npos);
}

TEST(AppRoute, EmptyQIsStillAQuery) {
  EXPECT_EQ(get("/?q=").status, 200);
  EXPECT_EQ(get("/?q").status, 200);
  EXPECT_EQ(get("/?a=1&q").status, 200);
}

TEST(AppRoute, NoQAnswers400WithOneLineExplanation) {
  for (std::string_view target : {"/", "/?", "/?a=1", "/?qq=1", "/?Q=1", "/?=q", "/?x=q"}) {
    Response r = get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body, "missing query parameter q: ask with /?q=<anything>, e.g. /?q=1\n") << target;
  }
}

TEST(AppRoute, RepeatedQUsesTheFirst) {
  EXPECT_EQ(get("/?q=healthz&q=1").body, "{\"status\":\"ok\"}\n");
  EXPECT_NE(get("/?q=1&q=healthz").body, "{\"status\":\"ok\"}\n");
}

TEST(AppRoute, PercentEncodedKeyQCounts) {
  EXPECT_EQ(get("/?%71=1").status, 200);  // %71 is 'q'
}

TEST(AppRoute, HealthzIsFixedAndDoesNotMentionTheCounter) {
  Response r = get("/?q=healthz", kCounterDown);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"status\":\"ok\"}\n");
}

TEST(AppRoute, HeadAnswersLikeGet) {
  Response head = route("HEAD", "/?q=1", kCounterAt15, 3);
  Response getr = route("GET", "/?q=1", kCounterAt15, 3);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, getr.body);  // the server drops the body, keeps its length
  EXPECT_EQ(route("HEAD", "/", kCounterAt15, 0).status, 400);
}

TEST(AppRoute, OtherMethodsAnswer405WithAllow) {
  for (std::string_view method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"}) {
    Response r = route(method, "/?q=1", kCounterAt15, 0);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.allow, "GET, HEAD") << method;
  }
}

TEST(AppRoute, OtherPathsAnswer404) {
  for (std::string_view target :
       {"/x", "/x?q=1", "//?q=1", "/index.html", "/healthz", "/%2F?q=1"}) {
    EXPECT_EQ(get(target).status, 404) << target;
  }
  // A path that does not exist is 404 for any method.
  EXPECT_EQ(route("POST", "/x", kCounterAt15, 0).status, 404);
}

TEST(AppRoute, LongQueriesUpToTheLimitAreServedBeyondIt414) {
  std::string target = "/?q=";
  target.append(kMaxTargetLength - target.size(), 'a');
  EXPECT_EQ(get(target).status, 200);
  target += 'a';
  Response r = get(target);
  EXPECT_EQ(r.status, 414);
  EXPECT_EQ(r.body, "request target too long: at most 8192 bytes\n");
}

TEST(AppRoute, MalformedTargetsAnswer400) {
  EXPECT_EQ(get("/?q=%").status, 400);
  EXPECT_EQ(get("/?q=%4").status, 400);
  EXPECT_EQ(get("/?q=%zz").status, 400);
  EXPECT_EQ(get("/?q=1#frag").status, 400);
  EXPECT_EQ(get("*").status, 400);
  EXPECT_EQ(get("http://example.com/?q=1").status, 400);
  EXPECT_EQ(get("").status, 400);
  EXPECT_EQ(get("/?q=%zz").body, "malformed query string: bad percent-encoding\n");
}

TEST(AppRoute, UnavailableCounterIsSaidNotHidden) {
  Response r = get("/?q=1", kCounterDown);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"answer\":\"It is certain.\",\"count\":null,\"fizzbuzz\":null,"
            "\"counter\":\"unavailable: redis unreachable\"}\n");
}

TEST(AppParseQuery, SplitsDecodesAndKeepsOrder) {
  auto params = parse_query("a=1&b=x%20y&c&&d=e+f&q=%E2%9C%93");
  ASSERT_TRUE(params);
  ASSERT_EQ(params->size(), 5u);
  EXPECT_EQ((*params)[0].key, "a");
  EXPECT_EQ((*params)[0].value, "1");
  EXPECT_EQ((*params)[1].value, "x y");
  EXPECT_EQ((*params)[2].key, "c");
  EXPECT_EQ((*params)[2].value, "");
  EXPECT_EQ((*params)[3].value, "e f");
  EXPECT_EQ((*params)[4].value, "\xE2\x9C\x93");
}

TEST(AppParseQuery, ValueMayContainEquals) {
  auto params = parse_query("q=a=b");
  ASSERT_TRUE(params);
  EXPECT_EQ((*params)[0].value, "a=b");
}

TEST(AppParseQuery, BadEscapesAreRejected) {
  EXPECT_FALSE(parse_query("q=%"));
  EXPECT_FALSE(parse_query("q=%g0"));
  EXPECT_FALSE(parse_query("%=1"));
  EXPECT_TRUE(parse_query("q=%41"));
  EXPECT_EQ(*percent_decode("%41%62"), "Ab");
}

TEST(AppTargetPath, DropsTheQuery) {
  EXPECT_EQ(target_path("/?q=secret"), "/");
  EXPECT_EQ(target_path("/a/b"), "/a/b");
}

}  // namespace
}  // namespace sreracha
