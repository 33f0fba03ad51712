/* Structured one-line logs on stderr: "ts=... level=... comp=... event=... k=v".
 * Never pass key bytes, PINs, bearer credentials, whole tokens or bodies. */
#ifndef SG_LOG_H
#define SG_LOG_H

enum sg_log_level { SG_LOG_DEBUG, SG_LOG_INFO, SG_LOG_WARN, SG_LOG_ERROR };

void sg_log_init(const char *component, enum sg_log_level min_level);
/* fmt holds the key=value pairs after the event name. */
void sg_log(enum sg_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
