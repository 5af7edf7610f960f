#include "k8s-client/json_framer.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <random>
#include <string>
#include <vector>

namespace hostgw::k8s {
namespace {

struct Collected {
  std::vector<std::string> objects;
  std::vector<std::size_t> too_large_sizes;
};

bool feed_all(JsonObjectFramer& framer, const std::vector<std::string_view>& chunks, Collected& out) {
  for (auto chunk : chunks) {
    bool ok = framer.feed(chunk, [&](const JsonObjectFramer::Frame& frame) {
      if (frame.too_large)
        out.too_large_sizes.push_back(frame.size);
      else
        out.objects.emplace_back(frame.object);
      // The framer's buffer holds exactly the object (NUL after it), for an in-place parse; none when too large.
      if (frame.too_large) {
        EXPECT_EQ(frame.buffer, nullptr);
      } else if (frame.buffer == nullptr || *frame.buffer != frame.object ||
                 frame.buffer->data()[frame.buffer->size()] != '\0') {
        ADD_FAILURE() << "frame buffer does not hold the object";
      } else {
        frame.buffer->assign(frame.buffer->size(), 'x');  // the handler may overwrite it
      }
    });
    if (!ok) return false;
  }
  return true;
}

// Objects with braces and quotes inside strings, escapes (\" and \\ right
// before a quote), nested arrays, unicode, no newline between two of them.
const std::vector<std::string> kObjects = {
    R"({"type":"ADDED","object":{"metadata":{"name":"a{b}c","annotations":{"x":"\"}{\\"}}}})",
    R"({"type":"MODIFIED","object":{"spec":{"podCIDRs":["10.244.1.0/24"]},"s":"\\","t":"[{\"\\\""}})",
    R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"},"u":"é\u00e9}"}})",
    R"({})",
};

std::string stream_text() {
  std::string text;
  text += kObjects[0] + "\n";
  text += kObjects[1];  // no separator at all
  text += " \r\n\t" + kObjects[2] + "\n\n";
  text += kObjects[3] + "\n";
  return text;
}

TEST(JsonObjectFramerTest, WholeStreamInOneChunk) {
  JsonObjectFramer framer;
  Collected out;
  ASSERT_TRUE(feed_all(framer, {stream_text()}, out)) << framer.error();
  EXPECT_EQ(out.objects, kObjects);
  EXPECT_FALSE(framer.in_object());
}

// A random JSON string full of what the framer must see through: brackets,
// escaped quotes, runs of escaped backslashes.
void random_string(std::mt19937& rng, std::string& out) {
  static const char* const kPieces[] = {"a", "plain text ", "{", "}", "[", "]", "\\\"", "\\\\", "\\\\\\\"",
                                        "\\u00e9", ":", ",", " ", "\\\\\\\\"};
  out += '"';
  const auto pieces = rng() % 40;
  for (unsigned i = 0; i < pieces; ++i) out += kPieces[rng() % std::size(kPieces)];
  out += '"';
}

// A random JSON value nested at most 6 deep.
void random_value(std::mt19937& rng, int depth, std::string& out) {
  const auto kind = depth >= 6 ? 2 + rng() % 2 : rng() % 4;
  if (kind == 0 || kind == 1) {
    const bool array = kind == 1;
    out += array ? '[' : '{';
    const auto members = rng() % 5;
    for (unsigned m = 0; m < members; ++m) {
      if (m > 0) out += ',';
      if (!array) {
        random_string(rng, out);
        out += ':';
      }
      random_value(rng, depth + 1, out);
    }
    out += array ? ']' : '}';
  } else if (kind == 2) {
    out += std::to_string(rng() % 100000);
  } else {
    random_string(rng, out);
  }
}

TEST(JsonObjectFramerTest, RandomObjectsInRandomChunks) {
  // Objects of a few bytes to a few KB, so the 64-byte block scan meets
  // strings, escapes and closing brackets at every offset of a block and
  // across chunk boundaries.
  std::mt19937 rng(17);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> objects;
    std::string text;
    for (int o = 0; o < 8; ++o) {
      std::string object = "{\"k\":";
      random_value(rng, 1, object);
      object += '}';
      text += object;
      if (rng() % 2) text += '\n';
      objects.push_back(std::move(object));
    }
    JsonObjectFramer framer;
    Collected out;
    std::vector<std::string_view> chunks;
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t length = std::min<std::size_t>(text.size() - at, 1 + rng() % 300);
      chunks.push_back(std::string_view(text).substr(at, length));
      at += length;
    }
    ASSERT_TRUE(feed_all(framer, chunks, out)) << framer.error();
    ASSERT_EQ(out.objects, objects) << "round " << round;
    EXPECT_FALSE(framer.in_object());
  }
}

