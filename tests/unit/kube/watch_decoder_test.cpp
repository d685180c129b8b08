// kube::WatchDecoder: a watch body split into reads of any size gives the
// same events, in order, as the whole body at once.
#include "kube/watch_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kube {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// An event whose object carries `size` bytes of data, including multi-byte
// UTF-8 ("é" is two bytes, "€" three) so that splits fall inside sequences.
std::string event_line(const std::string& name, std::size_t size) {
  std::string data;
  while (data.size() + 3 <= size) data += (data.size() % 7 == 0) ? "\u20ac" : "\u00e9a";
  data.append(size - data.size(), 'x');
  const json event = {{"type", "ADDED"},
                      {"object", {{"metadata", {{"name", name}}}, {"data", {{"v", data}}}}}};
  return event.dump() + "\n";
}

struct Collected {
  std::vector<std::string> names;
  std::vector<std::size_t> sizes;
};

// Feeds `body` in pieces of `piece` bytes (the last may be shorter).
Collected decode(const std::string& body, std::size_t piece) {
  Collected out;
  WatchDecoder decoder;
  const auto collect = [&](WatchEvent&& event) {
    out.names.push_back(event.object["metadata"]["name"].get<std::string>());
    out.sizes.push_back(event.object["data"]["v"].get<std::string>().size());
    return true;
  };
  for (std::size_t at = 0; at < body.size(); at += piece) {
    EXPECT_TRUE(decoder.feed(std::string_view(body).substr(at, piece), collect));
  }
  EXPECT_TRUE(decoder.finish(collect));
  return out;
}

TEST(WatchDecoder, EventsOfEverySizeSurviveEverySplit) {
  const std::vector<std::size_t> sizes = {1, 4 << 10, 8 << 10, 64 << 10, 1 << 20};
  std::string body;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    names.push_back("o" + std::to_string(i));
    body += event_line(names.back(), sizes[i]);
  }
  // One read for everything, one byte per read, and odd piece sizes that
  // put boundaries mid-line and mid-UTF-8 sequence.
  for (const std::size_t piece :
       {body.size(), std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{1021},
        std::size_t{8191}, std::size_t{8193}, std::size_t{65537}}) {
    const auto out = decode(body, piece);
    EXPECT_EQ(out.names, names) << "pieces of " << piece;
    EXPECT_EQ(out.sizes, sizes) << "pieces of " << piece;
  }
}

TEST(WatchDecoder, EverySplitPointOfTwoSmallEvents) {
  const std::string body = event_line("a", 20) + event_line("b", 30);
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    Collected out;
    WatchDecoder decoder;
    const auto collect = [&](WatchEvent&& event) {
      out.names.push_back(event.object["metadata"]["name"].get<std::string>());
      return true;
    };
    decoder.feed(std::string_view(body).substr(0, cut), collect);
    decoder.feed(std::string_view(body).substr(cut), collect);
    decoder.finish(collect);
    EXPECT_EQ(out.names, (std::vector<std::string>{"a", "b"})) << "cut at " << cut;
  }
}

TEST(WatchDecoder, HandsOutAnEventAsSoonAsItsLineEnds) {
  WatchDecoder decoder;
  int events = 0;
  const auto count = [&](WatchEvent&&) { return ++events, true; };
  const std::string line = event_line("a", 100);
  decoder.feed(line.substr(0, line.size() - 1), count);
  EXPECT_EQ(events, 0);
  EXPECT_EQ(decoder.pending(), line.size() - 1);
  decoder.feed("\n", count);
  EXPECT_EQ(events, 1);
  EXPECT_EQ(decoder.pending(), 0u);
}

TEST(WatchDecoder, SkipsBlankLinesAndAcceptsCrLf) {
  std::string body = "\n\r\n" + event_line("a", 5);
  body.insert(body.size() - 1, "\r");
  body += "\n   \n" + event_line("b", 5);
  const auto out = decode(body, 4);
  EXPECT_EQ(out.names, (std::vector<std::string>{"a", "b"}));
}

TEST(WatchDecoder, AnUnterminatedLastLineIsDecodedAtTheEnd) {
  std::string body = event_line("a", 5) + event_line("b", 5);
  body.pop_back();
  EXPECT_EQ(decode(body, 7).names, (std::vector<std::string>{"a", "b"}));
}

TEST(WatchDecoder, StopsWhenTheHandlerSaysSo) {
  WatchDecoder decoder;
  int events = 0;
  const std::string body = event_line("a", 5) + event_line("b", 5) + event_line("c", 5);
  EXPECT_FALSE(decoder.feed(body, [&](WatchEvent&&) { return ++events < 2; }));
  EXPECT_EQ(events, 2);
}

