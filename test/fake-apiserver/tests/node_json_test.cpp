// make_node_json, make_node_specs and make_test_pki.

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fake-apiserver/fake_apiserver.hpp"
#include "test_support.hpp"

namespace hostgw::testing {
namespace {

TEST(MakeNodeJson, RealisticNodeLooksLikeAKubeletRegisteredNode) {
  NodeSpec spec;
  spec.name = "worker-17";
  spec.pod_cidrs = {"10.244.17.0/24", "2001:db8:17::/64"};
  spec.internal_ips = {"198.51.100.17"};
  spec.external_ips = {"203.0.113.17"};
  const std::string json = make_node_json(spec);
  EXPECT_GT(json.size(), 7000u);
  EXPECT_LT(json.size(), 10000u);
  auto doc = parse(json);
  EXPECT_STREQ(doc["kind"].GetString(), "Node");
  EXPECT_STREQ(doc["apiVersion"].GetString(), "v1");
  const auto& metadata = doc["metadata"];
  EXPECT_STREQ(metadata["name"].GetString(), "worker-17");
  EXPECT_GE(metadata["labels"].MemberCount(), 15u);
  EXPECT_STREQ(metadata["labels"]["kubernetes.io/hostname"].GetString(), "worker-17");
  EXPECT_GE(metadata["annotations"].MemberCount(), 6u);
  EXPECT_GE(metadata["managedFields"].Size(), 2u);
  EXPECT_STREQ(metadata["managedFields"][1]["manager"].GetString(), "kube-controller-manager");
  EXPECT_TRUE(metadata["managedFields"][0]["fieldsV1"].IsObject());
  EXPECT_STREQ(doc["spec"]["podCIDR"].GetString(), "10.244.17.0/24");
  EXPECT_EQ(doc["spec"]["podCIDRs"].Size(), 2u);
  EXPECT_TRUE(doc["spec"].HasMember("providerID"));
  const auto& status = doc["status"];
  EXPECT_EQ(status["conditions"].Size(), 5u);
  EXPECT_STREQ(status["conditions"][4]["type"].GetString(), "Ready");
  EXPECT_TRUE(status["conditions"][4].HasMember("lastHeartbeatTime"));
  ASSERT_EQ(status["addresses"].Size(), 3u);
  EXPECT_STREQ(status["addresses"][0]["type"].GetString(), "InternalIP");
  EXPECT_STREQ(status["addresses"][0]["address"].GetString(), "198.51.100.17");
  EXPECT_STREQ(status["addresses"][1]["type"].GetString(), "ExternalIP");
  EXPECT_STREQ(status["addresses"][2]["type"].GetString(), "Hostname");
  EXPECT_EQ(status["images"].Size(), 20u);
  EXPECT_NE(std::string(status["images"][0]["names"][0].GetString()).find("@sha256:"), std::string::npos);
  EXPECT_EQ(status["daemonEndpoints"]["kubeletEndpoint"]["Port"].GetInt(), 10250);
  EXPECT_STREQ(status["nodeInfo"]["kubeletVersion"].GetString(), "v1.29.4");
  EXPECT_EQ(status["capacity"]["pods"], "110");
  EXPECT_FALSE(metadata.HasMember("resourceVersion"));
}

TEST(MakeNodeJson, MinimalNodeIsSmall) {
  const std::string json = small_node("a");
  EXPECT_LT(json.size(), 600u);
  auto doc = parse(json);
  EXPECT_STREQ(doc["spec"]["podCIDRs"][0].GetString(), "10.244.1.0/24");
  EXPECT_STREQ(doc["status"]["addresses"][0]["address"].GetString(), "198.51.100.11");
}

TEST(MakeNodeJson, NoPodCidrMeansNoPodCidrFields) {
  NodeSpec spec;
  spec.name = "fresh";
  auto doc = parse(make_node_json(spec));
  EXPECT_FALSE(doc["spec"].HasMember("podCIDR"));
  EXPECT_THROW(make_node_json(NodeSpec{}), std::invalid_argument);
}

TEST(MakeNodeSpecs, ReusesAFewAddressesWhenAsked) {
  GenerateOptions options;
  options.count = 10000;
  options.pod_cidr_size = 30;
  options.node_ip_base = "198.51.100.0/24";
  options.node_ip_count = 253;  // .1 .. .253
  auto specs = make_node_specs(options);
  ASSERT_EQ(specs.size(), 10000u);
  EXPECT_EQ(specs[0].internal_ips[0], "198.51.100.1");  // node 0's own address is never reused
  EXPECT_EQ(specs[1].internal_ips[0], "198.51.100.2");
  EXPECT_EQ(specs[252].internal_ips[0], "198.51.100.253");
  EXPECT_EQ(specs[253].internal_ips[0], "198.51.100.2");
  EXPECT_EQ(specs[9999].pod_cidrs[0], "10.244.156.60/30");
  for (const auto& spec : specs) {
    if (spec.name != "node-0") {
      EXPECT_NE(spec.internal_ips[0], "198.51.100.1") << spec.name;
    }
  }
  options.node_ip_count = 255;  // .1 .. .255 is the broadcast address: does not fit
  EXPECT_THROW(make_node_specs(options), std::invalid_argument);
  options.node_ip_count = 1;
  EXPECT_THROW(make_node_specs(options), std::invalid_argument);
}

TEST(MakeNodeSpecs, AllocatesDistinctCidrsAndAddresses) {
  GenerateOptions options;
  options.count = 5000;
  auto specs = make_node_specs(options);
  ASSERT_EQ(specs.size(), 5000u);
  EXPECT_EQ(specs[0].name, "node-0");
  EXPECT_EQ(specs[0].pod_cidrs[0], "10.244.0.0/29");  // 5000 blocks fit a /16 as /29s
  EXPECT_EQ(specs[1].pod_cidrs[0], "10.244.0.8/29");
  EXPECT_EQ(specs[4999].pod_cidrs[0], "10.244.156.56/29");
  EXPECT_EQ(specs[0].internal_ips[0], "100.64.0.1");
  EXPECT_EQ(specs[4999].internal_ips[0], "100.64.19.136");
  options.count = 200;
  options.first_index = 10;
  specs = make_node_specs(options);
  EXPECT_EQ(specs[0].name, "node-10");
  EXPECT_EQ(specs[0].pod_cidrs[0], "10.244.10.0/24");
  options.pod_cidr_size = 24;
  options.count = 300;
  EXPECT_THROW(make_node_specs(options), std::invalid_argument);
  options.pod_cidr_base = "10.244.0.0";
  EXPECT_THROW(make_node_specs(options), std::invalid_argument);
}

std::string san_text(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return {};
  std::string out;
  int index = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
  if (index >= 0) {
    BIO* mem = BIO_new(BIO_s_mem());
    X509V3_EXT_print(mem, X509_get_ext(cert, index), 0, 0);
    char* data = nullptr;
    long size = BIO_get_mem_data(mem, &data);
    out.assign(data, static_cast<std::size_t>(size));
    BIO_free(mem);
  }
  X509_free(cert);
  return out;
}

TEST(MakeTestPki, ServerCertificateCarriesTheSans) {
  const auto pki = make_test_pki({"198.51.100.250", "apiserver.test", "2001:db8::1"}, "me");
  const std::string sans = san_text(pki.server_cert_pem);
  EXPECT_NE(sans.find("IP Address:198.51.100.250"), std::string::npos) << sans;
  EXPECT_NE(sans.find("DNS:apiserver.test"), std::string::npos) << sans;
  EXPECT_NE(sans.find("IP Address:2001:DB8:0:0:0:0:0:1"), std::string::npos) << sans;
  EXPECT_NE(pki.server_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_NE(pki.client_cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_THROW(make_test_pki({}), std::invalid_argument);
  EXPECT_THROW(make_test_pki({"a,b"}), std::invalid_argument);
}

}  // namespace
}  // namespace hostgw::testing
