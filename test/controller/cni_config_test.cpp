#include "controller/cni_config.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hostgw::controller {
namespace {

using routing::IpPrefix;

CniConflistSpec spec(std::initializer_list<const char*> pod_cidrs, std::uint32_t mtu = 1500) {
  CniConflistSpec out;
  for (const char* text : pod_cidrs) out.pod_cidrs.push_back(IpPrefix::parse(text));
  out.mtu = mtu;
  return out;
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str());
  EXPECT_FALSE(document.HasParseError()) << text;
  return document;
}

TEST(CniConflistTest, Ipv4IsBridgeWithHostLocalThenPortmap) {
  auto text = render_cni_conflist(spec({"10.244.1.0/24"}, 1450));
  ASSERT_TRUE(text);
  EXPECT_EQ(*text,
            R"({
  "cniVersion": "0.4.0",
  "name": "kube-hostgw",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "hairpinMode": true,
      "ipMasq": false,
      "mtu": 1450,
      "ipam": {
        "type": "host-local",
        "ranges": [
          [
            {
              "subnet": "10.244.1.0/24"
            }
          ]
        ],
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ]
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    }
  ]
}
)");
}

TEST(CniConflistTest, Ipv6OnlyHasAnIpv6RangeAndDefaultRouteOnly) {
  auto text = render_cni_conflist(spec({"2001:db8:244:1::/64"}));
  ASSERT_TRUE(text);
  auto document = parse(*text);
  const auto& ipam = document["plugins"][0]["ipam"];
  ASSERT_EQ(ipam["ranges"].Size(), 1u);
  EXPECT_STREQ(ipam["ranges"][0][0]["subnet"].GetString(), "2001:db8:244:1::/64");
  ASSERT_EQ(ipam["routes"].Size(), 1u);
  EXPECT_STREQ(ipam["routes"][0]["dst"].GetString(), "::/0");
  EXPECT_FALSE(ipam.HasMember("dataDir"));
}

TEST(CniConflistTest, DualStackHasOneRangeSetPerPodCidrAndARoutePerFamily) {
  auto text = render_cni_conflist(spec({"10.244.1.0/24", "2001:db8:244:1::/64"}, 9000));
  ASSERT_TRUE(text);
  auto document = parse(*text);
  const auto& bridge = document["plugins"][0];
  EXPECT_STREQ(bridge["type"].GetString(), "bridge");
  EXPECT_STREQ(bridge["bridge"].GetString(), "cni0");
  EXPECT_TRUE(bridge["isGateway"].GetBool());
  EXPECT_TRUE(bridge["hairpinMode"].GetBool());
  EXPECT_FALSE(bridge["ipMasq"].GetBool());
  EXPECT_EQ(bridge["mtu"].GetUint(), 9000u);
  const auto& ranges = bridge["ipam"]["ranges"];
  ASSERT_EQ(ranges.Size(), 2u);
  EXPECT_STREQ(ranges[0][0]["subnet"].GetString(), "10.244.1.0/24");
  EXPECT_STREQ(ranges[1][0]["subnet"].GetString(), "2001:db8:244:1::/64");
  const auto& routes = bridge["ipam"]["routes"];
  ASSERT_EQ(routes.Size(), 2u);
  EXPECT_STREQ(routes[0]["dst"].GetString(), "0.0.0.0/0");
  EXPECT_STREQ(routes[1]["dst"].GetString(), "::/0");
  const auto& portmap = document["plugins"][1];
  EXPECT_STREQ(portmap["type"].GetString(), "portmap");
  EXPECT_TRUE(portmap["capabilities"]["portMappings"].GetBool());
  EXPECT_EQ(document["plugins"].Size(), 2u);
}

TEST(CniConflistTest, NoPodCidrMeansNoConflist) {
  EXPECT_FALSE(render_cni_conflist(spec({})));
}

TEST(CniConflistTest, ChangedPodCidrOrMtuChangesTheTextSameInputSameText) {
  auto first = render_cni_conflist(spec({"10.244.1.0/24"}));
  EXPECT_EQ(first, render_cni_conflist(spec({"10.244.1.0/24"})));
  EXPECT_NE(first, render_cni_conflist(spec({"10.244.7.0/24"})));
  EXPECT_NE(first, render_cni_conflist(spec({"10.244.1.0/24"}, 1450)));
  EXPECT_NE(first, render_cni_conflist(spec({"10.244.1.0/24", "2001:db8:244:1::/64"})));
}

TEST(CniConflistTest, IpamDataDirOnlyWhenGiven) {
  auto with = spec({"10.244.1.0/24"});
  with.ipam_data_dir = "/tmp/khg-ipam";
  auto document = parse(*render_cni_conflist(with));
  EXPECT_STREQ(document["plugins"][0]["ipam"]["dataDir"].GetString(), "/tmp/khg-ipam");
}

