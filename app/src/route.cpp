#include "route.h"

#include "eightball.h"
#include "json.h"

namespace sreracha {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Response text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;  // needs two hex digits
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::vector<QueryParam>> parse_query(std::string_view query) {
  std::vector<QueryParam> params;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2" and a trailing '&' are harmless
    std::size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    params.push_back({std::move(*key), std::move(*value)});
  }
  return params;
}

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

Response route(std::string_view method, std::string_view target, const CounterSnapshot& counter,
               std::size_t answer_index) {
  if (target.size() > kMaxTargetLength) {
    return text(414, "request target too long: at most 8192 bytes\n");
  }
  // Origin form only ("/..."); a fragment never belongs in a request.
  if (target.empty() || target.front() != '/' || target.find('#') != std::string_view::npos) {
    return text(400, "malformed request target: expected /?q=<anything>\n");
  }
  std::size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  if (path != "/") {
    return text(404, "not found: the only resource is /?q=<anything>\n");
  }
  if (method != "GET" && method != "HEAD") {
    Response r = text(405, "method not allowed: use GET or HEAD\n");
    r.allow = "GET, HEAD";
    return r;
  }
  std::optional<std::vector<QueryParam>> params;
  if (question != std::string_view::npos) {
    params = parse_query(target.substr(question + 1));
    if (!params) return text(400, "malformed query string: bad percent-encoding\n");
  }
  const QueryParam* q = nullptr;
  if (params) {
    for (const QueryParam& p : *params) {
      if (p.key == "q") {
        q = &p;
        break;
      }
    }
  }
  if (q == nullptr) {
    return text(400, "missing query parameter q: ask with /?q=<anything>, e.g. /?q=1\n");
  }

  Response r;
  r.content_type = "application/json";
  if (q->value == "healthz") {
    r.body = "{\"status\":\"ok\"}\n";
    return r;
  }
  r.body.reserve(128);
  r.body += "{\"answer\":";
  append_json_string(r.body, kEightBallAnswers[answer_index % kEightBallAnswers.size()]);
  if (counter.available) {
    r.body += ",\"count\":";
    r.body += std::to_string(counter.count);
    r.body += ",\"fizzbuzz\":";
    append_json_string(r.body, fizzbuzz(counter.count));
    r.body += ",\"counter\":\"ok\"}\n";
  } else {
    r.body += ",\"count\":null,\"fizzbuzz\":null,\"counter\":";
    append_json_string(r.body, std::string("unavailable: ").append(counter.reason));
    r.body += "}\n";
  }
  return r;
}

}  // namespace sreracha
