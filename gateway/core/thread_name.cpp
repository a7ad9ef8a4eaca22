#include "gateway/core/thread_name.hpp"

#include <pthread.h>

#include <string>

namespace ehg::core {

void NameThisThread(std::string_view name) {
  const std::string kept(name.substr(0, 15));  // the kernel's limit (16 with the terminator)
  pthread_setname_np(pthread_self(), kept.c_str());
}

}  // namespace ehg::core
