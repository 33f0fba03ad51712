/* libsignet umbrella header: everything a relying party needs. */
#ifndef SIGNET_SIGNET_H
#define SIGNET_SIGNET_H

#include "signet/error.h"
#include "signet/verify.h"

#endif /* SIGNET_SIGNET_H */
