#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "gateway/core/result.hpp"

// Reading a file that a config or a command line names, without trusting the name: only a regular file
// is read (a FIFO would block the reader until a writer comes, a device never ends, a directory is no
// content), never more than a limit that fits what the file is, and a secret only when no other user may
// read it, and a trust anchor only when no other user may write it. Opening never blocks and never acts
// on a device: the type is checked on an O_PATH descriptor and the file opened through it (fstat again),
// so a name swapped for a FIFO, a tty or a symbolic link to /dev/zero between a check and the open
// changes nothing. Symbolic links are followed (configs point at certificates through them); what they lead
// to is what is checked.
namespace ehg::core {

// Size limits by kind of file: far above any real file of that kind, far below what could hurt a
// gateway with 512 MiB of memory.
inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kMaxConfigFileBytes = 4 * kMiB;       // the JSON config
inline constexpr std::uint64_t kMaxKeyFileBytes = 64 * kKiB;         // a PEM or JWK key, a JWK Set of keys
inline constexpr std::uint64_t kMaxCertificateFileBytes = 1 * kMiB;  // PEM certificates, a CA bundle too
inline constexpr std::uint64_t kMaxTokenFileBytes = 4 * kKiB;        // the status page token
inline constexpr std::uint64_t kMaxOutcomeFileBytes = 64 * kKiB;     // the update helper's outcome
inline constexpr std::uint64_t kMaxCaptureFileBytes = 64 * kMiB;     // `decode --file`: raw device bytes
// `replay --readings`: read line by line in bounded memory, so the limit only bounds the time a mistaken
// path can take (about a minute per GiB).
inline constexpr std::uint64_t kMaxReadingsFileBytes = 16 * 1024 * kMiB;

// What a file is, for the limit and for error messages ("TLS private key /etc/x.key is a FIFO ...").
struct FileKind {
  std::string_view what;  // "config file", "TLS private key", ...
  std::uint64_t max_bytes = 0;
  // Refused when its group or other users have any permission on it (like the gateway's signing key).
  bool secret = false;
  // Decides whom the gateway trusts (the config, the care system's keys, the CA): refused when its group
  // or other users may write it, or when it lies in a directory every user may write to (without the
  // sticky bit).
  bool trust_anchor = false;
};

inline constexpr FileKind kConfigFile{"config file", kMaxConfigFileBytes, false, true};
inline constexpr FileKind kCaFile{"CA certificate file", kMaxCertificateFileBytes, false, true};
inline constexpr FileKind kCertificateFile{"certificate file", kMaxCertificateFileBytes, false, false};
inline constexpr FileKind kTlsKeyFile{"TLS private key", kMaxKeyFileBytes, true, false};
inline constexpr FileKind kGatewayKeyFile{"gateway key", kMaxKeyFileBytes, true, false};
inline constexpr FileKind kPublicKeyFile{"key file", kMaxKeyFileBytes, false, true};
inline constexpr FileKind kPrivateKeyFile{"private key", kMaxKeyFileBytes, true, false};
inline constexpr FileKind kTokenFile{"token file", kMaxTokenFileBytes, true, false};
inline constexpr FileKind kOutcomeFile{"update outcome file", kMaxOutcomeFileBytes, false, false};
inline constexpr FileKind kCaptureFile{"capture file", kMaxCaptureFileBytes, false, false};
inline constexpr FileKind kReadingsFile{"readings file", kMaxReadingsFileBytes, false, false};

// "64 KiB", "4 MiB": for messages.
std::string DescribeBytes(std::uint64_t bytes);

// An open, checked, read-only regular file. Owns its descriptor.
class CheckedFile {
 public:
  CheckedFile(CheckedFile&& other) noexcept;
  CheckedFile& operator=(CheckedFile&& other) noexcept;
  CheckedFile(const CheckedFile&) = delete;
  CheckedFile& operator=(const CheckedFile&) = delete;
  ~CheckedFile();

  int descriptor() const { return descriptor_; }
  std::uint64_t size() const { return size_; }  // when it was opened
  // Whether its group or other users have any permission on it (checked only for a secret kind; a key
  // file that turns out to hold a private key asks afterwards).
  bool others_may_access() const { return others_may_access_; }
  // Hands the descriptor over: the caller closes it.
  int Release();

 private:
  friend Result<CheckedFile> OpenCheckedFile(const std::filesystem::path&, const FileKind&);
  explicit CheckedFile(int descriptor) : descriptor_(descriptor) {}

  int descriptor_ = -1;
  std::uint64_t size_ = 0;
  bool others_may_access_ = false;
};

// Opens `path` for reading, never blocking, and refuses (message naming `kind.what` and the path):
//   Errc::kNotFound         it does not exist
//   Errc::kIo               it cannot be opened or read (permissions)
//   Errc::kInvalidArgument  it is not a regular file (the message names what it is), or larger than
//                           kind.max_bytes
//   Errc::kRejected         a secret that the group or others may access, with the chmod that fixes it
Result<CheckedFile> OpenCheckedFile(const std::filesystem::path& path, const FileKind& kind);

// The whole file, after the checks of OpenCheckedFile; at most kind.max_bytes are ever read (a file
// that grows past the limit while it is read is refused as too large).
Result<std::string> ReadCheckedFile(const std::filesystem::path& path, const FileKind& kind);
// The rest of an opened file, with the same limit.
Result<std::string> ReadAll(CheckedFile& file, const std::filesystem::path& path, const FileKind& kind);

// "<what> <path> may be read by other users; fix it with: chmod 600 <path> (and chown it to the service
// user)": the refusal of a secret others may access (Errc::kRejected).
Error OthersMayReadError(const FileKind& kind, const std::filesystem::path& path);

// Whether `error` came from the checks above because the input is not there or not a file that can be
// read (exit code 66, EX_NOINPUT, for a command line tool), rather than from its content or mode.
bool IsUnusableInput(const Error& error);

}  // namespace ehg::core
