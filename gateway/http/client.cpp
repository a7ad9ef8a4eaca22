#include "gateway/http/client.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/StreamCopier.h>

#include <sstream>

namespace ehg::http {
namespace {

struct SslLibrary {
  SslLibrary() { Poco::Net::initializeSSL(); }
  ~SslLibrary() { Poco::Net::uninitializeSSL(); }
  SslLibrary(const SslLibrary&) = delete;
  SslLibrary& operator=(const SslLibrary&) = delete;
};

std::string ReachableHost(const std::string& host) {
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

// One request on a connected socket, "Connection: close", the body read to the end.
Result<std::string> Exchange(Poco::Net::StreamSocket& socket, const std::string& host,
                             const FetchOptions& options) {
  socket.setReceiveTimeout(Poco::Timespan(10, 0));
  Poco::Net::SocketStream stream(socket);
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, options.path,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setHost(host, static_cast<Poco::UInt16>(options.port));
  request.set("Connection", "close");
  if (!options.token.empty()) request.set("Authorization", "Bearer " + options.token);
  request.write(stream);
  stream.flush();
  Poco::Net::HTTPResponse response;
  response.read(stream);
  std::ostringstream text;
  Poco::StreamCopier::copyStream(stream, text);
  if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
    return Fail(Errc::kRejected, "the status page answered " + std::to_string(response.getStatus()) + " " +
                                     response.getReason() + ": " + text.str());
  }
  return text.str();
}

}  // namespace

Result<std::string> Fetch(const FetchOptions& options) {
  const std::string host = ReachableHost(options.host);
  try {
    const Poco::Net::SocketAddress address(host, static_cast<Poco::UInt16>(options.port));
    if (options.pinned_cert_file.empty()) {
      Poco::Net::StreamSocket socket(address);
      return Exchange(socket, host, options);
    }
    const SslLibrary ssl;
    // The status page's certificate is the gateway's own (often self-signed): pinned, not chained.
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;
    params.loadDefaultCAs = false;
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    context->enableExtendedCertificateVerification(false);  // the pin below replaces the host name check
    Poco::Net::SecureStreamSocket socket(address, context);
    socket.completeHandshake();
    const Poco::Net::X509Certificate pinned(options.pinned_cert_file.string());
    if (!socket.havePeerCertificate() || !socket.peerCertificate().equals(pinned)) {
      return Fail(Errc::kIo, "the server at " + host + ":" + std::to_string(options.port) +
                                 " did not present the status page certificate " +
                                 options.pinned_cert_file.string() + ": nothing was sent");
    }
    return Exchange(socket, host, options);
  } catch (const Poco::Net::ConnectionRefusedException&) {
    return Fail(Errc::kUnavailable, "nothing listens on " + host + ":" + std::to_string(options.port) +
                                        ": is the gateway running, with its status page enabled?");
  } catch (const Poco::Exception& error) {
    return Fail(Errc::kUnavailable, "cannot read the status from " + host + ":" +
                                        std::to_string(options.port) + ": " + error.displayText());
  }
}

}  // namespace ehg::http
