#include "cmd/version.h"

namespace sreracha {
const char* version() { return SRERACHA_VERSION; }
}  // namespace sreracha
