#include "gzip_decoder.hpp"

namespace hostgw::k8s::detail {

GzipDecoder::GzipDecoder() {
  // 16 + MAX_WBITS: expect a gzip header and trailer.
  if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) error_ = "zlib initialisation failed";
}

GzipDecoder::~GzipDecoder() { inflateEnd(&stream_); }

bool GzipDecoder::decode(std::string_view input, std::string& output, std::size_t max_total) {
  if (!error_.empty()) return false;
  stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream_.avail_in = static_cast<uInt>(input.size());
  char buffer[16384];
  while (!finished_) {
    stream_.next_out = reinterpret_cast<Bytef*>(buffer);
    stream_.avail_out = sizeof buffer;
    int rc = inflate(&stream_, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      error_ = std::string("gzip body is corrupt: ") + (stream_.msg ? stream_.msg : "inflate failed");
      return false;
    }
    std::size_t produced = sizeof buffer - stream_.avail_out;
    total_ += produced;
    if (total_ > max_total) {
      too_large_ = true;
      error_ = "gzip body decodes to more than " + std::to_string(max_total) + " bytes";
      return false;
    }
    output.append(buffer, produced);
    if (rc == Z_STREAM_END) finished_ = true;
    if (rc == Z_BUF_ERROR && produced == 0) break;
    // Done with this input once zlib had room left over: it holds nothing more.
    if (stream_.avail_in == 0 && stream_.avail_out > 0) break;
  }
  return true;
}

}  // namespace hostgw::k8s::detail
