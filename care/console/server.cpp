#include "care/console/server.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "care/console/live_feed.hpp"
#include "care/console/web_api.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/log.hpp"

namespace ehg::console {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The files of the web root the console serves, by URL path. Read once at start: no request reaches
// the file system.
struct WebFile {
  const char* url;
  const char* file;
  const char* content_type;
};
constexpr WebFile kWebFiles[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/static/console.js", "console.js", "text/javascript; charset=utf-8"},
    {"/static/views.js", "views.js", "text/javascript; charset=utf-8"},
    {"/static/console.css", "console.css", "text/css; charset=utf-8"},
};
// They decide what runs in a nurse's browser: refused when others may write them (like a trust anchor).
constexpr core::FileKind kWebFile{"console web file", 1 << 20, false, true};

void Apply(Poco::Net::HTTPServerResponse& response, int status, const std::string& content_type,
           const std::vector<std::pair<std::string, std::string>>& headers) {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType(content_type);
  for (const auto& [name, value] : SecurityHeaders())
    response.set(name, value);
  for (const auto& [name, value] : headers) {
    if (name == "Set-Cookie")
      response.add(name, value);
    else
      response.set(name, value);
  }
}

void Send(Poco::Net::HTTPServerResponse& response, const WebResponse& answer) {
  Apply(response, answer.status, answer.content_type, answer.headers);
  response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
  response.send() << answer.body;
}

WebRequest ReadRequest(Poco::Net::HTTPServerRequest& request, bool* too_large) {
  WebRequest web;
  web.method = request.getMethod();
  const std::string& uri = request.getURI();
  const std::size_t question = uri.find('?');
  web.path = uri.substr(0, question);
  if (question != std::string::npos) web.query = uri.substr(question + 1);
  web.cookie = request.get("Cookie", "");
  web.origin = request.get("Origin", "");
  web.host = request.getHost();
  web.csrf_token = request.get("X-CSRF-Token", "");
  web.content_type = request.getContentType();
  web.address = request.clientAddress().host().toString();
  const std::streamsize length = request.getContentLength();
  *too_large = length > static_cast<std::streamsize>(kMaxBodyBytes);
  if (!*too_large && (request.hasContentLength() || request.getChunkedTransferEncoding())) {
    std::string body(kMaxBodyBytes + 1, '\0');
    request.stream().read(body.data(), static_cast<std::streamsize>(body.size()));
    body.resize(static_cast<std::size_t>(request.stream().gcount()));
    *too_large = body.size() > kMaxBodyBytes;
    web.body = std::move(body);
  }
  return web;
}

}  // namespace

namespace detail {

// One database connection with the sign-in and API on it; a request borrows one.
struct Worker {
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<StaffSignIn> sign_in;
  std::unique_ptr<ConsoleApi> api;
};

class WorkerPool {
 public:
  void Add(std::unique_ptr<Worker> worker) {
    std::lock_guard lock(mutex_);
    free_.push_back(worker.get());
    all_.push_back(std::move(worker));
  }
  // A free worker within `wait`, or nullptr (the caller answers 503).
  Worker* Take(milliseconds wait) {
    std::unique_lock lock(mutex_);
    if (!available_.wait_for(lock, wait, [&] { return !free_.empty(); })) return nullptr;
    Worker* worker = free_.back();
    free_.pop_back();
    return worker;
  }
  void Give(Worker* worker) {
    {
      std::lock_guard lock(mutex_);
      free_.push_back(worker);
    }
    available_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Worker*> free_;
  std::vector<std::unique_ptr<Worker>> all_;
};

class Borrowed {
 public:
  Borrowed(WorkerPool& pool, milliseconds wait) : pool_(pool), worker_(pool.Take(wait)) {}
  ~Borrowed() {
    if (worker_) pool_.Give(worker_);
  }
  Borrowed(const Borrowed&) = delete;
  Borrowed& operator=(const Borrowed&) = delete;
  Worker* get() const { return worker_; }

 private:
  WorkerPool& pool_;
  Worker* worker_;
};

}  // namespace detail

struct ConsoleServer::Impl {
  ServerOptions options;
  core::Clock* clock = nullptr;
  std::map<std::string, std::pair<std::string, std::string>> files;  // url -> (content type, content)
  detail::WorkerPool pool;
  LiveFeed feed;
  std::atomic<bool> stopping{false};
  std::thread changes_thread;
  Poco::ThreadPool threads{2, 16, 60, 0};
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::uint16_t port = 0;

  void FollowChanges() {
    ledger::AlertChanges changes(options.database);
    while (!stopping.load()) {
      auto tenants = changes.Wait(milliseconds(500));
      if (!tenants) {
        core::LogWarning("alert changes not followed; trying again", {{"reason", tenants.error().message}});
        for (int i = 0; i < 10 && !stopping.load(); ++i)
          std::this_thread::sleep_for(milliseconds(100));
        continue;
      }
      feed.Publish(*tenants);
    }
  }

