// SPDX-License-Identifier: MIT
// Server: the OpenAI-compatible HTTP API. Handlers run on HTTP worker threads; they parse and
// check requests, render and tokenize prompts, then queue work with the Scheduler and stream its
// tokens back. They never touch the engine (DESIGN.md, convention 13).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "runtime/scheduler.h"
#include "server/metrics.h"
#include "server/served_model.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace moefit {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                     // 0: any free port (Bind returns it)
  std::string api_key;                 // empty: no authentication
  size_t max_body_bytes = 16u << 20;   // larger request bodies get 413
  int timeout_seconds = 60;            // reading a request or writing a response, per operation
  int keep_alive_seconds = 5;          // an idle keep-alive connection is closed after this
  int http_threads = 0;                // 0: enough for every sequence and queued request, plus spares
};

class Server {
 public:
  Server(const ServedModel& model, Scheduler& scheduler, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the address; returns the port. Throws moefit::Error when it cannot.
  int Bind();
  // Serves until Stop (from another thread or a signal watcher).
  void Run();
  void Stop();

 private:
  void AddRoutes();
  bool Authorized(const httplib::Request& request, httplib::Response& response) const;
  void HandleChat(const httplib::Request& request, httplib::Response& response);
  void HandleCompletion(const httplib::Request& request, httplib::Response& response);
  void HandleModels(const httplib::Request& request, httplib::Response& response) const;

  const ServedModel& model_;
  Scheduler& scheduler_;
  ServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> http_;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

}  // namespace moefit
