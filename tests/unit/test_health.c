/* The health state machine: min_ready without a probe, every sequence of up to six
 * probe results against a plain recount (for each failures threshold and start period),
 * stop and restart, the failure text, and the configuration taken from a component. */
#include <stdio.h>
#include <string.h>

#include "outpost/agent/host/health.h"
#include "t.h"

static void test_min_ready(void)
{
	const op_health_cfg c = {.probe = false, .failures = 1, .min_ready_ms = 5000};
	op_health_fsm f = {0};
	T_EQ_INT(f.state, OP_HEALTH_NONE);
	T_CHECK(!op_health_tick(&f, &c, 100000)); /* not running: nothing */
	T_EQ_INT(op_health_due(&f, &c), -1);
	op_health_start(&f, 1000);
	T_EQ_INT(f.state, OP_HEALTH_STARTING);
	T_EQ_INT(op_health_due(&f, &c), 6000);
	T_CHECK(!op_health_tick(&f, &c, 1000));
	T_CHECK(!op_health_tick(&f, &c, 5999));
	T_EQ_INT(f.state, OP_HEALTH_STARTING);
	/* Probe results mean nothing without a probe. */
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_PASS, NULL, 2000));
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_FAIL, "x", 2000));
	T_EQ_INT(f.state, OP_HEALTH_STARTING);
	T_CHECK(op_health_tick(&f, &c, 6000));
	T_EQ_INT(f.state, OP_HEALTH_HEALTHY);
	T_EQ_INT(op_health_due(&f, &c), -1);
	T_CHECK(!op_health_tick(&f, &c, 7000)); /* no change: false */
	T_EQ_INT(f.state, OP_HEALTH_HEALTHY);

	/* An exit before min_ready: it starts over from the new start. */
	op_health_start(&f, 10000);
	op_health_stop(&f);
	T_EQ_INT(f.state, OP_HEALTH_NONE);
	T_CHECK(!op_health_tick(&f, &c, 20000));
	op_health_start(&f, 12000);
	T_CHECK(!op_health_tick(&f, &c, 16999));
	T_CHECK(op_health_tick(&f, &c, 17000));

	/* min_ready 0: healthy at the first tick. */
	const op_health_cfg z = {.probe = false, .failures = 1, .min_ready_ms = 0};
	op_health_start(&f, 500);
	T_EQ_INT(op_health_due(&f, &z), 500);
	T_CHECK(op_health_tick(&f, &z, 500));
}

/* The expected state after results r[0..n) at times i * step since the start at 0: a
 * recount from scratch rather than the machine's running count. */
static enum op_health recount(const enum op_probe_result *r, int n, int64_t step, int failures,
	int64_t start_period, int *fails)
{
	int last_pass = -1;
	for (int i = 0; i < n; i++)
		if (r[i] == OP_PROBE_PASS)
			last_pass = i;
	int counted = 0;
	for (int i = last_pass + 1; i < n; i++)
		if (last_pass >= 0 || i * step >= start_period)
			counted++;
	*fails = counted < failures ? counted : failures;
	if (counted >= failures)
		return OP_HEALTH_UNHEALTHY;
	return last_pass >= 0 ? OP_HEALTH_HEALTHY : OP_HEALTH_STARTING;
}

static void test_every_sequence(void)
{
	const int64_t step = 1000;
	const int64_t periods[] = {0, 1, 2500, 10000};
	int rows = 0;
	for (int failures = 1; failures <= 4; failures++)
		for (size_t p = 0; p < sizeof periods / sizeof *periods; p++)
			for (int n = 0; n <= 6; n++) {
				int total = 1;
				for (int i = 0; i < n; i++)
					total *= 3;
				for (int code = 0; code < total; code++) {
					enum op_probe_result r[6] = {0};
					int x = code;
					for (int i = 0; i < n; i++, x /= 3)
						r[i] = (enum op_probe_result)(x % 3);
					op_health_cfg c = {.probe = true,
						.start_period_ms = periods[p],
						.failures = failures,
						.min_ready_ms = 5000};
					op_health_fsm f;
					op_health_start(&f, 0);
					for (int i = 0; i < n; i++) {
						enum op_health before = f.state;
						bool ch = op_health_probe(&f, &c, r[i],
							r[i] == OP_PROBE_FAIL ? "status 503" : NULL,
							i * step);
						T_CHECK_MSG(ch == (before != f.state),
							"failures %d period %lld code %d step %d: "
							"changed %d",
							failures, (long long)periods[p], code, i,
							ch);
						/* min_ready plays no part with a probe. */
						T_CHECK(!op_health_tick(&f, &c, i * step + 100000));
					}
					int fails;
					enum op_health want = recount(
						r, n, step, failures, periods[p], &fails);
					T_CHECK_MSG(f.state == want && f.fails == fails,
						"failures %d period %lld n %d code %d: state %d "
						"fails %d, want %d %d",
						failures, (long long)periods[p], n, code, f.state,
						f.fails, want, fails);
					rows++;
				}
			}
	T_EQ_INT(rows, 4 * 4 * (1 + 3 + 9 + 27 + 81 + 243 + 729));
}

