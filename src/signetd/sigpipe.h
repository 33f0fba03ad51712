/* Signals as bytes on a pipe (sigpipe.c): each of signetd's processes (the
 * launcher, the front end, the monitor) waits on its read end in its own
 * loop. */
#ifndef SD_SIGPIPE_H
#define SD_SIGPIPE_H

#include <stddef.h>

/* Makes the pipe (again, in a forked child: the one before is the
 * parent's), routes each of sigs to it (SA_RESTART), ignores SIGPIPE and
 * unblocks every signal. Returns the read end (non-blocking), or -1. */
int sd_sigpipe_open(const int *sigs, size_t n);

#endif
