#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

// What is slow to make and the same for every test process (a PKI, an initdb cluster), made once per
// machine and user and shared by the processes ctest runs side by side: each test case runs in a process
// of its own, and each made its own before (a PKI is 0.6 to 1.1 CPU seconds of openssl, times some 200
// processes in a clean run).
namespace ehg::test {

// The directory made for `recipe`: the first process that needs it calls `make` with the empty directory,
// under a lock; the others wait for it and find it made. `recipe` names everything the result depends on
// (a script's text and arguments, a tool's version): a changed recipe gets a directory of its own, so a
// directory is never changed once made. Copy it before changing anything in it.
std::filesystem::path MadeOnce(const std::string& name, const std::string& recipe,
                               const std::function<void(const std::filesystem::path&)>& make);

// scripts/gen-certs ARGUMENTS... made once (on the day: the certificates' validity starts when they are
// made) and copied into `directory`, keys still 0600. `arguments` are gen-certs' own, without its DIR:
// "--engine" first if wanted, then the gateway ids.
void CopyTestPki(const std::filesystem::path& directory, const std::vector<std::string>& arguments);

}  // namespace ehg::test
