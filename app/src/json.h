// The one piece of JSON the app writes by hand: a string, escaped.
#pragma once

#include <string>
#include <string_view>

namespace sreracha {

// Appends s to out as a JSON string, quotes included; control characters
// are \u-escaped, other bytes copied (the app only ever writes UTF-8).
void append_json_string(std::string& out, std::string_view s);

}  // namespace sreracha
