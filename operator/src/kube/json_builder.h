// JsonBuilder: builds a json value from nlohmann's SAX events (json::sax_parse,
// from JSON text or CBOR) as json::parse builds it (the last of duplicate
// keys wins), except for the object members its filter leaves out: those are
// never allocated, which is the point. A watch event's managedFields, or all
// but the metadata of a cached object, cost nothing to leave out this way;
// building the whole tree and erasing them after costs their every node.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kube {

enum class Member {
  Keep,
  Skip,  // leave this member out
  Stop,  // leave out this member and everything after it: the parse ends here
};

// Filter: Member operator()(const std::vector<std::string>& path,
//                           const std::string& key)
// path: the keys leading to the object that holds `key` ("" for an element
// of an array); empty for the members of the top-level value.
template <typename Filter>
class JsonBuilder {
 public:
  using json = nlohmann::json;

  explicit JsonBuilder(Filter filter = {}) : filter_(std::move(filter)) {}

  // After json::sax_parse returned false: the filter stopped it (root() is
  // what was kept), or the input is bad (error_id() and error_position()).
  bool stopped() const { return stopped_; }
  json& root() { return root_; }
  int error_id() const { return error_id_; }
  std::size_t error_position() const { return error_position_; }

  // The SAX interface (nlohmann::json_sax).
  bool null() { return put(json(nullptr)); }
  bool boolean(bool value) { return put(json(value)); }
  bool number_integer(json::number_integer_t value) { return put(json(value)); }
  bool number_unsigned(json::number_unsigned_t value) { return put(json(value)); }
  bool number_float(json::number_float_t value, const json::string_t&) { return put(json(value)); }
  bool string(json::string_t& value) { return put(json(std::move(value))); }
  bool binary(json::binary_t& value) { return put(json::binary(std::move(value))); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& key) {
    if (skip_depth_ > 0) return true;
    switch (filter_(path_, key)) {
      case Member::Keep:
        key_ = std::move(key);
        return true;
      case Member::Skip:
        skip_next_ = true;
        return true;
      case Member::Stop:
        stopped_ = true;
        return false;
    }
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_position_ = position;
    error_id_ = e.id;
    return false;
  }

 private:
  // True while the value at hand is left out (and uses up a pending skip).
  bool skipping() {
    if (skip_depth_ > 0) return true;
    if (!skip_next_) return false;
    skip_next_ = false;
    return true;
  }

  bool put(json&& value) {
    if (!skipping()) insert(std::move(value));
    return true;
  }

  bool open(json&& container) {
    if (skipping()) {
      ++skip_depth_;
      return true;
    }
    if (!open_.empty()) path_.push_back(open_.back()->is_object() ? key_ : std::string());
    open_.push_back(insert(std::move(container)));
    return true;
  }

  bool close() {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    open_.pop_back();
    if (!path_.empty()) path_.pop_back();
    return true;
  }

  // Only the innermost open container grows, so pointers to the open ones
  // stay valid (an array's open element is its last).
  json* insert(json&& value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[std::move(key_)];
    slot = std::move(value);
    return &slot;
  }

  Filter filter_;
  json root_;
  std::vector<json*> open_;
  std::vector<std::string> path_;  // one key per open container below the root
  json::string_t key_;
  bool skip_next_ = false;
  std::size_t skip_depth_ = 0;
  bool stopped_ = false;
  std::size_t error_position_ = 0;
  int error_id_ = 0;
};

}  // namespace kube
