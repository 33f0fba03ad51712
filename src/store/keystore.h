/* The key store (see keystore_sqlite.c): a store handle with the key
 * lifecycle functions (sg_store_key_*). Only the signer writes it; only
 * the signer and the CLI link it. */
#ifndef SG_KEYSTORE_H
#define SG_KEYSTORE_H

#include "signet/error.h"
#include "store/store.h"

/* As sg_store_open, on the key store's file ([store] keystore). */
SIGNET_WUR signet_err sg_keystore_open(const char *where, int create, struct sg_store **out);

#endif
