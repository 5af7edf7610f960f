#pragma once

// Streaming gzip decoding (zlib), for API responses sent with
// Content-Encoding: gzip. Internal to k8s-client.

#include <zlib.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace hostgw::k8s::detail {

class GzipDecoder {
 public:
  GzipDecoder();
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Appends the bytes `input` decodes to into `output`. False (see error()) on
  // corrupt data or when the decoded total would pass `max_total`.
  bool decode(std::string_view input, std::string& output, std::size_t max_total);
  const std::string& error() const { return error_; }
  // The failure was the size limit, not corrupt data.
  bool too_large() const { return too_large_; }
  bool finished() const { return finished_; }

 private:
  z_stream stream_{};
  std::size_t total_ = 0;
  bool finished_ = false;
  bool too_large_ = false;
  std::string error_;
};

}  // namespace hostgw::k8s::detail
