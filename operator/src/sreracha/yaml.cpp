#include "sreracha/yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace sreracha {

using json = nlohmann::json;

namespace {

bool one_of(std::string_view text, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), text) != words.end();
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Skips digits from `i`; returns how many.
size_t skip_digits(std::string_view text, size_t& i) {
  size_t start = i;
  while (i < text.size() && is_digit(text[i])) ++i;
  return i - start;
}

size_t skip_sign(std::string_view text) {
  return !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
}

// [-+]?[0-9]+
bool is_decimal_int(std::string_view text) {
  size_t i = skip_sign(text);
  return skip_digits(text, i) > 0 && i == text.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_decimal_float(std::string_view text) {
  size_t i = skip_sign(text);
  size_t whole = skip_digits(text, i);
  size_t fraction = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    fraction = skip_digits(text, i);
  }
  if (whole == 0 && fraction == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    i += skip_sign(text.substr(i));
    if (skip_digits(text, i) == 0) return false;
  }
  return i == text.size();
}

// YAML's infinities and NaN: numbers to YAML, but JSON has no form for them.
bool is_non_finite_word(const std::string& text) {
  return one_of(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                       ".nan", ".NaN", ".NAN"});
}

// A number YAML reads as a float, or the text itself where it is beyond a
// double (go-yaml keeps "1e999" a string; found by fuzz/yaml_fuzzer.cpp).
json float_or_text(const std::string& text) {
  const double value = std::strtod(text.c_str(), nullptr);
  if (std::isfinite(value)) return value;
  return text;
}