TEST(JsonObjectFramerTest, EverySplitPointInTwoChunks) {
  const std::string text = stream_text();
  for (std::size_t split = 0; split <= text.size(); ++split) {
    JsonObjectFramer framer;
    Collected out;
    std::string_view view(text);
    ASSERT_TRUE(feed_all(framer, {view.substr(0, split), view.substr(split)}, out)) << "split " << split;
    EXPECT_EQ(out.objects, kObjects) << "split " << split;
  }
}

TEST(JsonObjectFramerTest, EveryPairOfSplitPointsInThreeChunks) {
  const std::string text = stream_text();
  std::string_view view(text);
  for (std::size_t a = 0; a <= text.size(); a += 3) {
    for (std::size_t b = a; b <= text.size(); ++b) {
      JsonObjectFramer framer;
      Collected out;
      ASSERT_TRUE(feed_all(framer, {view.substr(0, a), view.substr(a, b - a), view.substr(b)}, out));
      ASSERT_EQ(out.objects, kObjects) << "splits " << a << "," << b;
    }
  }
}

// A WholeObjectTaker that takes every object lying whole in the bytes it is
// offered (found with a second framer) when `taking`, and overwrites all the
// bytes it may: the object it takes, everything it is offered when it refuses.
struct ScribblingTaker {
  bool taking = true;
  std::vector<std::string> taken;
  std::size_t offered = 0;

  std::size_t operator()(char* begin, char* end) {
    ++offered;
    EXPECT_EQ(*begin, '{');
    EXPECT_EQ(*end, '\0');
    std::size_t size = 0;
    JsonObjectFramer finder;
    finder.feed(std::string_view(begin, static_cast<std::size_t>(end - begin)), [&](const JsonObjectFramer::Frame& frame) {
      if (size == 0) size = frame.size;
    });
    if (taking && size > 0) taken.emplace_back(begin, size);
    if (taking && size > 0) {
      std::fill(begin, begin + size, 'x');
      return size;
    }
    std::fill(begin, end, 'x');
    return 0;
  }
};

TEST(JsonObjectFramerTest, WholeObjectsGoToTheTakerTheRestToTheFramer) {
  const std::string text = stream_text();
  std::string_view view(text);
  for (bool taking : {true, false}) {
    for (std::size_t a = 0; a <= text.size(); ++a) {
      JsonObjectFramer framer;
      ScribblingTaker taker;
      taker.taking = taking;
      std::vector<std::string> objects;  // taken or framed, in stream order
      std::size_t framed = 0;
      auto on_frame = [&](const JsonObjectFramer::Frame& frame) {
        // Whatever the taker overwrote, the framer frames the original bytes.
        objects.emplace_back(frame.object);
        ++framed;
      };
      auto take_and_record = [&](char* begin, char* end) {
        const std::size_t before = taker.taken.size();
        const std::size_t size = taker(begin, end);
        if (taker.taken.size() > before) objects.push_back(taker.taken.back());
        return size;
      };
      ASSERT_TRUE(framer.feed(view.substr(0, a), on_frame, take_and_record));
      ASSERT_TRUE(framer.feed(view.substr(a), on_frame, take_and_record));
      ASSERT_EQ(objects, kObjects) << "split " << a << (taking ? "" : ", taker refusing");
      EXPECT_FALSE(framer.in_object());
      EXPECT_EQ(framer.offset(), text.size());
      // Only the objects cut by the split reach the framer.
      if (taking) {
        EXPECT_LE(framed, 1u) << "split " << a;
      } else {
        EXPECT_EQ(framed, kObjects.size());
      }
    }
  }
}

