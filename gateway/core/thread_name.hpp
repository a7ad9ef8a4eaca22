#pragma once

#include <string_view>

namespace ehg::core {

// Names the calling thread (at most 15 characters are kept), so `top -H`, `ps -L` and a debugger show
// which part of the gateway a thread is: the installer's first question when one of them spins.
void NameThisThread(std::string_view name);

}  // namespace ehg::core
