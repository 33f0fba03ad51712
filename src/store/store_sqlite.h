/* The SQLite backend of the store (store_sqlite.c): the front store, with
 * clients and the replay cache; keystore_sqlite.c adds the key functions. */
#ifndef SG_STORE_SQLITE_H
#define SG_STORE_SQLITE_H

#include "signet/error.h"
#include "store/backend.h"

/* Opens (create: creates and migrates) the SQLite database at path. */
SIGNET_WUR signet_err sg_store_sqlite_open(const char *path, int create, struct sg_store **out);
/* sg_store_open_replay's: synchronous = NORMAL for the life of the handle. */
SIGNET_WUR signet_err sg_store_sqlite_open_replay(const char *path, struct sg_store **out);

#endif
