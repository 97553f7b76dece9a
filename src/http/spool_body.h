// A Beast request Body that keeps the body in memory, or — when `spool_dir` is set on the value
// before the body starts (i.e. once the header is parsed and the route is known) — streams it to a
// new file in that directory, so a large upload never sits in memory.
//
// The file is removed when the value is destroyed unless release_file() was called; the server
// releases it into Request::body_file and removes it after the handler returns, so a handler that
// wants to keep an upload renames it away.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#include "core/ids.h"

namespace secplat::http {

struct SpoolBody {
  class value_type {
   public:
    value_type() = default;
    value_type(const value_type&) = delete;
    value_type& operator=(const value_type&) = delete;
    value_type(value_type&& o) noexcept { *this = std::move(o); }
    value_type& operator=(value_type&& o) noexcept {
      if (this != &o) {
        discard();
        data = std::move(o.data);
        spool_dir = std::move(o.spool_dir);
        file_path_ = std::move(o.file_path_);
        fd_ = o.fd_;
        size_ = o.size_;
        o.fd_ = -1;
        o.file_path_.clear();
      }
      return *this;
    }
    ~value_type() { discard(); }

    std::string data;       // the body, when not spooled
    std::string spool_dir;  // set before the body starts to spool it to a file

    const std::string& file_path() const { return file_path_; }
    uint64_t size() const { return file_path_.empty() ? data.size() : size_; }
    // Hands the file over to the caller (who must remove or keep it). Closes the descriptor.
    std::string release_file() {
      close_fd();
      return std::move(file_path_);
    }

   private:
    friend struct SpoolBody;
    void close_fd() {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
    }
    void discard() {
      close_fd();
      if (!file_path_.empty()) ::unlink(file_path_.c_str());
      file_path_.clear();
    }
    std::string file_path_;
    int fd_ = -1;
    uint64_t size_ = 0;
  };

  static std::uint64_t size(const value_type& v) { return v.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& b) : body_(b) {}

    void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
      ec = {};
      if (body_.spool_dir.empty()) {
        if (length) body_.data.reserve(static_cast<std::size_t>(*length));
        return;
      }
      std::string path = body_.spool_dir + "/upload-" + random_hex(12) + ".part";
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) {
        ec = boost::beast::error_code(errno, boost::beast::generic_category());
        return;
      }
      body_.fd_ = fd;
      body_.file_path_ = std::move(path);
      body_.size_ = 0;
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      std::size_t total = 0;
      for (auto b : boost::beast::buffers_range_ref(buffers)) {
        const char* p = static_cast<const char*>(b.data());
        std::size_t n = b.size();
        if (body_.fd_ < 0) {
          body_.data.append(p, n);
          total += n;
          continue;
        }
        while (n > 0) {
          ssize_t w = ::write(body_.fd_, p, n);
          if (w < 0) {
            if (errno == EINTR) continue;
            ec = boost::beast::error_code(errno, boost::beast::generic_category());
            return total;
          }
          p += w;
          n -= static_cast<std::size_t>(w);
          total += static_cast<std::size_t>(w);
          body_.size_ += static_cast<uint64_t>(w);
        }
      }
      return total;
    }

    void finish(boost::beast::error_code& ec) {
      ec = {};
      if (body_.fd_ >= 0 && ::fsync(body_.fd_) != 0)
        ec = boost::beast::error_code(errno, boost::beast::generic_category());
      body_.close_fd();
    }

   private:
    value_type& body_;
  };
};

}  // namespace secplat::http