// The YAML 1.1 words sigs.k8s.io/yaml (go-yaml v2, under kubectl) resolves.
json resolve_plain(const std::string& text) {
  if (text.empty() || one_of(text, {"~", "null", "Null", "NULL"})) return nullptr;
  if (one_of(text, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    return true;
  }
  if (one_of(text, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    return false;
  }
  if (is_decimal_int(text)) {
    const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
    int64_t value = 0;
    auto [end, err] = std::from_chars(begin, text.data() + text.size(), value);
    if (err == std::errc() && end == text.data() + text.size()) return value;
    return float_or_text(text);  // beyond int64: YAML readers use a float
  }
  if (is_decimal_float(text)) return float_or_text(text);
  // kubectl fails the same way (json: unsupported value: +Inf); found by
  // fuzz/yaml_fuzzer.cpp, as NaN made no document equal itself.
  if (is_non_finite_word(text)) {
    throw std::runtime_error("YAML value " + text +
                             " is not a finite number, and Kubernetes objects are JSON, which has "
                             "none; quote it to make it a string");
  }
  return text;
}

// A string that a YAML reader would take for a null, bool or number must be
// quoted to stay a string. YAML 1.1 also reads hex, octal, binary, "1_000"
// and "1:20" as numbers; rather than parse each, anything that starts like a
// number and holds only number-ish characters is quoted. Over-quoting costs
// nothing; quantities like 100m or 64Mi, and IPs like 10.0.0.1 (no number
// has two dots), stay plain.
bool looks_typed(const std::string& text) {
  if (is_non_finite_word(text) || resolve_plain(text).type() != json::value_t::string) return true;
  std::string_view rest = std::string_view(text).substr(skip_sign(text));
  if (rest.size() > 1 && rest[0] == '.') rest.remove_prefix(1);
  if (rest.empty() || !is_digit(rest[0])) return false;
  return rest.find_first_not_of("0123456789abcdefABCDEFxXoO_:.+-") == std::string_view::npos &&
         std::count(rest.begin(), rest.end(), '.') < 2;
}

// A line that starts with "---" or "..." can end the document, so such a
// string is quoted wherever it lands: a top-level scalar "---" came back as
// two empty documents (found by fuzz/yaml_fuzzer.cpp).
bool starts_like_document_marker(std::string_view text) {
  return text.starts_with("---") || text.starts_with("...");
}

bool must_quote(const std::string& text) {
  return looks_typed(text) || starts_like_document_marker(text);
}

// Literal blocks read back with exactly one final newline (clip chomping)
// and take their indentation from the first line, so only text of that shape
// is written as one (minus the final newline, which the reader restores);
// anything else is double-quoted with escapes.
bool fits_literal_block(const std::string& text) {
  return text.size() >= 2 && text.back() == '\n' && text[text.size() - 2] != '\n' &&
         text.front() != ' ' && text.front() != '\n' && text.find('\r') == std::string::npos;
}

void emit(YAML::Emitter& out, const json& value) {
  // Empty containers as "{}" and "[]" on the key's line.
  if ((value.is_object() || value.is_array()) && value.empty()) out << YAML::Flow;
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        if (must_quote(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (fits_literal_block(text)) {
        // Scripts stay readable.
        out << YAML::Literal << text.substr(0, text.size() - 1);
        break;
      }
      // yaml-cpp writes CR and tab raw in plain scalars, where a reader takes
      // them for line breaks and trimmed whitespace; escaped, they survive.
      if (text.find_first_of("\n\r\t") != std::string::npos || must_quote(text)) {
        out << YAML::DoubleQuoted;
      }
      out << text;
      break;
    }
    case json::value_t::boolean:
      out << value.get<bool>();
      break;
    case json::value_t::number_integer:
      out << value.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << value.get<uint64_t>();
      break;
    case json::value_t::number_float:
      out << value.get<double>();
      break;
    case json::value_t::null:
    case json::value_t::discarded:
    case json::value_t::binary:
      out << YAML::Null;
      break;
  }
}

}  // namespace

namespace {

// Aliases let a few hundred bytes name a billion nodes (yaml-cpp shares
// them; JSON copies them), and nesting can exhaust the stack: found by
// fuzz/yaml_fuzzer.cpp. No object the operator reads comes near these.
constexpr std::size_t kMaxNodes = 100'000;
constexpr int kMaxDepth = 512;

json convert(const YAML::Node& node, std::size_t& budget, int depth) {
  if (budget == 0) {
    throw std::runtime_error("YAML too large: more than " + std::to_string(kMaxNodes) +
                             " nodes once its aliases are expanded");
  }
  --budget;
  if (depth > kMaxDepth) {
    throw std::runtime_error("YAML nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted and block scalars "!" and plain ones "?"; an
      // explicit tag (e.g. !!str) also means "take the text as written".
      if (node.Tag() == "?") return resolve_plain(node.Scalar());
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(convert(item, budget, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) {
        out[item.first.as<std::string>()] = convert(item.second, budget, depth + 1);
      }
      return out;
    }
  }
  return nullptr;
}

}  // namespace

json yaml_to_json(const YAML::Node& node) {
  std::size_t budget = kMaxNodes;
  return convert(node, budget, 0);
}

namespace {

// YAML 1.2 streams are UTF-8 of printable characters (5.1: tab, LF, CR,
// NEL and the printable ranges); yaml-cpp takes other bytes as they come,
// and what it then reads neither prints as JSON nor round-trips through
// to_yaml (found by fuzz/yaml_fuzzer.cpp). Throws std::runtime_error naming
// the first bad byte's offset.
void check_printable_utf8(std::string_view text) {
  auto refuse = [](std::size_t at, const char* what) {
    throw std::runtime_error("not YAML: " + std::string(what) + " at byte " + std::to_string(at));
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = lead < 0x80           ? 1
                         : (lead >> 5) == 0x6  ? 2
                         : (lead >> 4) == 0xE  ? 3
                         : (lead >> 3) == 0x1E ? 4
                                               : 0;
    if (length == 0 || i + length > text.size()) refuse(i, "invalid UTF-8");
    char32_t c = length == 1 ? lead : lead & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) refuse(i, "invalid UTF-8");
      c = (c << 6) | (next & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kMin[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      refuse(i, "invalid UTF-8");
    }
    const bool printable = c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0x7E) ||
                           c == 0x85 || (c >= 0xA0 && c <= 0xD7FF) ||
                           (c >= 0xE000 && c <= 0xFFFD) || c >= 0x10000;
    if (!printable) refuse(i, "a non-printable character");
    i += length;
  }
}

// yaml-cpp 0.7 (Debian's) can report document after empty document for
// ever on some malformed input (a lone ","; jbeder/yaml-cpp#1040, fixed
// upstream in 0.8.1), and YAML::LoadAll then fills memory. A first pass that
// keeps nothing counts the documents and gives up past a bound no real
// stream reaches. Found by fuzz/yaml_fuzzer.cpp.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};
constexpr int kMaxDocuments = 10'000;

void check_document_count(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  for (int documents = 0; parser.HandleNextDocument(counter);) {
    if (++documents > kMaxDocuments) {
      throw std::runtime_error("not YAML that can be read: more than " +
                               std::to_string(kMaxDocuments) + " documents");
    }
  }
}

}  // namespace

std::vector<json> load_yaml_documents(const std::string& text) {
  check_printable_utf8(text);
  check_document_count(text);
  std::vector<json> documents;
  for (const auto& node : YAML::LoadAll(text)) {
    json document = yaml_to_json(node);
    if (!document.is_null()) documents.push_back(std::move(document));
  }
  return documents;
}

std::vector<json> load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return load_yaml_documents(text.str());
}

std::string to_yaml(const std::vector<json>& documents) {
  std::string text;
  for (const auto& document : documents) {
    YAML::Emitter out;
    out.SetIndent(2);
    out.SetNullFormat(YAML::LowerNull);
    out.SetSeqFormat(YAML::Block);
    out.SetMapFormat(YAML::Block);
    emit(out, document);
    if (!out.good()) throw std::runtime_error("cannot emit YAML: " + out.GetLastError());
    text += "---\n";
    text += out.c_str();
    text += "\n";
  }
  return text;
}

}  // namespace sreracha
