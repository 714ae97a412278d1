/* Standing by while another sync writes the bucket (see sync_int.h); the decision is
 * op_standby_next's (sync/publish/standby.h). */
#include "sync_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/wire/marker.h"
#include "outpost/sync/publish/publish.h"
#include "outpost/sync/publish/standby.h"

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

bool op_sync_stand_by(op_sync *s, const char *head, uint64_t prev_seq, op_sync_outcome *o)
{
	int64_t t0 = op_now_ms(), moved = t0;
	uint64_t seen = 0;
	for (;;) {
		op_err e = {0};
		op_marker m = {0};
		char *val = NULL;
		size_t len = 0;
		uint64_t rev = 0, last = 0;
		bool have = op_bus_kv_get(s->kv, "rev", &val, &len, &rev, &e) == 0 &&
			op_marker_decode(val, len, &m, &e) == 0;
		free(val);
		if (op_publish_last_seq(s->bus.js, &last, &e) == 0 && last != seen) {
			seen = last;
			moved = op_now_ms();
		}
		int64_t now = op_now_ms();
		op_standby_view v = {head, prev_seq, have ? m.commit : "", have ? m.seq : 0,
			now - moved, now - t0};
		enum op_standby next = op_standby_next(&v);
		if (next == OP_STANDBY_PUBLISHED) {
			o->kind = OP_SYNC_UNCHANGED;
			o->seq = o->rev_seq = m.seq;
			snprintf(o->signer, sizeof o->signer, "%s", m.signer);
			snprintf(o->reason, sizeof o->reason,
				"another sync published revision %llu", (unsigned long long)m.seq);
			memcpy(s->good_commit, head, 41);
			s->good_seq = m.seq;
			op_log_info("another sync published the revision", "commit=%.12s seq=%llu",
				head, (unsigned long long)m.seq);
		} else if (next == OP_STANDBY_AGAIN && v.marker_seq != prev_seq) {
			op_log_info("another sync published another revision: passing again",
				"commit=%.12s seq=%llu", v.marker_commit,
				(unsigned long long)m.seq);
		} else if (next == OP_STANDBY_AGAIN) {
			op_log_info("the bucket stopped moving without a marker: finishing the "
				    "revision another sync left half way",
				"commit=%.12s still_ms=%lld", head, (long long)v.still_ms);
		} else if (next == OP_STANDBY_GIVEUP) {
			op_sync_reason(o, OP_SYNC_FAILED,
				"another sync kept writing the bucket for %d s without publishing "
				"%.12s: the next pass tries again",
				OP_STANDBY_MAX_MS / 1000, head);
		}
		op_marker_clear(&m);
		if (next != OP_STANDBY_WAIT)
			return next == OP_STANDBY_AGAIN;
		sleep_ms(200);
	}
}
