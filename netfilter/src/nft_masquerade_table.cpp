#include "netfilter/nft_masquerade_table.hpp"

#include <nftables/libnftables.h>

#include <stdexcept>

namespace hostgw::netfilter {

namespace {

std::string trimmed(const char* text) {
  std::string out = text ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

NftMasqueradeTable::NftMasqueradeTable() : context_(nft_ctx_new(NFT_CTX_DEFAULT)) {
  if (!context_) throw std::runtime_error("libnftables: cannot create an nft context");
  // Output and errors into buffers we read, never onto our stdout/stderr.
  if (nft_ctx_buffer_output(context_) != 0 || nft_ctx_buffer_error(context_) != 0) {
    nft_ctx_free(context_);
    throw std::runtime_error("libnftables: cannot buffer the context's output");
  }
}

NftMasqueradeTable::~NftMasqueradeTable() {
  if (context_) nft_ctx_free(context_);
}

NftResult NftMasqueradeTable::run_command(const std::string& command, std::string* output) {
  const auto start = std::chrono::steady_clock::now();
  NftResult result;
  const int status = nft_run_cmd_from_buffer(context_, command.c_str());
  // Both buffers are read (and so reset) after every command.
  std::string out = trimmed(nft_ctx_get_output_buffer(context_));
  std::string error = trimmed(nft_ctx_get_error_buffer(context_));
  if (status != 0) {
    result.ok = false;
    result.error = error.empty() ? "nft command failed without a message" : std::move(error);
  }
  if (output) *output = std::move(out);
  result.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  return result;
}

NftResult NftMasqueradeTable::run(const std::string& script) {
  nft_ctx_output_set_flags(context_, 0);
  return run_command(script, nullptr);
}

NftReadResult NftMasqueradeTable::read_current() {
  NftReadResult read;
  nft_ctx_output_set_flags(context_, NFT_CTX_OUTPUT_JSON);
  std::string listing;
  read.result =
      run_command("list table " + std::string(kTableFamily) + " " + std::string(kTableName), &listing);
  nft_ctx_output_set_flags(context_, 0);
  if (!read.result.ok) {
    // Listing a table that does not exist fails with ENOENT's text.
    if (read.result.error.find("No such file or directory") != std::string::npos) {
      read.result = NftResult{true, {}, read.result.took};
    } else {
      read.result.error = "list table " + std::string(kTableFamily) + " " + std::string(kTableName) + ": " +
                          read.result.error;
    }
    return read;
  }
  std::string error;
  auto state = parse_table_listing(listing, &error);
  if (!state) {
    read.result.ok = false;
    read.result.error = "list table " + std::string(kTableFamily) + " " + std::string(kTableName) + ": " + error;
    return read;
  }
  read.state = std::move(*state);
  return read;
}

NftResult NftMasqueradeTable::replace_table(const MasqueradeSets& sets) { return run(render_table_script(sets)); }

NftResult NftMasqueradeTable::update_elements(const MasqueradeUpdate& update) {
  if (update.empty()) return {};
  return run(render_update_script(update));
}

NftResult NftMasqueradeTable::delete_table() { return run(render_delete_script()); }

NftResult NftMasqueradeTable::apply(const MasqueradePlan& plan, const MasqueradeSets& desired) {
  switch (plan.action) {
    case MasqueradeAction::none:
      return {};
    case MasqueradeAction::replace_table:
      return replace_table(desired);
    case MasqueradeAction::update_elements:
      return update_elements(plan.update);
    case MasqueradeAction::delete_table:
      return delete_table();
  }
  return {false, "unknown masquerade action", {}};
}

}  // namespace hostgw::netfilter