TEST(PodMtuTest, LinkMtuOverlayOverheadAndOverride) {
  EXPECT_EQ(choose_pod_mtu(1500, false, std::nullopt), 1500u);
  EXPECT_EQ(choose_pod_mtu(1500, true, std::nullopt), 1450u);
  EXPECT_EQ(choose_pod_mtu(9000, true, std::nullopt), 8950u);
  EXPECT_EQ(choose_pod_mtu(1500, true, 1400), 1400u);
  EXPECT_EQ(choose_pod_mtu(1500, false, 9000), 9000u);     // the operator knows better
  EXPECT_EQ(choose_pod_mtu(40, true, std::nullopt), 40u);  // never wraps around
}

TEST(PodMtuTest, LinkOfTheNodesAddressFeedsTheChoice) {
  k8s::NodeInfo self;
  self.internal_ips = {"198.51.100.11"};
  std::vector<routing::ConnectedNetwork> connected = {
      {IpPrefix::parse("203.0.113.0/24"), routing::IpAddress::parse("203.0.113.5"), 2, "eth1", 9000},
      {IpPrefix::parse("198.51.100.0/24"), routing::IpAddress::parse("198.51.100.11"), 3, "eth0", 1500},
  };
  EXPECT_EQ(choose_pod_mtu(node_link_mtu(&self, connected), true, std::nullopt), 1450u);
}

class CniConfFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/khg-cni-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) out.push_back(entry.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::filesystem::path dir_;
};

TEST_F(CniConfFileTest, WritesOurFileAtomicallyOnlyOnChangeAndNeverTouchesOthers) {
  std::ofstream(dir_ / "05-other.conflist") << "{\"other\": true}\n";
  CniConfFile file(dir_);
  EXPECT_EQ(file.path(), dir_ / "10-kube-hostgw.conflist");
  auto absent = file.read_current();
  EXPECT_FALSE(absent.error) << absent.message;
  EXPECT_FALSE(absent.content);

  auto first = render_cni_conflist(spec({"10.244.1.0/24"}));
  auto written = file.apply(first);
  ASSERT_FALSE(written.error) << written.message;
  EXPECT_TRUE(written.changed);
  EXPECT_EQ(file.read_current().content, first);
  struct stat before {};
  ASSERT_EQ(stat(file.path().c_str(), &before), 0);
  EXPECT_EQ(before.st_mode & 0777, 0644u);
  // No temporary file left behind; the other file as it was.
  EXPECT_EQ(names(), (std::vector<std::string>{"05-other.conflist", "10-kube-hostgw.conflist"}));

  auto again = file.apply(first);
  EXPECT_FALSE(again.changed);
  struct stat same {};
  ASSERT_EQ(stat(file.path().c_str(), &same), 0);
  EXPECT_EQ(same.st_ino, before.st_ino);  // not rewritten

  auto second = render_cni_conflist(spec({"10.244.7.0/24"}));
  auto rewritten = file.apply(second);
  EXPECT_TRUE(rewritten.changed);
  EXPECT_EQ(read(file.path()), *second);
  struct stat after {};
  ASSERT_EQ(stat(file.path().c_str(), &after), 0);
  EXPECT_NE(after.st_ino, before.st_ino);  // a new file renamed over the old one

  EXPECT_EQ(read(dir_ / "05-other.conflist"), "{\"other\": true}\n");
}

TEST_F(CniConfFileTest, DeletedByHandComesBackRemoveOnlyRemovesOurs) {
  std::ofstream(dir_ / "99-loopback.conf") << "{}\n";
  CniConfFile file(dir_);
  auto content = render_cni_conflist(spec({"10.244.1.0/24"}));
  ASSERT_TRUE(file.apply(content).changed);
  std::filesystem::remove(file.path());
  EXPECT_FALSE(file.read_current().content);
  EXPECT_TRUE(file.apply(content).changed);
  EXPECT_EQ(file.read_current().content, content);

  auto removed = file.apply(std::nullopt);
  EXPECT_FALSE(removed.error) << removed.message;
  EXPECT_TRUE(removed.changed);
  EXPECT_FALSE(std::filesystem::exists(file.path()));
  EXPECT_FALSE(file.apply(std::nullopt).changed);  // nothing to remove
  EXPECT_EQ(names(), (std::vector<std::string>{"99-loopback.conf"}));
}

TEST_F(CniConfFileTest, UnwritableFolderIsAnErrorValueNamingThePath) {
  auto blocker = dir_ / "not-a-folder";
  std::ofstream(blocker) << "x";
  CniConfFile file(blocker);
  auto result = file.apply(render_cni_conflist(spec({"10.244.1.0/24"})));
  EXPECT_TRUE(result.error);
  EXPECT_FALSE(result.changed);
  EXPECT_NE(result.message.find(blocker.string()), std::string::npos) << result.message;
  auto state = file.read_current();
  EXPECT_FALSE(state.content);
}

}  // namespace
}  // namespace hostgw::controller