TEST(WatchDecoder, MalformedEventsThrowWithoutQuotingTheBytes) {
  WatchDecoder decoder;
  const auto ignore = [](WatchEvent&&) { return true; };
  try {
    decoder.feed("{\"type\":\"ADDED\",\"object\":{\"data\":\"hunter2\"\n", ignore);
    FAIL() << "no WatchDecodeError";
  } catch (const WatchDecodeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("malformed watch event"));
    EXPECT_THAT(e.what(), Not(HasSubstr("hunter2")));
  }
  EXPECT_THROW(decode_watch_event("[1,2]"), WatchDecodeError);
  EXPECT_THROW(decode_watch_event(R"({"type":7})"), WatchDecodeError);
  // Found by fuzz/watch_decoder_fuzzer.cpp: valid syntax, a number beyond
  // double's range; it escaped as nlohmann's out_of_range.
  try {
    decode_watch_event("222.2222111e6111}}");
    FAIL() << "no WatchDecodeError";
  } catch (const WatchDecodeError& e) {
    EXPECT_THAT(e.what(), Not(HasSubstr("222.2222111e6111")));
  }
  EXPECT_EQ(decode_watch_event(R"({"type":"BOOKMARK","object":{"a":1}})").object["a"], 1);
}

// The decoder reuses the buffer of a line that spans reads: a line that
// threw must not linger in it and spoil the next.
TEST(WatchDecoder, ALineThatThrewLeavesNothingBehind) {
  WatchDecoder decoder;
  std::vector<std::string> names;
  const auto collect = [&](WatchEvent&& event) {
    names.push_back(event.object["metadata"].value("name", ""));
    return true;
  };
  decoder.feed("{\"type\":\"ADD", collect);
  EXPECT_THROW(decoder.feed("ED\",\"object\":{\n", collect), WatchDecodeError);
  EXPECT_EQ(decoder.pending(), 0u);
  const std::string next = event_line("b", 5);
  decoder.feed(next.substr(0, 10), collect);
  decoder.feed(next.substr(10), collect);
  EXPECT_EQ(names, std::vector<std::string>{"b"});
}

TEST(WatchDecoder, RefusesAnEventLargerThanItsLimit) {
  WatchDecoder decoder(1000);
  const auto ignore = [](WatchEvent&&) { return true; };
  decoder.feed(std::string(600, ' '), ignore);
  EXPECT_THROW(decoder.feed(std::string(600, ' '), ignore), WatchDecodeError);
  WatchDecoder whole(1000);
  EXPECT_THROW(whole.feed(event_line("a", 2000), ignore), WatchDecodeError);
}

// The decoder builds events itself (to leave out managedFields while
// parsing): without dropping, what it builds is what json::parse builds.
TEST(WatchDecoder, BuildsWhatTheJsonParserBuilds) {
  const std::vector<std::string> lines = {
      R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"p","labels":{"a":"b"}},)"
      R"("spec":{"containers":[{"name":"c","args":["x",[],{}],"ports":[{"containerPort":80}]}]}}})",
      R"({"type":"MODIFIED","object":{"n":[null,true,false,-7,18446744073709551615,0.5,1e300],)"
      R"("s":"\u00e9\u20ac\ud83d\ude00\"\\\n","e":{},"a":[]}})",
      // Duplicate keys: the last wins, as with json::parse.
      R"({"type":"ADDED","type":"DELETED","object":{"k":1,"k":{"x":[1,2]}}})",
      R"({"type":"BOOKMARK"})",
      R"({"object":[[[[1]]],{"metadata":{"managedFields":[1]}}],"type":"ADDED"})",
  };
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    const json parsed = json::parse(line);
    const WatchEvent event = decode_watch_event(line);
    EXPECT_EQ(event.type, parsed["type"]);
    EXPECT_EQ(event.object, parsed.value("object", json()));
    // Nothing to drop where there is no object.metadata.managedFields.
    EXPECT_EQ(decode_watch_event(line, true).object, event.object);
  }
}

TEST(WatchDecoder, LeavesOutTheObjectsManagedFieldsWhenAsked) {
  const json managed = json::array(
      {{{"manager", "kubectl"}, {"fieldsV1", {{"f:spec", {{"f:x", json::object()}}}}}}});
  const json object = {
      {"kind", "Deployment"},
      {"metadata", {{"name", "web"}, {"managedFields", managed}, {"labels", {{"a", "b"}}}}},
      // Only the object's own metadata loses them.
      {"spec", {{"managedFields", managed}, {"template", {{"metadata", {{"managedFields", 1}}}}}}},
      {"managedFields", "kept"}};
  const json event = {{"type", "MODIFIED"}, {"object", object}, {"managedFields", "kept too"}};
  WatchDecoder decoder(kMaxWatchEventBytes, /*drop_managed_fields=*/true);
  std::vector<json> seen;
  const auto collect = [&](WatchEvent&& e) {
    seen.push_back(std::move(e.object));
    return true;
  };
  // Cut inside the managedFields: the decoder holds the line until it ends.
  const std::string body = event.dump() + "\n" + event.dump() + "\n";
  const auto cut = body.find("kubectl");
  decoder.feed(std::string_view(body).substr(0, cut), collect);
  decoder.feed(std::string_view(body).substr(cut), collect);
  json expected = object;
  expected["metadata"].erase("managedFields");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], expected);
  EXPECT_EQ(seen[1], expected);
  // A scalar managedFields goes too; the keys after it stay.
  EXPECT_EQ(decode_watch_event(
                R"({"type":"ADDED","object":{"metadata":{"managedFields":null,"n":"a"}}})", true)
                .object,
            json({{"metadata", {{"n", "a"}}}}));
  // Not asked: kept.
  EXPECT_EQ(decode_watch_event(event.dump()).object, object);
}

}  // namespace
}  // namespace kube
