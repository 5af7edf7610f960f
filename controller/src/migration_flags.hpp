#pragma once

// The flags that take over from flannel or kindnet (docs/migrating.md):
// --adopt-protocol and --address-annotation, kept apart from the other flags
// of options.cpp (their description and their parsing, one block each).

#include <boost/program_options.hpp>

#include "controller/options.hpp"
#include "flags.hpp"

namespace hostgw::controller {

// Adds their entries to the --help/parse description.
void describe_migration_flags(boost::program_options::options_description& flags);

// Reads them into `options` (after --cluster-cidr, --route-protocol and
// --route-table were read). Throws OptionsError naming the flag.
void read_migration_flags(const Flags& flags, Options& options);

}  // namespace hostgw::controller