TEST(JsonObjectFramerTest, TakerSeesNothingOfAnErrorBetweenObjects) {
  JsonObjectFramer framer;
  ScribblingTaker taker;
  std::vector<std::string> frames;
  auto take = [&](char* begin, char* end) { return taker(begin, end); };
  EXPECT_FALSE(framer.feed("{\"a\":1} x{}", [&](const JsonObjectFramer::Frame& f) { frames.emplace_back(f.object); },
                           take));
  EXPECT_EQ(taker.taken, std::vector<std::string>{"{\"a\":1}"});
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(framer.error(), "watch stream: expected '{' at byte 8 between objects, found 'x'");
}

TEST(JsonObjectFramerTest, OneByteAtATime) {
  const std::string text = stream_text();
  JsonObjectFramer framer;
  Collected out;
  for (char c : text) ASSERT_TRUE(feed_all(framer, {std::string_view(&c, 1)}, out));
  EXPECT_EQ(out.objects, kObjects);
}

TEST(JsonObjectFramerTest, LongStringsOfEscapesAcrossManyChunks) {
  // Escaped quotes and backslashes, braces in between: the bulk string scan
  // must stop at every escape and never take an escaped quote for the end.
  std::string value;
  for (int i = 0; i < 20000; ++i) value += (i % 3 == 0) ? "\\\"}" : (i % 3 == 1) ? "\\\\{" : "ab\\\"";
  const std::string object = R"({"a":")" + value + R"(","b":[1,{"c":"}"}]})";
  const std::string text = object + "\n" + object;
  for (std::size_t chunk : {1u, 7u, 4096u, 65536u}) {
    JsonObjectFramer framer;
    Collected got;
    std::vector<std::string_view> chunks;
    for (std::size_t at = 0; at < text.size(); at += chunk) chunks.push_back(std::string_view(text).substr(at, chunk));
    ASSERT_TRUE(feed_all(framer, chunks, got)) << framer.error();
    ASSERT_EQ(got.objects.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(got.objects[0], object);
    EXPECT_EQ(got.objects[1], object);
    EXPECT_FALSE(framer.in_object());
  }
}

TEST(JsonObjectFramerTest, PartialObjectIsHeldUntilComplete) {
  JsonObjectFramer framer;
  Collected out;
  ASSERT_TRUE(feed_all(framer, {R"({"a":"}")"}, out));
  EXPECT_TRUE(out.objects.empty());
  EXPECT_TRUE(framer.in_object());
  ASSERT_TRUE(feed_all(framer, {"}"}, out));
  ASSERT_EQ(out.objects.size(), 1u);
  EXPECT_EQ(out.objects[0], R"({"a":"}"})");
}

TEST(JsonObjectFramerTest, OversizedObjectIsSkippedAndTheStreamGoesOn) {
  Collected out;
  std::string big = R"({"type":"ADDED","object":{"pad":")" + std::string(500, 'x') + R"(}"}})";
  std::string text = kObjects[0] + big + kObjects[3];
  // In small chunks so the limit is crossed mid-object.
  std::vector<std::string_view> chunks;
  std::string_view view(text);
  for (std::size_t i = 0; i < text.size(); i += 7) chunks.push_back(view.substr(i, 7));
  JsonObjectFramer framer2(200);
  ASSERT_TRUE(feed_all(framer2, chunks, out)) << framer2.error();
  ASSERT_EQ(out.objects.size(), 2u);
  EXPECT_EQ(out.objects[0], kObjects[0]);
  EXPECT_EQ(out.objects[1], kObjects[3]);
  ASSERT_EQ(out.too_large_sizes.size(), 1u);
  EXPECT_EQ(out.too_large_sizes[0], big.size());
}

TEST(JsonObjectFramerTest, GarbageBetweenObjectsIsAnError) {
  JsonObjectFramer framer;
  Collected out;
  EXPECT_FALSE(feed_all(framer, {kObjects[3] + "\nx{}"}, out));
  EXPECT_EQ(out.objects.size(), 1u);
  EXPECT_NE(framer.error().find("expected '{' at byte 3"), std::string::npos) << framer.error();
  EXPECT_NE(framer.error().find("'x'"), std::string::npos) << framer.error();
  // Stays failed.
  EXPECT_FALSE(feed_all(framer, {"{}"}, out));
}

TEST(JsonObjectFramerTest, TopLevelArrayIsAnError) {
  JsonObjectFramer framer;
  Collected out;
  EXPECT_FALSE(feed_all(framer, {"[{}]"}, out));
  EXPECT_TRUE(framer.failed());
}

}  // namespace
}  // namespace hostgw::k8s
