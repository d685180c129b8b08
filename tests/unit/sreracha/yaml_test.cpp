// YAML <-> JSON: scalars typed as kubectl types them, and output that reads
// back as exactly what was written.
#include "sreracha/yaml.h"

#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sreracha {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

json load_one(const std::string& text) {
  auto documents = load_yaml_documents(text);
  EXPECT_EQ(documents.size(), 1u) << text;
  return documents.empty() ? json() : documents.front();
}

TEST(YamlToJson, PlainScalarsAreTyped) {
  json doc = load_one(
      "int: 80\nneg: -3\nfloat: 1.5\nyes: true\nno: False\nonoff: on\nnothing: ~\nnull2: null\n"
      "empty:\ntext: hello\nversion: 1.2.3\n");
  EXPECT_EQ(doc["int"], 80);
  EXPECT_TRUE(doc["int"].is_number_integer());
  EXPECT_EQ(doc["neg"], -3);
  EXPECT_DOUBLE_EQ(doc["float"].get<double>(), 1.5);
  EXPECT_EQ(doc["yes"], true);
  EXPECT_EQ(doc["no"], false);
  EXPECT_EQ(doc["onoff"], true);  // YAML 1.1, as kubectl reads it
  EXPECT_TRUE(doc["nothing"].is_null());
  EXPECT_TRUE(doc["null2"].is_null());
  EXPECT_TRUE(doc["empty"].is_null());
  EXPECT_EQ(doc["text"], "hello");
  EXPECT_EQ(doc["version"], "1.2.3");
}

TEST(YamlToJson, QuotedAndBlockScalarsAreStrings) {
  json doc = load_one("a: \"80\"\nb: 'true'\nc: !!str 7\nd: |\n  80\n");
  EXPECT_EQ(doc["a"], "80");
  EXPECT_EQ(doc["b"], "true");
  EXPECT_EQ(doc["c"], "7");
  EXPECT_EQ(doc["d"], "80\n");
}

// Found by fuzz/yaml_fuzzer.cpp: bytes that are not UTF-8, or control
// characters YAML does not allow, were read as they came and did not
// round-trip through to_yaml. They are refused, naming where.
TEST(YamlToJson, OnlyPrintableUtf8IsYaml) {
  EXPECT_THAT([] { load_yaml_documents("a: b\xff\n"); },
              ThrowsMessage<std::runtime_error>(HasSubstr("invalid UTF-8 at byte 4")));
  EXPECT_THAT([] { load_yaml_documents("a: \x19\n"); },
              ThrowsMessage<std::runtime_error>(HasSubstr("a non-printable character at byte 3")));
  EXPECT_THROW(load_yaml_documents("a: \xc0\xaf\n"), std::runtime_error) << "overlong";
  EXPECT_THROW(load_yaml_documents("a: \xed\xa0\x80\n"), std::runtime_error) << "a surrogate";
  EXPECT_EQ(load_yaml_documents("a: \"caf\xc3\xa9 \xf0\x9f\x8c\xb6\"\r\n")[0]["a"],
            "caf\xc3\xa9 \xf0\x9f\x8c\xb6");
}

// Found by fuzz/yaml_fuzzer.cpp (out of memory): aliases expanding to more
// nodes than any object has ("billion laughs").
TEST(YamlToJson, AliasBombsAreRefused) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 8; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  EXPECT_THAT([&] { load_yaml_documents(text); },
              ThrowsMessage<std::runtime_error>(HasSubstr("YAML too large")));
}

// Found by fuzz/yaml_fuzzer.cpp: yaml-cpp 0.7 reports empty documents for
// ever after a lone "," (and LoadAll fills memory); refused instead.
TEST(YamlToJson, AStreamThatNeverEndsIsRefused) {
  EXPECT_THAT([] { load_yaml_documents(",\n"); },
              ThrowsMessage<std::runtime_error>(HasSubstr("more than 10000 documents")));
}

TEST(YamlToJson, MultiDocumentSkipsEmptyDocuments) {
  auto documents = load_yaml_documents("---\na: 1\n---\n---\n# only a comment\n---\nb: [1, x]\n");
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0], json({{"a", 1}}));
  EXPECT_EQ(documents[1], json({{"b", {1, "x"}}}));
}

// Beyond a double, go-yaml (under kubectl) keeps the text: found by
// fuzz/yaml_fuzzer.cpp, as infinity does not round-trip through JSON.
TEST(YamlToJson, HugeNumbersBecomeFloatsOrStayText) {
  json doc =
      load_one("big: 99999999999999999999\nhuger: 1e999\nlong: " + std::string(400, '9') + "\n");
  EXPECT_TRUE(doc["big"].is_number_float());
  EXPECT_EQ(doc["huger"], "1e999");
  EXPECT_EQ(doc["long"], std::string(400, '9'));
}

// Found by fuzz/yaml_fuzzer.cpp: .nan read as NaN, which equals nothing, and
// JSON has no NaN or infinity; kubectl refuses them too.
TEST(YamlToJson, NonFiniteNumbersAreRefused) {
  for (const char* text : {"a: .nan\n", "\t\t\t.NAN", "a: [.inf]\n", "-.INF"}) {
    EXPECT_THROW(load_yaml_documents(text), std::runtime_error) << text;
  }
  EXPECT_EQ(load_one("a: '.nan'\n"), json({{"a", ".nan"}}));
}

TEST(YamlToJson, MalformedYamlThrows) {
  EXPECT_THROW(load_yaml_documents("a: [1, 2\n"), std::exception);
  EXPECT_THROW(load_yaml_file("/nonexistent/file.yaml"), std::runtime_error);
}

