// One upgraded WebSocket connection, as seen by a route's ws_handler.
//
// Threading: every member may be called from any thread. Frames are written in send order by the
// connection's I/O thread. on_message/on_close callbacks run on the connection's I/O thread and must
// not block (hand heavy work to a WorkerPool). Reading starts when the ws_handler returns, so
// callbacks registered inside it see every message.
//
// Back-pressure: the outbound queue is bounded (Route::ws_limits). A send that would overflow it
// closes the session with 1008 "subscriber too slow"; that send and all later ones return false.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace secplat::http {

class WsSession {
 public:
  virtual ~WsSession() = default;

  // Queues one text frame. False when the session is closed/closing or the queue overflowed.
  virtual bool send_text(std::string message) = 0;
  // Starts the closing handshake (after frames already being written). Idempotent.
  virtual void close(uint16_t code, std::string reason) = 0;
  virtual void on_message(std::function<void(std::string)> callback) = 0;
  // Called once when the connection has ended, whoever closed it.
  virtual void on_close(std::function<void()> callback) = 0;
  // False once a close was requested or the connection ended.
  virtual bool is_open() const = 0;
};

}  // namespace secplat::http
