#include "kube/watch_decoder.h"

#include <string>
#include <vector>

#include "kube/json_builder.h"

namespace kube {

namespace {

// Leaves out object.metadata.managedFields when asked.
struct ManagedFieldsFilter {
  bool drop = false;
  Member operator()(const std::vector<std::string>& path, const std::string& key) const {
    return drop && key == "managedFields" && path.size() == 2 && path[0] == "object" &&
                   path[1] == "metadata"
               ? Member::Skip
               : Member::Keep;
  }
};

}  // namespace

WatchEvent decode_watch_event(std::string_view line, bool drop_managed_fields) {
  JsonBuilder<ManagedFieldsFilter> builder({drop_managed_fields});
  if (!json::sax_parse(line.begin(), line.end(), &builder)) {
    // Parse errors are 1xx. Anything else is valid syntax the parser still
    // refuses: a number beyond double's range (out_of_range 406), found by
    // fuzz/watch_decoder_fuzzer.cpp. Neither message quotes the bytes.
    if (builder.error_id() >= 100 && builder.error_id() < 200) {
      throw WatchDecodeError("malformed watch event (" + std::to_string(line.size()) +
                             " bytes): not JSON at byte " +
                             std::to_string(builder.error_position()));
    }
    throw WatchDecodeError("malformed watch event (" + std::to_string(line.size()) +
                           " bytes): refused by the JSON parser (error " +
                           std::to_string(builder.error_id()) + ")");
  }
  json& event = builder.root();
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) {
    throw WatchDecodeError("malformed watch event (" + std::to_string(line.size()) +
                           " bytes): no \"type\"");
  }
  auto object = event.find("object");
  return WatchEvent{event["type"].get<std::string>(),
                    object == event.end() ? json() : std::move(*object)};
}

bool WatchDecoder::feed(std::string_view bytes, const std::function<bool(WatchEvent&&)>& on_event) {
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      if (partial_.size() + bytes.size() > max_event_bytes_) {
        throw WatchDecodeError("watch event larger than " + std::to_string(max_event_bytes_) +
                               " bytes");
      }
      partial_.append(bytes);
      return true;
    }
    bool go_on = true;
    if (partial_.empty()) {
      go_on = emit(bytes.substr(0, newline), on_event);  // the whole line is in this read
    } else {
      partial_.append(bytes.substr(0, newline));
      go_on = emit_partial(on_event);
    }
    if (!go_on) return false;
    bytes.remove_prefix(newline + 1);
  }
  return true;
}

bool WatchDecoder::finish(const std::function<bool(WatchEvent&&)>& on_event) {
  return emit_partial(on_event);
}

bool WatchDecoder::emit_partial(const std::function<bool(WatchEvent&&)>& on_event) {
  // The line is gone once handed out, also when it (or the handler) threw.
  const auto release = [this] {
    partial_.clear();
    if (partial_.capacity() > kKeptLineBytes) partial_.shrink_to_fit();
  };
  try {
    const bool go_on = emit(partial_, on_event);
    release();
    return go_on;
  } catch (...) {
    release();
    throw;
  }
}

bool WatchDecoder::emit(std::string_view line, const std::function<bool(WatchEvent&&)>& on_event) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return true;
  if (line.size() > max_event_bytes_) {
    throw WatchDecodeError("watch event larger than " + std::to_string(max_event_bytes_) +
                           " bytes");
  }
  return on_event(decode_watch_event(line, drop_managed_fields_));
}

}  // namespace kube