TEST(ToYaml, StringsThatLookTypedAreQuoted) {
  json doc = {{"port", "80"},      {"flag", "true"},       {"yes", "yes"},   {"null", "null"},
              {"empty", ""},       {"octal", "0777"},      {"hex", "0x1F"},  {"under", "1_000"},
              {"sexa", "1:20"},    {"date", "2024-01-01"}, {"float", "1e3"}, {"dot", ".5"},
              {"inf", "-.inf"},    {"plain", "hello"},     {"cpu", "200m"},  {"mem", "64Mi"},
              {"dash", "-c"},      {"ip", "10.0.0.1"},     {"number", 80},   {"bool", false},
              {"nothing", nullptr}};
  std::string text = to_yaml({doc});
  EXPECT_NE(text.find("port: \"80\""), std::string::npos) << text;
  EXPECT_NE(text.find("flag: \"true\""), std::string::npos) << text;
  EXPECT_NE(text.find("number: 80\n"), std::string::npos) << text;
  EXPECT_NE(text.find("plain: hello\n"), std::string::npos) << text;
  // Quantities and IPs stay plain: no YAML reader takes them for numbers.
  EXPECT_NE(text.find("cpu: 200m\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ip: 10.0.0.1\n"), std::string::npos) << text;
  for (const char* quoted : {"\"0x1F\"", "\"1_000\"", "\"1:20\"", "\"2024-01-01\"", "\"1e3\"",
                             "\"0777\"", "\"yes\"", "\"null\"", "\"\""}) {
    EXPECT_NE(text.find(quoted), std::string::npos) << quoted << " in " << text;
  }
  EXPECT_NE(text.find("nothing: null\n"), std::string::npos) << text;
  EXPECT_EQ(load_one(text), doc);
}

TEST(ToYaml, RoundTripsAwkwardValues) {
  json doc = {
      {"listen", R"([{"HTTP":80},{"HTTPS":443}])"},
      {"script", "line one\n  indented: two\nthree # not a comment\n"},
      {"no_trailing_newline", "a\nb"},
      {"two_trailing_newlines", "a\nb\n\n"},
      {"leading_space", "  a\nb\n"},
      {"leading_newline", "\na\n"},
      {"crlf", "a\r\nb\r\n"},
      {"tab", "a\tb"},
      {"colon", "a: b"},
      {"hash", "#x"},
      {"dash", "- item"},
      {"quote", "say \"hi\" and 'bye'"},
      {"backslash", "a\\b"},
      {"star", "*alias"},
      {"key with: colon", 1},
      {"123", "numeric key"},
      {"nested",
       {{"empty_map", json::object()}, {"empty_list", json::array()}, {"list", {1, "2", true}}}},
  };
  std::string text = to_yaml({doc, {{"second", 2}}});
  auto back = load_yaml_documents(text);
  ASSERT_EQ(back.size(), 2u) << text;
  EXPECT_EQ(back[0], doc) << text;
  EXPECT_EQ(back[1], json({{"second", 2}}));
}

// Found by fuzz/yaml_fuzzer.cpp: yaml-cpp reads a lone "\r" as a plain
// scalar but writes it back unescaped, where it reads as a line break (so the
// document was lost). Strings with CR or tab are now double-quoted.
TEST(ToYaml, CarriageReturnsAndTabsRoundTrip) {
  for (const std::string& text : {std::string("\r"), std::string("a\rb"), std::string("\r\r"),
                                  std::string("\ta"), std::string("a\t"), std::string("\t")}) {
    std::string yaml = to_yaml({json(text)});
    EXPECT_EQ(load_yaml_documents(yaml), std::vector<json>{json(text)}) << yaml;
    yaml = to_yaml({json{{"k", text}}});
    EXPECT_EQ(load_yaml_documents(yaml), (std::vector<json>{json{{"k", text}}})) << yaml;
  }
}

// Found by fuzz/yaml_fuzzer.cpp ("\t---"): a top-level string "---" was
// written as a second document marker and read back as no document at all.
// A string or key that starts with "---" or "..." is quoted.
TEST(ToYaml, DocumentMarkersRoundTrip) {
  for (const std::string& text : {std::string("---"), std::string("--- a"), std::string("..."),
                                  std::string("... a"), std::string("---a")}) {
    for (const json& document : {json(text), json{{text, 1}}, json::array({text})}) {
      const std::string yaml = to_yaml({document, {{"next", 2}}});
      EXPECT_EQ(load_yaml_documents(yaml), (std::vector<json>{document, {{"next", 2}}})) << yaml;
    }
  }
}

TEST(ToYaml, ScriptsAreLiteralBlocksAndEmptyContainersInline) {
  std::string text = to_yaml(
      {{{"script", "echo a\necho b\n"}, {"none", json::array()}, {"nothing", json::object()}}});
  EXPECT_EQ(text, "---\nnone: []\nnothing: {}\nscript: |\n  echo a\n  echo b\n");
}

TEST(ToYaml, IsDeterministicAndSeparatesDocuments) {
  json a = {{"kind", "A"}, {"apiVersion", "v1"}, {"metadata", {{"name", "x"}}}};
  std::string text = to_yaml({a, a});
  EXPECT_EQ(text, to_yaml({a, a}));
  EXPECT_EQ(text.rfind("---\napiVersion: v1\nkind: A\n", 0), 0u) << text;
  EXPECT_EQ(text,
            "---\napiVersion: v1\nkind: A\nmetadata:\n  name: x\n"
            "---\napiVersion: v1\nkind: A\nmetadata:\n  name: x\n");
}

}  // namespace
}  // namespace sreracha
