#!/usr/bin/env bash
# The built binaries keep the trust boundary (scripts/layers.sh): signetd
# carries no PKCS#11 code, no audit-log or key-store writer and no signer
# internals; the signer no HTTP server; libsignet nothing of the service.
set -euo pipefail
bash "$SIGNET_SOURCE_DIR/scripts/layers.sh" "$SIGNET_BUILD_DIR"