static void test_failure_text(void)
{
	const op_health_cfg c = {.probe = true, .failures = 2, .start_period_ms = 1000};
	op_health_fsm f;
	op_health_start(&f, 0);
	/* Within the start period: not counted, not recorded. */
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_FAIL, "http :8080/healthz: status 503", 999));
	T_EQ_STR(f.probe, "");
	T_EQ_INT(f.fails, 0);
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_FAIL, "http :8080/healthz: status 503", 1000));
	T_EQ_STR(f.probe, "http :8080/healthz: status 503");
	T_EQ_INT(f.state, OP_HEALTH_STARTING);
	T_CHECK(op_health_probe(&f, &c, OP_PROBE_TIMEOUT, NULL, 2000));
	T_EQ_INT(f.state, OP_HEALTH_UNHEALTHY);
	T_EQ_STR(f.probe, "timed out");
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_FAIL, "", 3000));
	T_EQ_STR(f.probe, "failed");
	T_EQ_INT(f.fails, 2); /* capped at the threshold */
	/* A pass: healthy, the failure forgotten; then one failure is not enough. */
	T_CHECK(op_health_probe(&f, &c, OP_PROBE_PASS, "ignored", 4000));
	T_EQ_INT(f.state, OP_HEALTH_HEALTHY);
	T_EQ_STR(f.probe, "");
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_FAIL, "tcp :5432: connection refused", 5000));
	T_EQ_INT(f.state, OP_HEALTH_HEALTHY);
	T_EQ_STR(f.probe, "tcp :5432: connection refused");
	/* A long reason is cut to the field. */
	char longer[600];
	memset(longer, 'x', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	T_CHECK(op_health_probe(&f, &c, OP_PROBE_FAIL, longer, 6000));
	T_EQ_INT(strlen(f.probe), sizeof f.probe - 1);
	/* Stopped: none, cleared, and later probes are ignored. */
	op_health_stop(&f);
	T_EQ_INT(f.state, OP_HEALTH_NONE);
	T_EQ_STR(f.probe, "");
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_PASS, NULL, 7000));
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_FAIL, "x", 7000));
	T_EQ_INT(f.state, OP_HEALTH_NONE);
	T_EQ_INT(op_health_due(&f, &c), -1);
	/* Started again: the start period counts from the new start. */
	op_health_start(&f, 10000);
	T_EQ_INT(f.fails, 0);
	T_CHECK(!op_health_probe(&f, &c, OP_PROBE_FAIL, "x", 10500));
	T_EQ_INT(f.fails, 0);
	T_EQ_INT(op_health_due(&f, &c), -1); /* with a probe, time alone changes nothing */
}

static void test_cfg_of(void)
{
	op_component comp = {.min_ready_ms = 7000};
	op_health_cfg c = op_health_cfg_of(&comp);
	T_CHECK(!c.probe);
	T_EQ_INT(c.min_ready_ms, 7000);
	T_EQ_INT(c.start_period_ms, 0);
	comp.has_health = true;
	comp.health = (op_health_check){.probe = OP_PROBE_TCP,
		.port = 1,
		.interval_ms = 10000,
		.timeout_ms = 1000,
		.start_period_ms = 30000,
		.failures = 4};
	c = op_health_cfg_of(&comp);
	T_CHECK(c.probe);
	T_EQ_INT(c.start_period_ms, 30000);
	T_EQ_INT(c.failures, 4);
	comp.health.failures = 0; /* never from a valid manifest; still at least 1 */
	T_EQ_INT(op_health_cfg_of(&comp).failures, 1);
}

int main(void)
{
	T_RUN(test_min_ready);
	T_RUN(test_every_sequence);
	T_RUN(test_failure_text);
	T_RUN(test_cfg_of);
	return t_done();
}
