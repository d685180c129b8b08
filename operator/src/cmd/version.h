// The operator's version, from CMake's project(VERSION).
#pragma once

namespace sreracha {
const char* version();
}
