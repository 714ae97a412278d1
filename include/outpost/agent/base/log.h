/* Logging: one line per event on stderr, `level=info msg="..." key=value ...`.
 * Never pass a secret. */
#ifndef OUTPOST_LOG_H
#define OUTPOST_LOG_H

enum op_log_level { OP_LOG_DEBUG, OP_LOG_INFO, OP_LOG_WARN, OP_LOG_ERROR };

void op_log_set_level(enum op_log_level lvl);
/* kvfmt is a printf format for the key=value tail (may be NULL), values that may hold
 * spaces quoted by the caller (key="%s"). Each value is escaped as it is written: a
 * quote or backslash inside quotes gets a backslash, a value outside quotes that needs
 * them is quoted, control characters are \xNN; so the line is valid logfmt whatever the
 * values hold, and a value read off the network cannot start a line. */
void op_log(enum op_log_level lvl, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 3, 4)));
#define op_log_info(msg, ...) op_log(OP_LOG_INFO, msg, __VA_ARGS__)
#define op_log_warn(msg, ...) op_log(OP_LOG_WARN, msg, __VA_ARGS__)
#define op_log_error(msg, ...) op_log(OP_LOG_ERROR, msg, __VA_ARGS__)

#endif
