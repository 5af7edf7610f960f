#!/usr/bin/env bash
# Issue 15 — take_over with flannel's public-ip annotations differing from the InternalIPs
# (kube-hostgw --address-annotation): see take_over_test.sh.
KHG_TAKE_OVER_MODE=annotation
source "$(dirname "$0")/take_over_test.sh"
