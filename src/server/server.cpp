// SPDX-License-Identifier: MIT
// Server: routes, authentication, OpenAI error objects for every failure (ours and httplib's),
// timeouts, metrics.
#include "server/server.h"

#include <httplib.h>

#include "core/log.h"
#include "server/api_error.h"
#include "server/auth.h"
#include "server/completion_job.h"
#include "server/completion_response.h"
#include "server/openai_request.h"

namespace moefit {
namespace {

using Json = nlohmann::ordered_json;

void SendJson(httplib::Response& response, int status, const Json& body) {
  response.status = status;
  response.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& response, const ApiError& error) {
  SendJson(response, error.status(), error.ToJson());
  if (error.status() == 401) response.set_header("WWW-Authenticate", "Bearer");
}

// Runs a handler; whatever it throws becomes an OpenAI error object.
template <typename Handler>
void Guarded(httplib::Response& response, Handler&& handler) {
  try {
    handler();
  } catch (const ApiError& error) {
    SendError(response, error);
  } catch (const Error& error) {
    // moefit::Error from the layers below: the request's content could not be processed.
    SendError(response, ApiError(400, error.what()));
  } catch (const std::exception& error) {
    Log(LogLevel::kError, "server: unexpected error: {}", error.what());
    SendError(response, ApiError(500, std::string("Internal error: ") + error.what(), "server_error"));
  }
}

Json ParseBody(const httplib::Request& request) {
  Json body = Json::parse(request.body, nullptr, false);
  if (body.is_discarded())
    throw ApiError(400, "We could not parse the JSON body of your request. The body must be valid JSON (UTF-8).");
  return body;
}

Json ModelObject(const ServedModel& model) {
  return {{"id", model.id}, {"object", "model"}, {"created", model.created}, {"owned_by", "moefit"}};
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

Server::Server(const ServedModel& model, Scheduler& scheduler, ServerOptions options)
    : model_(model), scheduler_(scheduler), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  const SchedulerOptions& scheduling = scheduler_.options();
  const size_t threads = options_.http_threads > 0
                             ? static_cast<size_t>(options_.http_threads)
                             : static_cast<size_t>(scheduling.max_sequences + scheduling.queue_capacity + 8);
  // httplib's task-queue factory hands over ownership of a raw pointer: its interface, not ours.
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_read_timeout(options_.timeout_seconds, 0);
  http_->set_write_timeout(options_.timeout_seconds, 0);
  http_->set_keep_alive_timeout(options_.keep_alive_seconds);
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_tcp_nodelay(true);  // stream tokens as they come
  AddRoutes();
}

Server::~Server() = default;

int Server::Bind() {
  if (!IsLoopbackHost(options_.host) && options_.api_key.empty())
    Log(LogLevel::kWarn,
        "serving on {} without --api-key: anyone who can reach this machine can use the model. Set --api-key (or "
        "MOEFIT_API_KEY) unless the network is trusted.",
        options_.host);
  int port = options_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.host);
    if (port <= 0) Fail("cannot listen on {} (any port)", options_.host);
  } else if (!http_->bind_to_port(options_.host, port)) {
    Fail("cannot listen on {}:{} (in use, or not an address of this machine)", options_.host, port);
  }
  return port;
}

void Server::Run() { http_->listen_after_bind(); }

void Server::Stop() { http_->stop(); }

bool Server::Authorized(const httplib::Request& request, httplib::Response& response) const {
  if (options_.api_key.empty() || request.path == "/health") return true;
  const std::string header = request.get_header_value("Authorization");
  const std::string_view token = BearerToken(header);
  if (ConstantTimeEquals(token, options_.api_key)) return true;
  SendError(response, ApiError(401,
                               token.empty() ? "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
                                             : "Incorrect API key provided.",
                               "invalid_request_error", "invalid_api_key"));
  return false;
}

void Server::AddRoutes() {
  using httplib::Request;
  using httplib::Response;
  http_->set_pre_routing_handler([this](const Request& request, Response& response) {
    return Authorized(request, response) ? httplib::Server::HandlerResponse::Unhandled
                                         : httplib::Server::HandlerResponse::Handled;
  });
  // Failures httplib answers itself (no route, body too large, malformed HTTP) get error objects too.
  http_->set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& request, Response& response) {
    if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (response.status == 404) {
      SendError(response, ApiError(404, fmt::format("Invalid URL ({} {})", request.method, request.path), "invalid_request_error",
                                   "unknown_url"));
    } else if (response.status == 413) {
      SendError(response, ApiError(413, fmt::format("The request body is too large: the limit is {} bytes.", options_.max_body_bytes),
                                   "invalid_request_error", "request_too_large"));
    } else {
      SendError(response, ApiError(response.status, fmt::format("The request failed (HTTP {}).", response.status),
                                   response.status >= 500 ? "server_error" : "invalid_request_error"));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->set_exception_handler([](const Request&, Response& response, std::exception_ptr) {
    SendError(response, ApiError(500, "Internal error.", "server_error"));
  });
  http_->set_logger([this](const Request& request, const Response& response) {
    metrics_.CountRequest(request.path, response.status);
    Log(LogLevel::kDebug, "{} {} -> {}", request.method, request.path, response.status);
  });

  for (const char* path : {"/v1/chat/completions", "/chat/completions"})
    http_->Post(path, [this](const Request& request, Response& response) { HandleChat(request, response); });
  for (const char* path : {"/v1/completions", "/completions"})
    http_->Post(path, [this](const Request& request, Response& response) { HandleCompletion(request, response); });
  for (const char* path : {"/v1/models", "/models", R"(/v1/models/(.+))"})
    http_->Get(path, [this](const Request& request, Response& response) { HandleModels(request, response); });
  http_->Get("/health", [this](const Request&, Response& response) {
    const SchedulerStats stats = scheduler_.Stats();
    SendJson(response, 200, {{"status", "ok"}, {"active_sequences", stats.active}, {"queued", stats.queued}});
  });
  http_->Get("/metrics", [this](const Request&, Response& response) {
    response.set_content(metrics_.Render(scheduler_.Stats(), model_.file_bytes), "text/plain; version=0.0.4");
  });
}

void Server::HandleChat(const httplib::Request& request, httplib::Response& response) {
  Guarded(response, [&] {
    const ChatCompletionRequest chat = ParseChatCompletionRequest(ParseBody(request));
    RespondToJob(scheduler_, model_, PrepareChatJob(model_, chat), response);
  });
}

void Server::HandleCompletion(const httplib::Request& request, httplib::Response& response) {
  Guarded(response, [&] {
    const CompletionRequest completion = ParseCompletionRequest(ParseBody(request));
    RespondToJob(scheduler_, model_, PrepareCompletionJob(model_, completion), response);
  });
}

void Server::HandleModels(const httplib::Request& request, httplib::Response& response) const {
  Guarded(response, [&] {
    if (request.matches.size() > 1) {
      const std::string id = request.matches[1];
      if (id != model_.id)
        throw ApiError(404, fmt::format("The model '{}' does not exist; this server serves '{}'.", id, model_.id),
                       "invalid_request_error", "model_not_found", "model");
      SendJson(response, 200, ModelObject(model_));
      return;
    }
    SendJson(response, 200, {{"object", "list"}, {"data", Json::array({ModelObject(model_)})}});
  });
}

}  // namespace moefit
