#include "gateway/http/server.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <mutex>

#include "gateway/core/bounded_file.hpp"
#include "gateway/core/log.hpp"
#include "gateway/http/access.hpp"

namespace ehg::http {

struct StatusServer::Impl {
  ServerOptions options;
  bool require_token = false;
  bool tls = false;
  std::mutex limiter_mutex;
  AuthLimiter limiter;
  std::atomic<std::uint64_t> auth_refusals{0};
  Poco::ThreadPool pool{1, 2};
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::uint16_t port = 0;

  ~Impl() {
    if (server) server->stopAll(true);
    pool.joinAll();
    if (tls) Poco::Net::uninitializeSSL();
  }

  // Answers 401/429 and returns false when the request may not see anything.
  bool Authorised(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    if (!require_token) return true;
    const std::string client = request.clientAddress().host().toString();
    const core::SteadyTime now = std::chrono::steady_clock::now();
    std::unique_lock lock(limiter_mutex);
    if (const auto wait = limiter.LockedOut(client, now)) {
      lock.unlock();
      ++auth_refusals;
      response.set("Retry-After", std::to_string(wait->count()));
      Send(response, Poco::Net::HTTPResponse::HTTP_TOO_MANY_REQUESTS, "text/plain; charset=utf-8",
           "too many wrong tokens: try again in " + std::to_string(wait->count()) + " s\n", request);
      return false;
    }
    const std::optional<std::string> token =
        request.has("Authorization") ? TokenFromAuthorization(request.get("Authorization")) : std::nullopt;
    if (token && TokensEqual(options.token, *token)) {
      limiter.Succeeded(client);
      return true;
    }
    // No credentials at all is how every browser starts: it gets the login prompt, nothing is counted.
    if (token || request.has("Authorization")) {
      limiter.Failed(client, now);
      lock.unlock();
      ++auth_refusals;
      core::LogWarning("status page: wrong token", {{"client", client}});
    } else {
      lock.unlock();
    }
    response.set("WWW-Authenticate", "Basic realm=\"ehealth-gateway status\", charset=\"UTF-8\"");
    Send(response, Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
         "the status token is required (user name: anything, password: the token)\n", request);
    return false;
  }

  static void Send(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus status,
                   const std::string& content_type, const std::string& body,
                   const Poco::Net::HTTPServerRequest& request) {
    response.setStatus(status);
    response.setContentType(content_type);
    response.set("Cache-Control", "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    response.set("Referrer-Policy", "no-referrer");
    response.set("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
                 "form-action 'none'");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    std::ostream& out = response.send();
    if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_HEAD) out << body;
  }

  void Handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    using Poco::Net::HTTPResponse;
    const std::string& method = request.getMethod();
    if (method != Poco::Net::HTTPRequest::HTTP_GET && method != Poco::Net::HTTPRequest::HTTP_HEAD) {
      response.set("Allow", "GET, HEAD");
      Send(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "GET or HEAD only\n",
           request);
      return;
    }
    if (!Authorised(request, response)) return;
    std::string path = request.getURI();
    if (const std::size_t query = path.find('?'); query != std::string::npos) path.resize(query);
    try {
      if (path == "/") {
        Send(response, HTTPResponse::HTTP_OK, "text/html; charset=utf-8",
             StatusPageHtml(Snapshot(), options.refresh), request);
      } else if (path == "/api/status") {
        Send(response, HTTPResponse::HTTP_OK, "application/json", StatusJson(Snapshot()), request);
      } else if (path == "/metrics") {
        Send(response, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
             MetricsText(Snapshot()), request);
      } else {
        Send(response, HTTPResponse::HTTP_NOT_FOUND, "text/plain; charset=utf-8",
             "not found: the paths are /, /api/status and /metrics\n", request);
      }
    } catch (const std::exception& error) {
      core::LogError("status page: request failed", {{"path", path}, {"reason", error.what()}});
      if (!response.sent()) {
        Send(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
             "the status could not be read; see the gateway's log\n", request);
      }
    }
  }

  StatusSnapshot Snapshot() {
    StatusSnapshot snapshot = options.snapshot();
    snapshot.auth_refusals = auth_refusals.load();
    return snapshot;
  }
};

namespace {

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(StatusServer::Impl& impl) : impl_(impl) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    impl_.Handle(request, response);
  }

 private:
  StatusServer::Impl& impl_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(StatusServer::Impl& impl) : impl_(impl) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(impl_);
  }

 private:
  StatusServer::Impl& impl_;
};

}  // namespace

Result<std::unique_ptr<StatusServer>> StatusServer::Start(ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->require_token = !core::IsLoopbackHost(options.host);
  if (impl->require_token) {
    if (options.token.size() < 16) {
      return Fail(Errc::kInvalidArgument, "a status page beyond loopback (" + options.host +
                                              ") needs the per-device token (status_page.token_file)");
    }
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return Fail(Errc::kInvalidArgument,
                  "a status page beyond loopback (" + options.host +
                      ") is served over TLS only (status_page.tls_cert_file, tls_key_file)");
    }
  }
  try {
    const Poco::Net::SocketAddress address(options.host, options.port);
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(2);
    params->setMaxQueued(16);
    params->setTimeout(Poco::Timespan(10, 0));
    params->setKeepAliveTimeout(Poco::Timespan(5, 0));
    params->setServerName("ehealth-gateway");
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    if (!options.tls_cert_file.empty()) {
      Poco::Net::initializeSSL();
      impl->tls = true;
      Poco::Net::Context::Params tls;
      tls.certificateFile = options.tls_cert_file.string();
      tls.privateKeyFile = options.tls_key_file.string();
      tls.verificationMode = Poco::Net::Context::VERIFY_NONE;  // clients show a token, not a certificate
      tls.loadDefaultCAs = false;
      tls.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!SHA1";
      Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, tls);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      socket = std::make_unique<Poco::Net::SecureServerSocket>(address, 16, context);
    } else {
      socket = std::make_unique<Poco::Net::ServerSocket>(address, 16);
    }
    impl->port = socket->address().port();
    impl->options = std::move(options);
    impl->server = std::make_unique<Poco::Net::HTTPServer>(new Factory(*impl), impl->pool, *socket, params);
    impl->server->start();
  } catch (const Poco::Exception& error) {
    return Fail(Errc::kIo, "status page: " + error.displayText());
  }
  return std::unique_ptr<StatusServer>(new StatusServer(std::move(impl)));
}

Result<std::string> ReadTokenFile(const std::filesystem::path& file) {
  auto text = core::ReadCheckedFile(file, core::kTokenFile);
  if (!text) return tl::unexpected(text.error());
  std::string token = text->substr(0, text->find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.size() < 32) {
    return Fail(Errc::kInvalidArgument, file.string() + " holds no token of at least 32 characters");
  }
  return token;
}

StatusServer::StatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StatusServer::~StatusServer() = default;

std::uint16_t StatusServer::port() const {
  return impl_->port;
}

bool StatusServer::tls() const {
  return impl_->tls;
}

}  // namespace ehg::http
