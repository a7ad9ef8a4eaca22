#include "gateway/transport/tls_diagnosis.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <variant>

namespace ehg::transport {
namespace {

struct FreeSslContext {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct FreeSsl {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct FreeAddresses {
  void operator()(addrinfo* list) const { freeaddrinfo(list); }
};

class Socket {
 public:
  explicit Socket(int descriptor) : descriptor_(descriptor) {}
  ~Socket() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return descriptor_; }

 private:
  int descriptor_;
};

std::string OpenSslErrors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    // "error:0A000086:SSL routines::certificate verify failed" -> the part after the last colon.
    std::string line = buffer;
    const auto colon = line.rfind(':');
    if (colon != std::string::npos) line = line.substr(colon + 1);
    if (!text.empty()) text += "; ";
    text += line;
  }
  return text.empty() ? "no detail from OpenSSL" : text;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// Connects with a deadline. Returns the socket, or the reason it failed.
std::variant<int, std::string> ConnectTcp(const BrokerAddress& address, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int error = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); error != 0) {
    return "cannot resolve broker host " + address.host + ": " + gai_strerror(error);
  }
  std::unique_ptr<addrinfo, FreeAddresses> list(found);
  std::string last_error = "no address";
  for (const addrinfo* entry = list.get(); entry != nullptr; entry = entry->ai_next) {
    const int descriptor = ::socket(entry->ai_family, entry->ai_socktype | SOCK_CLOEXEC, entry->ai_protocol);
    if (descriptor < 0) continue;
    const int flags = fcntl(descriptor, F_GETFL);
    fcntl(descriptor, F_SETFL, flags | O_NONBLOCK);
    int result = ::connect(descriptor, entry->ai_addr, entry->ai_addrlen);
    if (result != 0 && errno == EINPROGRESS) {
      pollfd poll_entry{descriptor, POLLOUT, 0};
      result = ::poll(&poll_entry, 1, static_cast<int>(timeout.count()));
      if (result == 0) {
        ::close(descriptor);
        last_error = "no answer within " + std::to_string(timeout.count()) + " ms";
        continue;
      }
      int socket_error = 0;
      socklen_t length = sizeof socket_error;
      getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &socket_error, &length);
      result = socket_error == 0 ? 0 : -1;
      errno = socket_error;
    }
    if (result != 0) {
      last_error = std::strerror(errno);
      ::close(descriptor);
      continue;
    }
    fcntl(descriptor, F_SETFL, flags);
    return descriptor;
  }
  return "broker not reachable at " + address.host + ":" + port + " (" + last_error + ")";
}

std::string DescribeCertificateTime(const ASN1_TIME* time) {
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, time);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return text;
}

std::string VerifyHint(long result) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return " (the broker's certificate is out of date, or this gateway's clock is wrong)";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return " (this gateway's clock may be behind)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return " (the certificate was issued for another name than the one in broker.uri)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return " (the broker's certificate is not signed by the CA in tls.ca_file)";
    default:
      return "";
  }
}

// Everything after TCP works: what TLS or the broker objects to.
std::string DiagnoseTls(const Socket& socket, const BrokerAddress& address, const TlsFiles* tls,
                        std::chrono::milliseconds timeout) {
  if (tls == nullptr) return "broker reachable over TCP; it refused the MQTT connection itself";

  ERR_clear_error();
  std::unique_ptr<SSL_CTX, FreeSslContext> context(SSL_CTX_new(TLS_client_method()));
  if (!context) return "cannot create a TLS context: " + OpenSslErrors();
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(context.get(), tls->ca_file.c_str(), nullptr) != 1) {
    return "cannot read the CA file " + tls->ca_file.string() + ": " + OpenSslErrors();
  }
  const bool client_certificate = !tls->cert_file.empty();
  if (client_certificate) {
    if (SSL_CTX_use_certificate_chain_file(context.get(), tls->cert_file.c_str()) != 1) {
      return "cannot read the client certificate " + tls->cert_file.string() + ": " + OpenSslErrors();
    }
    if (SSL_CTX_use_PrivateKey_file(context.get(), tls->key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return "cannot read the client key " + tls->key_file.string() + ": " + OpenSslErrors();
    }
    if (SSL_CTX_check_private_key(context.get()) != 1) {
      return "the client key " + tls->key_file.string() + " does not belong to the client certificate " +
             tls->cert_file.string();
    }
  }
  if (X509* own = SSL_CTX_get0_certificate(context.get())) {
    if (X509_cmp_current_time(X509_get0_notAfter(own)) < 0) {
      return "this gateway's client certificate expired on " +
             DescribeCertificateTime(X509_get0_notAfter(own));
    }
  }

  std::unique_ptr<SSL, FreeSsl> ssl(SSL_new(context.get()));
  SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* parameters = SSL_get0_param(ssl.get());
  if (IsIpAddress(address.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(parameters, address.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(parameters, address.host.c_str(), 0);
    // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(address.host.c_str()));
  }
  timeval wait{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  SSL_set_fd(ssl.get(), socket.get());

  if (SSL_connect(ssl.get()) != 1) {
    const long verify = SSL_get_verify_result(ssl.get());
    if (verify != X509_V_OK) {
      return std::string("server certificate rejected: ") + X509_verify_cert_error_string(verify) +
             VerifyHint(verify);
    }
    const std::string errors = OpenSslErrors();
    if (errors.find("alert") != std::string::npos) {
      return "the broker ended the TLS handshake (" + errors + "): " +
             (client_certificate ? "it does not accept this gateway's client certificate"
                                 : "it requires a client certificate and none is configured");
    }
    return "TLS handshake failed: " + errors;
  }
  // With TLS 1.3 the broker judges our certificate after the handshake; its verdict is the first
  // thing it sends. An MQTT broker otherwise waits for CONNECT, so silence means it accepted us.
  const timeval short_wait{1, 0};
  setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &short_wait, sizeof short_wait);
  char byte = 0;
  ERR_clear_error();
  if (SSL_read(ssl.get(), &byte, 1) <= 0) {
    const std::string errors = OpenSslErrors();
    if (errors.find("alert") != std::string::npos) {
      return client_certificate
                 ? "the broker refused this gateway's client certificate (" + errors + ")"
                 : "the broker requires a client certificate and none is configured (" + errors + ")";
    }
  }
  return "TLS with the broker works and it accepted the client certificate; it refused the MQTT "
         "connection itself";
}

}  // namespace

ConnectDiagnosis DiagnoseBrokerConnection(const BrokerAddress& address, const std::optional<TlsFiles>& tls,
                                          std::chrono::milliseconds timeout) {
  auto connected = ConnectTcp(address, timeout);
  // Not reachable: the network or the broker is down, which passes by itself (or is someone else's).
  if (auto* reason = std::get_if<std::string>(&connected)) return {*reason, false};
  const Socket socket(std::get<int>(connected));
  // Reachable but refused: certificates, files or the broker's configuration need a person.
  return {DiagnoseTls(socket, address, tls ? &*tls : nullptr, timeout), true};
}

}  // namespace ehg::transport