  void Stream(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    bool too_large = false;
    const WebRequest web = ReadRequest(request, &too_large);
    std::optional<ledger::StaffSession> session;
    {
      detail::Borrowed worker(pool, seconds(5));
      if (!worker.get()) return Send(response, {503, "application/json", R"({"error":"busy"})", {}});
      WebResponse refusal;
      session = worker.get()->api->SessionOf(web, &refusal);
      if (!session) return Send(response, refusal);
    }
    if (!accounts::Allows(session->account.role, accounts::Permission::kViewAlerts))
      return Send(response, {403, "application/json", R"({"error":"role"})", {}});
    Apply(response, 200, "text/event-stream", {});
    response.setChunkedTransferEncoding(true);
    std::ostream& out = response.send();
    std::uint64_t seen = feed.Latest();
    out << "retry: 2000\n\nevent: alerts\ndata: {}\n\n" << std::flush;
    auto session_checked = std::chrono::steady_clock::now();
    while (out.good() && !stopping.load()) {
      const LiveFeed::Wake wake = feed.WaitAfter(seen, session->account, seconds(15));
      seen = wake.latest;
      if (wake.closed) break;
      out << (wake.changed ? "event: alerts\ndata: {}\n\n" : ": keepalive\n\n") << std::flush;
      // A session that ended (signed out elsewhere, account disabled, idle time) ends its stream.
      if (std::chrono::steady_clock::now() - session_checked > seconds(60)) {
        session_checked = std::chrono::steady_clock::now();
        detail::Borrowed worker(pool, seconds(5));
        if (worker.get() && !worker.get()->api->SessionOf(web, nullptr)) {
          out << "event: signed_out\ndata: {}\n\n" << std::flush;
          break;
        }
      }
    }
  }

  void Serve(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    const std::string path = request.getURI().substr(0, request.getURI().find('?'));
    if (path == "/api/events" && request.getMethod() == "GET") return Stream(request, response);
    if (path.rfind("/api/", 0) == 0) {
      bool too_large = false;
      const WebRequest web = ReadRequest(request, &too_large);
      if (too_large) return Send(response, {413, "application/json", R"({"error":"too_large"})", {}});
      detail::Borrowed worker(pool, seconds(5));
      if (!worker.get())
        return Send(response, {503, "application/json", R"({"error":"busy"})", {{"Retry-After", "2"}}});
      return Send(response, worker.get()->api->Handle(web));
    }
    const auto file = files.find(path);
    if (file == files.end()) return Send(response, {404, "text/plain; charset=utf-8", "not found\n", {}});
    if (request.getMethod() != "GET" && request.getMethod() != "HEAD")
      return Send(response, {405, "text/plain; charset=utf-8", "GET only\n", {{"Allow", "GET, HEAD"}}});
    Send(response, {200, file->second.first, file->second.second, {}});
  }
};

namespace {

using Serve = std::function<void(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse&)>;

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(Serve serve) : serve_(std::move(serve)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    try {
      serve_(request, response);
    } catch (const std::exception& error) {
      // A client gone mid-answer, or a malformed request Poco refused: this connection only.
      core::LogDebug("console request ended", {{"reason", error.what()}});
    }
  }

 private:
  Serve serve_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Serve serve) : serve_(std::move(serve)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(serve_);
  }

 private:
  Serve serve_;
};

}  // namespace

ConsoleServer::ConsoleServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ConsoleServer::~ConsoleServer() {
  impl_->stopping = true;
  impl_->feed.Close();
  if (impl_->server) impl_->server->stopAll(true);
  if (impl_->changes_thread.joinable()) impl_->changes_thread.join();
}

std::uint16_t ConsoleServer::port() const {
  return impl_->port;
}

Result<std::unique_ptr<ConsoleServer>> ConsoleServer::Start(ServerOptions options, core::Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = &clock;
  for (const WebFile& file : kWebFiles) {
    auto content = core::ReadCheckedFile(options.web_root / file.file, kWebFile);
    if (!content) return tl::unexpected(content.error().WithContext("console web root"));
    impl->files[file.url] = {file.content_type, std::move(*content)};
  }
  auto chart = core::ReadCheckedFile(options.chart_js, kWebFile);
  if (!chart) return tl::unexpected(chart.error().WithContext("Chart.js (package libjs-chart.js)"));
  impl->files["/static/chart.min.js"] = {"text/javascript; charset=utf-8", std::move(*chart)};
  for (int i = 0; i < std::max(1, options.database_connections); ++i) {
    auto worker = std::make_unique<detail::Worker>();
    auto ledger = ledger::Ledger::Open({options.database});
    if (!ledger) return tl::unexpected(ledger.error().WithContext("console database"));
    worker->ledger = std::move(*ledger);
    worker->sign_in = std::make_unique<StaffSignIn>(*worker->ledger, clock, options.sign_in);
    worker->api = std::make_unique<ConsoleApi>(*worker->sign_in, *worker->ledger, clock);
    impl->pool.Add(std::move(worker));
  }
  try {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_SERVER_USE, options.tls_key_file.string(), options.tls_cert_file.string(), "",
        Poco::Net::Context::VERIFY_NONE, 9, false,
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                              Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    context->enableSessionCache(false);
    Poco::Net::SecureServerSocket socket(Poco::Net::SocketAddress(options.host, options.port), 64, context);
    impl->port = socket.address().port();
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(std::max(4, options.max_connections));
    params->setMaxQueued(64);
    // A client that sends or takes its bytes too slowly loses its connection, not a thread for ever.
    params->setTimeout(Poco::Timespan(10, 0));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(15, 0));
    params->setMaxKeepAliveRequests(1000);
    impl->threads.addCapacity(std::max(4, options.max_connections));
    impl->server = std::make_unique<Poco::Net::HTTPServer>(
        new Factory(
            [raw = impl.get()](Poco::Net::HTTPServerRequest& request,
                               Poco::Net::HTTPServerResponse& response) { raw->Serve(request, response); }),
        impl->threads, socket, params);
    impl->server->start();
  } catch (const std::exception& error) {
    return Fail(Errc::kUnavailable, std::string("console: cannot listen: ") + error.what());
  }
  impl->changes_thread = std::thread([raw = impl.get()] { raw->FollowChanges(); });
  return std::unique_ptr<ConsoleServer>(new ConsoleServer(std::move(impl)));
}

}  // namespace ehg::console
