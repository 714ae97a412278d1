/* The demo's two apps, as a person would write them. Each runs /bin/sleep with one
 * argument, <tag><app digit><version digit>: a number of seconds (years) that is unique
 * to the run, so procs.c finds exactly these processes and tells app and version apart.
 * thermo's reader is a program outpost ships itself (an artifact pinned by its digest):
 * a script that execs /bin/sleep, so its process is the same one /proc shows. */
#include <stdio.h>

#include "demo.h"
#include "harness.h"

char demo_reader_sha[10][65];
char demo_filter_sha[65];

const char *demo_filter_build(void)
{
	return h_path("build/thermo-filter.wasm");
}

const char *demo_filter_installed(void)
{
	return h_path("opt/thermo/filter.wasm");
}

/* A WASI module in WebAssembly text: it says what it does every 5 s (fd_write, then
 * poll_oneoff on the monotonic clock as its sleep), for ever. */
const char *demo_filter_wat(void)
{
	return "(module\n"
	       "  (import \"wasi_snapshot_preview1\" \"fd_write\"\n"
	       "    (func $write (param i32 i32 i32 i32) (result i32)))\n"
	       "  (import \"wasi_snapshot_preview1\" \"poll_oneoff\"\n"
	       "    (func $poll (param i32 i32 i32 i32) (result i32)))\n"
	       "  (memory (export \"memory\") 1)\n"
	       "  (data (i32.const 16) \"thermo filter: smoothing the readings\\0a\")\n"
	       "  (func (export \"_start\")\n"
	       "    (i32.store (i32.const 0) (i32.const 16))\n"
	       "    (i32.store (i32.const 4) (i32.const 38))\n"
	       "    (loop $l\n"
	       "      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const "
	       "8)))\n"
	       "      (i64.store (i32.const 64) (i64.const 0))\n"
	       "      (i32.store8 (i32.const 72) (i32.const 0))\n"
	       "      (i32.store (i32.const 80) (i32.const 1))\n"
	       "      (i64.store (i32.const 88) (i64.const 5000000000))\n"
	       "      (i64.store (i32.const 96) (i64.const 0))\n"
	       "      (i32.store16 (i32.const 104) (i32.const 0))\n"
	       "      (drop (call $poll (i32.const 64) (i32.const 128) (i32.const 1) "
	       "(i32.const 160)))\n"
	       "      (br $l))))\n";
}

const char *demo_reader_build(int ver)
{
	return h_path("build/thermo-reader-v%d", ver);
}

const char *demo_reader_installed(int ver)
{
	return h_path("opt/thermo/v%d/reader", ver);
}

const char *demo_reader_source(int ver)
{
	if (ver == DEMO_BAD_READER)
		return h_str(
			"#!/bin/sh\n"
			"# thermo reader v%d: the new sensor driver, which needs a calibration\n"
			"# table that no plant has yet\n"
			"echo \"thermo reader v%d: /etc/thermo/calibration.csv: no such file\" "
			">&2\n"
			"exit 3\n",
			ver, ver);
	return h_str("#!/bin/sh\n"
		     "# thermo reader v%d: reads the plant's sensors (here it sleeps, as the\n"
		     "# demo's workloads do, so that /proc shows it)\n"
		     "exec /bin/sleep \"$@\"\n",
		ver);
}

const char *demo_thermo_yaml(int instances, int ver)
{
	return h_str(
		"apiVersion: core.oam.dev/v1beta1\n"
		"kind: Application\n"
		"metadata:\n"
		"  name: thermo\n"
		"  annotations:\n"
		"    version: v%d\n"
		"    owner: process-engineering\n"
		"spec:\n"
		"  policies:\n"
		"%s"
		"    - name: eu-plants\n"
		"      type: placement\n"
		"      properties:\n"
		"        requirements: {region: eu}    # site labels\n"
		"  components:\n"
		"    - name: reader\n"
		"      type: process\n"
		"      properties:\n"
		"        command: %s\n"
		"        args: [\"%s%d%d\"]             # the demo finds its processes by it\n"
		"        artifact:                     # the program itself: outpost ships it\n"
		"          path: %s\n"
		"          sha256: %s\n"
		"        env: {SENSOR_BUS: i2c-1, LOG_LEVEL: info}\n"
		"        min_ready: 1s                 # ready after 1 s up (default 5s)\n"
		"        restart: always\n"
		"      traits:\n"
		"        - type: spreadscaler\n"
		"          properties:\n"
		"            instances: %d               # per site\n"
		"            spread:\n"
		"              - name: sensor-boxes\n"
		"                requirements: {role: sensor}    # host labels\n"
		"                weight: 75\n"
		"              - name: anywhere\n"
		"                weight: 25\n",
		ver, ver >= DEMO_BAD_READER ? demo_canary_policy() : "", demo_reader_installed(ver),
		demo_tag, THERMO, ver, demo_reader_installed(ver), demo_reader_sha[ver], instances);
}

const char *demo_canary_policy(void)
{
	return "    - name: canary-first\n"
	       "      type: rollout\n"
	       "      properties:\n"
	       "        waves:\n"
	       "          - name: canary\n"
	       "            requirements: {ring: canary}\n"
	       "          - name: rest\n"
	       "        soak: 3s                      # healthy this long at the canary\n"
	       "        progress_deadline: 30s        # else the site rolls back\n";
}

const char *demo_gateway_yaml(void)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\n"
		     "kind: Application\n"
		     "metadata:\n"
		     "  name: gateway\n"
		     "  annotations:\n"
		     "    version: \"1.%d\"\n"
		     "spec:\n"
		     "  components:\n"
		     "    - name: mqtt-bridge\n"
		     "      type: process\n"
		     "      properties:\n"
		     "        command: /bin/sleep           # stands in for /opt/gateway/bridge\n"
		     "        args: [\"%s%d%d\"]\n"
		     "        rollout: stop-first           # it holds the plant's MQTT port\n"
		     "      traits:\n"
		     "        - type: daemonscaler          # one on every gateway box\n"
		     "          properties:\n"
		     "            instances: 1\n"
		     "            spread:\n"
		     "              - requirements: {role: gateway}\n"
		     "    - name: filter                  # WebAssembly: one module, every arch\n"
		     "      type: wasm\n"
		     "      properties:\n"
		     "        module: sha256:%s\n"
		     "        path: %s\n"
		     "        user: nobody                # fenced in: no root, 8 MiB at most\n"
		     "        limits: {memory: 8Mi}\n"
		     "      traits:\n"
		     "        - type: daemonscaler          # one on every box with a runtime\n"
		     "          properties:\n"
		     "            instances: 1\n",
		GW_VER, demo_tag, GATEWAY, GW_VER, demo_filter_sha, demo_filter_installed());
}
