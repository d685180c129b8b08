// WatchDecoder: turns the body of a watch response into events.
//
// The API server writes one JSON object per line ({"type":..,"object":..}\n).
// The body arrives in pieces of any size: one event may span many reads (a
// 1 MiB object arrives in dozens), and one read may hold many events. The
// decoder keeps the unfinished line between reads; it does no I/O, so every
// split can be tested without a server.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "kube/client.h"

namespace kube {

// Larger than any object the API server stores (its request limit is 3 MiB,
// etcd's default value limit 1.5 MiB): only a broken stream gets here, and
// it must not take all memory first.
inline constexpr std::size_t kMaxWatchEventBytes = 64u << 20;

// A watch event that is not one: not JSON, no "type", or too large. The
// message never quotes the bytes (they may be a Secret's).
class WatchDecodeError : public Error {
 public:
  using Error::Error;
};

// Parses one line of a watch stream; with drop_managed_fields, the event's
// object comes without metadata.managedFields. Throws WatchDecodeError.
WatchEvent decode_watch_event(std::string_view line, bool drop_managed_fields = false);

class WatchDecoder {
 public:
  explicit WatchDecoder(std::size_t max_event_bytes = kMaxWatchEventBytes,
                        bool drop_managed_fields = false)
      : max_event_bytes_(max_event_bytes), drop_managed_fields_(drop_managed_fields) {}

  // Takes the next bytes of the body and hands every event they complete to
  // on_event, in order. Returns false as soon as on_event does (the rest is
  // dropped). Blank lines are skipped; "\r\n" ends a line too.
  bool feed(std::string_view bytes, const std::function<bool(WatchEvent&&)>& on_event);
  // The body ended: an unterminated last line is an event too.
  bool finish(const std::function<bool(WatchEvent&&)>& on_event);

  // Bytes of the unfinished line held between reads.
  std::size_t pending() const { return partial_.size(); }

 private:
  bool emit(std::string_view line, const std::function<bool(WatchEvent&&)>& on_event);
  // Emits partial_ and empties it, keeping its buffer for the next line: a
  // fresh buffer grown by doubling for every event that spans reads (most
  // of them) was the operator's largest CPU cost at scale, mostly glibc's
  // consolidation of freed chunks that each large allocation starts. A
  // buffer grown for an unusually large event is given back.
  bool emit_partial(const std::function<bool(WatchEvent&&)>& on_event);
  static constexpr std::size_t kKeptLineBytes = 1u << 20;

  std::size_t max_event_bytes_;
  bool drop_managed_fields_;
  std::string partial_;
};

}  // namespace kube
