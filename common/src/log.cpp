#include "common/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace hostgw::log {

namespace {
int g_verbosity = 0;
Sink g_sink;

const char* base_name(const char* path) {
  const char* base = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/') base = p + 1;
  return base;
}

char severity_letter(Severity severity) {
  switch (severity) {
    case Severity::info:
      return 'I';
    case Severity::warning:
      return 'W';
    case Severity::error:
      return 'E';
  }
  return 'I';
}
}  // namespace

void set_verbosity(int verbosity) {
  g_verbosity = verbosity;
}
int verbosity() {
  return g_verbosity;
}
void set_sink(Sink sink) {
  g_sink = std::move(sink);
}

std::string quote(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

Line::Line(Severity severity, const char* file, int line) : severity_(severity), file_(file), line_(line) {}

Line& Line::operator<<(const KeyValue& pair) {
  pairs_ += ' ';
  pairs_ += pair.key;
  pairs_ += '=';
  pairs_ += quote(pair.value);
  return *this;
}

Line& Line::operator<<(std::string_view text) {
  message_ += text;
  return *this;
}

Line::~Line() {
  timeval now{};
  gettimeofday(&now, nullptr);
  tm local{};
  localtime_r(&now.tv_sec, &local);
  char header[64];
  std::snprintf(header, sizeof header, "%c%02d%02d %02d:%02d:%02d.%06ld %7d ", severity_letter(severity_),
                local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<long>(now.tv_usec), static_cast<int>(getpid()));
  std::string out = header;
  out += base_name(file_);
  out += ':';
  out += std::to_string(line_);
  out += "] ";
  out += quote(message_);
  out += pairs_;
  if (g_sink) {
    g_sink(out);
    return;
  }
  out += '\n';
  // One write per line so concurrent writers never interleave within a line.
  ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;  // nowhere to report a failed log write
}

}  // namespace hostgw::log
