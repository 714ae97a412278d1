/* The manifest validator and the canonical JSON. Invalid manifests are a table: each
 * row is a YAML text and the diagnostic it must give (line, column, field path and a
 * piece of the message), so that a change in where or how an error is reported shows
 * up here. Valid manifests go YAML -> model -> JSON -> model -> JSON and must come
 * back identical, field by field and byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/doc.h"
#include "outpost/agent/model/manifest.h"
#include "t.h"

/* --- building blocks of the YAML texts ---------------------------------------------- */

/* Line numbers are in the comments; a row's position is counted from them. */
#define API "apiVersion: core.oam.dev/v1beta1\n" /* 1 */
#define TOP API "kind: Application\nmetadata:\n" /* 1-3 */
#define NAME "  name: app\n" /* 4 */
#define SPEC "spec:\n  components:\n" /* 5-6 */
#define HDR TOP NAME SPEC /* 1-6 */
#define COMPH "    - name: c\n      type: process\n      properties:\n" /* 7-9 */
#define COMP COMPH "        command: /bin/c\n" /* 10 */
#define TRAITH "      traits:\n        - type: spreadscaler\n          properties:\n" /* 11-13 */
#define TRAIT TRAITH "            instances: 1\n" /* 14 */
#define SPREAD HDR COMP TRAIT "            spread:\n" /* 15 */
#define POLH TOP NAME "spec:\n  policies:\n    - name: p\n      type: placement\n" /* 1-8 */
#define POLT "  components:\n" COMP
#define ART HDR COMP "        artifact:\n          path: /bin/c\n" /* 11-12 */
#define HEALTH HDR COMP "        health:\n" /* 11 */
#define WASMH "    - name: c\n      type: wasm\n      properties:\n" /* 7-9 */
#define WASM WASMH "        module: sha256:" HEX "\n        path: /m.wasm\n" /* 10-11 */
#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define A63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A64 A63 "a"
#define C "spec.components[0]"
#define CP C ".properties"
#define TP C ".traits[0].properties"

struct bad {
	const char *yaml;
	int line, col;
	const char *path;
	const char *msg; /* a substring of the message; the row gives no other error */
};

static const struct bad bads[] = {
	/* unknown keys at every level */
	{HDR COMP "extra: 1\n", 11, 1, "extra",
		"unknown field (expected one of: apiVersion, kind, metadata, spec)"},
	{TOP NAME "  labels: {a: b}\n" SPEC COMP, 5, 3, "metadata.labels",
		"unknown field (expected one of: name, annotations)"},
	{HDR COMP "  replicas: 3\n", 11, 3, "spec.replicas", "unknown field"},
	{HDR COMP "      image: nginx\n", 11, 7, C ".image",
		"unknown field (expected one of: name, type, properties, traits)"},
	{HDR COMP "        owner: root\n", 11, 9, CP ".owner", "unknown field"},
	/* the fence: user, group, umask, limits */
	{HDR COMP "        user: Root\n", 11, 15, CP ".user",
		"expected a user name ([a-z_][a-z0-9_-]*, at most 32 characters) or a decimal id, "
		"got \"Root\""},
	{HDR COMP "        user: 4294967295\n", 11, 15, CP ".user", "or a decimal id"},
	{HDR COMP "        user: \"-x\"\n", 11, 15, CP ".user", "got \"-x\""},
	{HDR COMP "        group: [a]\n", 11, 16, CP ".group", "expected a string, got a list"},
	{HDR COMP "        group: 0100\n", 11, 16, CP ".group", "expected a group name"},
	{HDR COMP "        umask: 0o22\n", 11, 16, CP ".umask", "expected an octal umask"},
	{HDR COMP "        umask: \"1022\"\n", 11, 16, CP ".umask", "got \"1022\""},
	{HDR COMP "        umask: \"08\"\n", 11, 16, CP ".umask", "got \"08\""},
	{HDR COMP "        limits: {memory: 64Mb}\n", 11, 26, CP ".limits.memory",
		"expected a size in bytes or with a unit"},
	{HDR COMP "        limits: {memory: 1000}\n", 11, 26, CP ".limits.memory",
		"expected a size from 1Mi to 1Pi, got 1000"},
	{HDR COMP "        limits: {memory: 2048Ti}\n", 11, 26, CP ".limits.memory", "got 2048Ti"},
	{HDR COMP "        limits: {open_files: 0}\n", 11, 30, CP ".limits.open_files",
		"expected an integer from 1 to 1048576, got 0"},
	{HDR COMP "        limits: {processes: many}\n", 11, 29, CP ".limits.processes",
		"expected an integer from 1 to 4194304"},
	{HDR COMP "        limits: {cpu: 1}\n", 11, 18, CP ".limits.cpu",
		"unknown field (expected one of: memory, open_files, processes, cpu_time)"},
	{HDR COMP "        limits: {cpu_time: 1500ms}\n", 11, 28, CP ".limits.cpu_time",
		"expected whole seconds, got 1500ms"},
	{HDR COMP "        limits: {cpu_time: 10}\n", 11, 28, CP ".limits.cpu_time",
		"with its unit"},
	/* type wasm: module, path and dirs; no command, workdir or artifact */
	{HDR WASMH "        path: /m.wasm\n", 10, 9, CP ".module", "missing required field"},
	{HDR WASMH "        module: sha256:" HEX "\n", 10, 9, CP ".path", "missing required field"},
	{HDR WASM "        command: /bin/c\n", 12, 9, CP ".command",
		"unknown field (expected one of: module, path, args, env, dirs, restart"},
	{HDR WASM "        workdir: /w\n", 12, 9, CP ".workdir", "unknown field"},
	{HDR WASMH "        module: " HEX "\n        path: /m.wasm\n", 10, 17, CP ".module",
		"expected the module's digest, sha256: and 64 lowercase hex digits"},
	{HDR WASMH "        module: sha256:" HEX "\n        path: /a/../m.wasm\n", 11, 15,
		CP ".path", "expected a plain absolute path (no //, . or .. parts)"},
	{HDR WASMH "        module: sha256:" HEX "\n        path: m.wasm\n", 11, 15, CP ".path",
		"absolute"},
	{HDR WASM "        dirs: [{guest: /data}]\n", 12, 16, CP ".dirs[0].host",
		"missing required field"},
	{HDR WASM "        dirs: [{guest: /data, host: /x/./y}]\n", 12, 37, CP ".dirs[0].host",
		"plain absolute path"},
	{HDR WASM "        dirs: [{guest: data, host: /x}]\n", 12, 24, CP ".dirs[0].guest",
		"absolute"},
	{HDR WASM "        dirs: [{guest: /d, host: /x}, {guest: /d, host: /y}]\n", 12, 39,
		CP ".dirs[1]", "guest path /d is given twice"},
	{HDR WASM "        dirs: [{guest: /d, host: /x, readonly: yes}]\n", 12, 48,
		CP ".dirs[0].readonly", "expected one of: false, true"},
	{HDR WASM "        dirs: [{guest: /d, host: /x, mode: rw}]\n", 12, 38, CP ".dirs[0].mode",
		"unknown field"},
	{HDR COMP "        limits: 64Mi\n", 11, 17, CP ".limits", "expected a mapping"},
	{HDR COMP "        artifact:\n          path: /bin/c\n          sha256: " HEX
		  "\n          owner: x\n",
		14, 11, CP ".artifact.owner",
		"unknown field (expected one of: path, sha256, mode, unpack)"},
	{HDR COMP TRAIT "          name: t\n", 15, 11, C ".traits[0].name",
		"unknown field (expected one of: type, properties)"},
	{HDR COMP TRAIT "            replicas: 2\n", 15, 13, TP ".replicas",
		"unknown field (expected one of: instances, spread)"},
	{SPREAD "              - name: a\n                zone: x\n", 17, 17, TP ".spread[0].zone",
		"unknown field (expected one of: name, requirements, weight)"},
	{POLH "      priority: 1\n      properties: {}\n" POLT, 9, 7, "spec.policies[0].priority",
		"unknown field"},
	{POLH "      properties:\n        sites: [s1]\n        labels: {a: b}\n" POLT, 11, 9,
		"spec.policies[0].properties.labels",
		"unknown field (expected one of: sites, requirements)"},

	/* wrong types */
	{HDR COMP "        args: --verbose\n", 11, 15, CP ".args",
		"expected a list of strings, got a string"},
	{HDR COMP "        env: [A]\n", 11, 14, CP ".env", "expected a mapping, got a list"},
	{HDR COMPH "        command: {a: b}\n", 10, 18, CP ".command",
		"expected a string, got a mapping"},
	{HDR COMP TRAITH "            instances: \"4\"\n", 14, 24, TP ".instances",
		"got the string \"4\" (write the number without quotes)"},
	{HDR COMP TRAITH "            instances: 2.5\n", 14, 24, TP ".instances",
		"expected an integer from 0 to 10000, got a float"},
	{HDR COMP TRAITH "            instances: true\n", 14, 24, TP ".instances", "got a boolean"},
	{HDR COMP TRAITH "            instances: 0x10\n", 14, 24, TP ".instances",
		"got 0x10, which is not a decimal integer"},
	{HDR COMP TRAITH "            instances: 3 pods\n", 14, 24, TP ".instances",
		"got 3 pods, which is not an integer"},
	{HDR COMPH "        command: |\n          /bin/c\n", 10, 18, CP ".command",
		"without control characters, got \"/bin/c\\x0a\" (its last character is a newline"},
	{HDR COMP "        workdir: \"/var/\\tlib\"\n", 11, 18, CP ".workdir",
		"without control characters, got \"/var/\\x09lib\""},
	{HDR COMP "        artifact:\n          path: \"/bin/c\\r\"\n          sha256: " HEX "\n",
		12, 17, CP ".artifact.path", "without control characters"},
	{HDR COMP "        env: {\"A\\nfile.yaml:1:1: forged\": x}\n", 11, 15,
		CP ".env.A\\x0afile.yaml:1:1: forged", "expected"},
	{HDR COMP TRAITH "            instances: !!int 3\n", 14, 24, "(document)",
		"unsupported YAML tag tag:yaml.org,2002:int"},
	{HDR COMPH "        command: ~\n", 10, 18, CP ".command", "expected a string, got null"},
	{TOP "  name: null\n" SPEC COMP, 4, 9, "metadata.name", "expected a string, got null"},
	{API "kind: Application\nmetadata: app\n" SPEC COMP, 3, 11, "metadata",
		"expected a mapping, got a string"},
	{TOP NAME "spec: [a]\n", 5, 7, "spec", "expected a mapping, got a list"},
	{HDR COMP "      traits: {type: spreadscaler}\n", 11, 15, C ".traits",
		"expected a list of traits, got a mapping"},
	{HDR "    - name: c\n      type: process\n      properties: null\n", 9, 19, CP,
		"expected a mapping, got null"},
	{POLH "      properties:\n        sites: plant-1\n" POLT, 10, 16,
		"spec.policies[0].properties.sites", "expected a list of site names, got a string"},
	{ART "          sha256: [" HEX "]\n", 13, 19, CP ".artifact.sha256",
		"or a mapping of architecture to digest, got a list"},

	/* duplicates */
	{HDR COMP "kind: Application\n", 11, 1, "kind", "duplicate key (first at line 2)"},
	{HDR COMP "        command: /bin/d\n", 11, 9, CP ".command",
		"duplicate key (first at line 10)"},
	{HDR COMP COMP, 11, 13, "spec.components[1].name",
		"duplicate component name \"c\" (first at line 7)"},
	{SPREAD "              - name: a\n              - name: a\n", 17, 23, TP ".spread[1].name",
		"duplicate spread name \"a\" (spread[0] has it)"},
	{SPREAD "              - name: spread-1\n              - weight: 5\n", 17, 17,
		TP ".spread[1]", "duplicate spread name \"spread-1\""},
	{POLH "      properties:\n        sites: [s1, s2, s1]\n" POLT, 10, 25,
		"spec.policies[0].properties.sites[2]", "duplicate site \"s1\""},
	{HDR COMP "        env: {A: x, A: y}\n", 11, 21, CP ".env.A", "duplicate key"},

	/* bad names */
	{TOP "  name: App\n" SPEC COMP, 4, 9, "metadata.name",
		"expected an app name: 1 to 63 characters of [a-z0-9-], got \"App\""},
	{HDR "    - name: my_c\n      type: process\n      properties:\n        command: /c\n", 7,
		13, C ".name", "expected a component name"},
	{TOP "  name: " A64 "\n" SPEC COMP, 4, 9, "metadata.name", "1 to 63 characters"},
	{TOP "  name: \"\"\n" SPEC COMP, 4, 9, "metadata.name", "got \"\""},
	{POLH "      properties:\n        sites: [hub]\n" POLT, 10, 17,
		"spec.policies[0].properties.sites[0]", "the site name \"hub\" is reserved"},
	{POLH "      properties:\n        sites: [Plant-1]\n" POLT, 10, 17,
		"spec.policies[0].properties.sites[0]", "expected a site name"},
	{SPREAD "              - name: Arm\n", 16, 23, TP ".spread[0].name",
		"expected a spread name"},
	{TOP NAME "spec:\n  policies:\n    - name: P_1\n      type: placement\n      properties: "
		  "{}\n" POLT,
		7, 13, "spec.policies[0].name", "expected a policy name"},

	/* counts out of range */
	{HDR COMP TRAITH "            instances: 10001\n", 14, 24, TP ".instances",
		"expected an integer from 0 to 10000, got 10001"},
	{HDR COMP TRAITH "            instances: -1\n", 14, 24, TP ".instances",
		"expected an integer from 0 to 10000, got -1"},
	{HDR COMP TRAITH "            instances: 99999999999999999999\n", 14, 24, TP ".instances",
		"got 99999999999999999999"},
	{HDR COMP "      traits:\n        - type: daemonscaler\n          properties:\n"
		  "            instances: 101\n",
		14, 24, TP ".instances", "expected an integer from 0 to 100, got 101"},
	{SPREAD "              - weight: 0\n", 16, 25, TP ".spread[0].weight",
		"expected an integer from 1 to 1000000, got 0"},
	{SPREAD "              - weight: -3\n", 16, 25, TP ".spread[0].weight", "got -3"},
	{SPREAD "              - weight: 1000001\n", 16, 25, TP ".spread[0].weight", "got 1000001"},

	/* paths */
	{HDR COMPH "        command: bin/c\n", 10, 18, CP ".command",
		"expected an absolute path, got \"bin/c\""},
	{HDR COMP "        workdir: var/lib\n", 11, 18, CP ".workdir",
		"expected an absolute path, got \"var/lib\""},
	{HDR COMP "        artifact:\n          path: c\n          sha256: " HEX "\n", 12, 17,
		CP ".artifact.path", "expected an absolute path"},

	/* digests */
	/* mode: a quoted octal string; unpack: tar only */
	{ART "          sha256: " HEX "\n          mode: 0755\n", 14, 17, CP ".artifact.mode",
		"expected a quoted octal string such as \"0755\", got 0755 unquoted"},
	{ART "          sha256: " HEX "\n          mode: 493\n", 14, 17, CP ".artifact.mode",
		"got 493 unquoted"},
	{ART "          sha256: " HEX "\n          mode: \"0855\"\n", 14, 17, CP ".artifact.mode",
		"expected an octal mode of 3 or 4 digits after a 0, such as \"0755\", got "
		"\"0855\""},
	{ART "          sha256: " HEX "\n          mode: \"755\"\n", 14, 17, CP ".artifact.mode",
		"got \"755\""},
	{ART "          sha256: " HEX "\n          mode: \"017777\"\n", 14, 17, CP ".artifact.mode",
		"got \"017777\""},
	{ART "          sha256: " HEX "\n          mode: \"07\"\n", 14, 17, CP ".artifact.mode",
		"got \"07\""},
	{ART "          sha256: " HEX "\n          mode: \"\"\n", 14, 17, CP ".artifact.mode",
		"got \"\""},
	{ART "          sha256: " HEX "\n          mode: [1]\n", 14, 17, CP ".artifact.mode",
		"expected a string, got a list"},
	{ART "          sha256: " HEX "\n          unpack: zip\n", 14, 19, CP ".artifact.unpack",
		"expected one of: tar; got \"zip\""},
	{ART "          sha256: " HEX "\n          unpack: true\n", 14, 19, CP ".artifact.unpack",
		"expected one of: tar; got \"true\""},
	{ART "          sha256: abc\n", 13, 19, CP ".artifact.sha256",
		"expected a sha256 digest of 64 lowercase hex digits"},
	{ART "          sha256: 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n",
		13, 19, CP ".artifact.sha256", "64 lowercase hex digits"},
	{ART "          sha256: g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
		13, 19, CP ".artifact.sha256", "64 lowercase hex digits"},
	{ART "          sha256: " HEX "0\n", 13, 19, CP ".artifact.sha256", "64 lowercase hex"},
	{ART "          sha256: {x86_64: " HEX "}\n", 13, 20, CP ".artifact.sha256.x86_64",
		"expected a Debian architecture name"},
	{ART "          sha256: {}\n", 13, 19, CP ".artifact.sha256",
		"expected at least one architecture's digest"},
	{ART "          sha256: {amd64: abc}\n", 13, 27, CP ".artifact.sha256.amd64",
		"expected a sha256 digest of 64 lowercase hex digits, got \"abc\""},

	/* health: exactly one probe, its fields, durations with units; min_ready */
	{HEALTH "          interval: 10s\n", 12, 11, CP ".health",
		"expected exactly one probe: exec, http or tcp"},
	{HDR COMP "        health: {}\n", 11, 17, CP ".health",
		"expected exactly one probe: exec, http or tcp"},
	{HDR COMP "        health: [tcp]\n", 11, 17, CP ".health", "expected a mapping"},
	{HEALTH "          tcp: {port: 80}\n          http: {port: 80}\n", 13, 17,
		CP ".health.http",
		"a health check takes exactly one probe (exec, http or tcp); tcp is at line 12"},
	{HEALTH "          tcp: {port: 80}\n          retries: 3\n", 13, 11, CP ".health.retries",
		"unknown field (expected one of: exec, http, tcp, interval, timeout, failures, "
		"start_period)"},
	{HEALTH "          tcp: {port: 0}\n", 12, 23, CP ".health.tcp.port",
		"expected an integer from 1 to 65535, got 0"},
	{HEALTH "          tcp: {port: 65536}\n", 12, 23, CP ".health.tcp.port",
		"expected an integer from 1 to 65535, got 65536"},
	{HEALTH "          tcp: {port: 1, path: /}\n", 12, 26, CP ".health.tcp.path",
		"unknown field (expected one of: port)"},
	{HEALTH "          http: {path: /x}\n", 12, 17, CP ".health.http.port",
		"missing required field"},
	{HEALTH "          http: {port: 80, path: x}\n", 12, 34, CP ".health.http.path",
		"expected a path starting with / of at most 1024 printable ASCII characters "
		"without spaces, got \"x\""},
	{HEALTH "          http: {port: 80, path: \"/a b\"}\n", 12, 34, CP ".health.http.path",
		"got \"/a b\""},
	{HEALTH "          exec: {command: check}\n", 12, 27, CP ".health.exec.command",
		"expected an absolute path, got \"check\""},
	{HEALTH "          exec: {args: [x]}\n", 12, 17, CP ".health.exec.command",
		"missing required field"},
	{HEALTH "          exec: {command: /c, port: 1}\n", 12, 31, CP ".health.exec.port",
		"unknown field (expected one of: command, args)"},
	{HEALTH "          exec: {command: /c, args: x}\n", 12, 37, CP ".health.exec.args",
		"expected a list"},
	{HEALTH "          tcp: {port: 1}\n          interval: 10\n", 13, 21, CP ".health.interval",
		"expected a duration with its unit (ms, s, m or h), such as 500ms, 10s or 5m, "
		"got \"10\""},
	{HEALTH "          tcp: {port: 1}\n          interval: 10d\n", 13, 21,
		CP ".health.interval", "got \"10d\""},
	{HEALTH "          tcp: {port: 1}\n          interval: \"\"\n", 13, 21,
		CP ".health.interval", "got \"\""},
	{HEALTH "          tcp: {port: 1}\n          interval: 50ms\n", 13, 21,
		CP ".health.interval", "expected a duration from 100ms to 1h, got 50ms"},
	{HEALTH "          tcp: {port: 1}\n          interval: 61m\n", 13, 21,
		CP ".health.interval", "expected a duration from 100ms to 1h, got 61m"},
	{HEALTH "          tcp: {port: 1}\n          interval: 2s\n          timeout: 3s\n", 14, 20,
		CP ".health.timeout", "expected a duration from 10ms to 2s, got 3s"},
	{HEALTH "          tcp: {port: 1}\n          timeout: 5ms\n", 13, 20, CP ".health.timeout",
		"expected a duration from 10ms to 10s, got 5ms"},
	{HEALTH "          tcp: {port: 1}\n          failures: 0\n", 13, 21, CP ".health.failures",
		"expected an integer from 1 to 100, got 0"},
	{HEALTH "          tcp: {port: 1}\n          failures: 101\n", 13, 21,
		CP ".health.failures", "got 101"},
	{HEALTH "          tcp: {port: 1}\n          start_period: -1s\n", 13, 25,
		CP ".health.start_period", "got \"-1s\""},
	{HDR COMP "        min_ready: 2d\n", 11, 20, CP ".min_ready", "with its unit"},
	{HDR COMP "        min_ready: 2h\n", 11, 20, CP ".min_ready",
		"expected a duration from 0s to 1h, got 2h"},
	{HDR COMP "        min_ready: [1s]\n", 11, 20, CP ".min_ready",
		"expected a duration such as 500ms, 10s or 5m, got a list"},

	/* types of traits, components, policies */
	{HDR COMP "      traits:\n        - type: autoscaler\n          properties: {}\n", 12, 17,
		C ".traits[0].type",
		"expected one of: spreadscaler, daemonscaler; got \"autoscaler\""},
	{HDR COMP TRAIT "        - type: daemonscaler\n          properties: {instances: 1}\n", 15,
		11, C ".traits[1]", "a component takes one scaler trait"},
	{HDR "    - name: c\n      type: container\n      properties:\n        command: /c\n", 8,
		13, C ".type", "expected one of: process, wasm; got \"container\""},
	{TOP NAME "spec:\n  policies:\n    - name: p\n      type: spread\n      properties: "
		  "{}\n" POLT,
		8, 13, "spec.policies[0].type",
		"expected one of: placement, rollout; got \"spread\""},
	{POLH "      properties: {}\n    - name: q\n      type: placement\n      properties: "
	      "{}\n" POLT,
		10, 7, "spec.policies[1]", "an app takes one placement policy"},
	{POLH "      properties:\n        sites: []\n" POLT, 10, 16,
		"spec.policies[0].properties.sites", "expected 1 to 1024 site names, got 0"},
	{HDR COMP "        restart: sometimes\n", 11, 18, CP ".restart",
		"expected one of: always, on-failure, never; got \"sometimes\""},
	{HDR COMP "        rollout: blue-green\n", 11, 18, CP ".rollout",
		"expected one of: start-first, stop-first"},

	/* missing required fields */
	{"kind: Application\nmetadata:\n  name: app\n" SPEC COMP, 1, 1, "apiVersion",
		"missing required field"},
	{API "metadata:\n  name: app\n" SPEC COMP, 1, 1, "kind", "missing required field"},
	{API "kind: Application\n" SPEC COMP, 1, 1, "metadata", "missing required field"},
	{TOP "  annotations: {a: b}\n" SPEC COMP, 4, 3, "metadata.name", "missing required field"},
	{TOP NAME, 1, 1, "spec", "missing required field"},
	{TOP NAME "spec:\n  policies: []\n", 6, 3, "spec.components", "missing required field"},
	{HDR "    - type: process\n      properties:\n        command: /c\n", 7, 7, C ".name",
		"missing required field"},
	{HDR "    - name: c\n      properties:\n        command: /c\n", 7, 7, C ".type",
		"missing required field"},
	{HDR "    - name: c\n      type: process\n", 7, 7, C ".properties",
		"missing required field"},
	{HDR COMPH "        args: [x]\n", 10, 9, CP ".command", "missing required field"},
	{HDR COMP "      traits:\n        - properties: {instances: 1}\n", 12, 11,
		C ".traits[0].type", "missing required field"},
	{HDR COMP "      traits:\n        - type: spreadscaler\n", 12, 11,
		C ".traits[0].properties", "missing required field"},
	{HDR COMP TRAITH "            spread: []\n", 14, 13, TP ".instances",
		"missing required field"},
	{HDR COMP "        artifact:\n          sha256: " HEX "\n", 12, 11, CP ".artifact.path",
		"missing required field"},
	{ART, 12, 11, CP ".artifact.sha256", "missing required field"},
	{TOP NAME "spec:\n  components: []\n", 6, 15, "spec.components",
		"expected 1 to 64 components, got 0"},
	{"apiVersion: core.oam.dev/v1\nkind: Application\nmetadata:\n" NAME SPEC COMP, 1, 13,
		"apiVersion", "expected \"core.oam.dev/v1beta1\", got \"core.oam.dev/v1\""},
	{API "kind: Deployment\nmetadata:\n" NAME SPEC COMP, 2, 7, "kind",
		"expected \"Application\", got \"Deployment\""},

	/* keys and values of string maps */
	{HDR COMP "        env: {1A: x}\n", 11, 15, CP ".env.1A",
		"expected an environment variable name"},
	{HDR COMP "        env: {A-B: x}\n", 11, 15, CP ".env.A-B",
		"expected an environment variable name [A-Za-z_][A-Za-z0-9_]*, got \"A-B\""},
	{HDR COMP "        env: {A: ~}\n", 11, 18, CP ".env.A", "expected a string, got null"},
	{SPREAD "              - requirements: {\"a b\": x}\n", 16, 32,
		TP ".spread[0].requirements.a b", "expected a label key"},
	{POLH "      properties:\n        requirements: {region: \"eu west\"}\n" POLT, 10, 32,
		"spec.policies[0].properties.requirements.region",
		"expected a label value of 1 to 63 characters [A-Za-z0-9._-], got \"eu west\""},
	{POLH "      properties:\n        requirements: {region: " A64 "}\n" POLT, 10, 32,
		"spec.policies[0].properties.requirements.region", "expected a label value"},
	{TOP NAME "  annotations: {\"bad key\": x}\n" SPEC COMP, 5, 17,
		"metadata.annotations.bad key", "expected a key of 1 to 253 characters"},
	{HDR COMP "        env: {\"A\\0B\": x}\n", 11, 15, CP ".env.A", "key contains a NUL byte"},
	{HDR COMP "        args: [\"a\\0b\"]\n", 11, 16, CP ".args[0]",
		"string contains a NUL byte"},

	/* the document as a whole */
	{"", 1, 1, "(document)", "got an empty file"},
	{"# nothing here\n", 1, 1, "(document)", "got an empty file"},
	{"- a\n- b\n", 1, 1, "(document)", "expected a mapping, got a list"},
	{"hello\n", 1, 1, "(document)", "expected a mapping, got a string"},
	{HDR COMP "---\n" HDR COMP, 11, 1, "(document)", "expected one YAML document per file"},
	{API "kind: [Application\nmetadata:\n", 3, 9, "(document)",
		"YAML syntax error: did not find expected ',' or ']'"},
	{API "kind: Application\n\tmetadata: {}\n", 3, 1, "(document)",
		"YAML syntax error: found a tab character that violates indentation"},
	{HDR COMPH "        command: !foo /bin/c\n", 10, 18, "(document)",
		"unsupported YAML tag !foo"},
	{HDR COMPH "        command: *cmd\n", 10, 18, "(document)", "unknown alias *cmd"},
	{HDR COMP "        env: &e {A: *e}\n", 11, 21, "(document)",
		"alias *e refers to a node that contains it (recursive alias)"},
	{"? [a]\n: b\n", 1, 3, "(document)", "expected a scalar mapping key"},
};

static void print_diags(const op_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "    got %d:%d: %s: %s\n", d->v[i].line, d->v[i].col, d->v[i].path,
			d->v[i].msg);
}

/* The first diagnostic with path, or NULL. */
static const op_diag *find_path(const op_diags *d, const char *path)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].path, path) == 0)
			return &d->v[i];
	return NULL;
}

static void test_invalid_table(void)
{
	T_CHECK(sizeof bads / sizeof bads[0] >= 45);
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		const struct bad *b = &bads[i];
		op_diags d = {0};
		op_app *app = (op_app *)1;
		int rc = op_manifest_parse("t.yaml", b->yaml, strlen(b->yaml), &app, &d);
		const op_diag *g = find_path(&d, b->path);
		bool ok = rc == OP_EINVAL && app == NULL && g && g->line == b->line &&
			g->col == b->col && strstr(g->msg, b->msg) && !strcmp(g->file, "t.yaml") &&
			op_diags_count(&d) == 1;
		T_CHECK_MSG(ok, "row %zu: want %d:%d: %s: ...%s... alone; rc %d", i, b->line,
			b->col, b->path, b->msg, rc);
		if (!ok)
			print_diags(&d);
		op_app_free(rc == 0 ? app : NULL); /* wrongly accepted */
		op_diags_clear(&d);
	}
}

/* A diagnostic with this path, position and message must be among d's. */
static void expect(const op_diags *d, int line, int col, const char *path, const char *msg)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].path, path) && d->v[i].line == line && d->v[i].col == col &&
			strstr(d->v[i].msg, msg))
			return;
	t_fail(__FILE__, __LINE__, "no diagnostic %d:%d: %s: ...%s...", line, col, path, msg);
	print_diags(d);
}

/* Every error of a file comes out of one run. */
static void test_all_errors_in_one_run(void)
{
	static const char y[] = "apiVersion: v2\n" /* 1 */
				"kind: Application\n" /* 2 */
				"metadata:\n" /* 3 */
				"  name: Bad_Name\n" /* 4 */
				"  owner: me\n" /* 5 */
				"spec:\n" /* 6 */
				"  policies:\n" /* 7 */
				"    - name: p\n" /* 8 */
				"      type: placement\n" /* 9 */
				"      properties: {sites: [hub]}\n" /* 10 */
				"  components:\n" /* 11 */
				"    - name: a\n" /* 12 */
				"      type: process\n" /* 13 */
				"      properties:\n" /* 14 */
				"        command: a\n" /* 15 */
				"        env: {1X: y}\n" /* 16 */
				"      traits:\n" /* 17 */
				"        - type: spreadscaler\n" /* 18 */
				"          properties: {instances: -1}\n" /* 19 */
				"    - name: a\n" /* 20 */
				"      type: process\n" /* 21 */
				"      properties:\n" /* 22 */
				"        workdir: w\n"; /* 23 */
	op_diags d = {0};
	op_app *app;
	T_EQ_INT(op_manifest_parse("m.yaml", y, sizeof y - 1, &app, &d), OP_EINVAL);
	op_app_free(app); /* NULL unless wrongly accepted */
	T_EQ_INT(op_diags_count(&d), 10);
	T_EQ_INT(d.dropped, 0);
	expect(&d, 1, 13, "apiVersion", "expected \"core.oam.dev/v1beta1\"");
	expect(&d, 4, 9, "metadata.name", "expected an app name");
	expect(&d, 5, 3, "metadata.owner", "unknown field");
	expect(&d, 10, 28, "spec.policies[0].properties.sites[0]", "reserved");
	expect(&d, 15, 18, CP ".command", "absolute path");
	expect(&d, 16, 15, CP ".env.1X", "environment variable name");
	expect(&d, 19, 35, TP ".instances", "got -1");
	expect(&d, 20, 13, "spec.components[1].name", "duplicate component name \"a\"");
	expect(&d, 23, 9, "spec.components[1].properties.command", "missing required field");
	expect(&d, 23, 18, "spec.components[1].properties.workdir", "absolute path");
	op_diags_clear(&d);
}

/* Past OP_DIAGS_LIMIT diagnostics are counted, not kept. */
static void test_diag_cap(void)
{
	char y[8192];
	size_t n = (size_t)snprintf(y, sizeof y, HDR COMP);
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(y + n, sizeof y - n, "x%d: 1\n", i);
	T_REQUIRE(n < sizeof y);
	op_diags d = {0};
	op_app *app;
	T_EQ_INT(op_manifest_parse("cap.yaml", y, n, &app, &d), OP_EINVAL);
	op_app_free(app);
	T_EQ_INT(d.n, OP_DIAGS_LIMIT);
	T_EQ_INT(d.dropped, 80 - OP_DIAGS_LIMIT);
	T_EQ_INT(op_diags_count(&d), 80);
	T_EQ_STR(d.v[0].path, "x0");
	T_EQ_INT(d.v[0].line, 11);
	T_EQ_STR(d.v[OP_DIAGS_LIMIT - 1].path, "x49");
	/* The printout says how many were left out. */
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	T_REQUIRE(f);
	op_diags_print(&d, f);
	fclose(f);
	T_CHECK(strstr(out, "cap.yaml:11:1: x0: unknown field") != NULL);
	T_CHECK(strstr(out, "cap.yaml: 30 more errors not shown\n") != NULL);
	free(out);
	op_diags_clear(&d);

	/* A smaller limit of the caller's is honoured too. */
	op_diags small = {.limit = 3};
	T_EQ_INT(op_manifest_parse("cap.yaml", y, n, &app, &small), OP_EINVAL);
	op_app_free(app);
	T_EQ_INT(small.n, 3);
	T_EQ_INT(small.dropped, 77);
	op_diags_clear(&small);
}

/* Duplicates behind many unknown keys are still found, each named against the first.
 * (Found through the first key of each allowed name: a scan of every earlier key made
 * a hostile file of this shape take seconds.) */
static void test_duplicates_behind_unknown_keys(void)
{
	size_t cap = 64 * 1024, n = 0;
	char *y = malloc(cap);
	T_REQUIRE(y);
	n += (size_t)snprintf(y, cap, HDR COMP);
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(y + n, cap - n, "u%d: 1\n", i);
	for (int i = 0; i < 3; i++)
		n += (size_t)snprintf(y + n, cap - n, "kind: Application\n");
	T_REQUIRE(n < cap);
	op_diags d = {.limit = 5000};
	op_app *app;
	T_EQ_INT(op_manifest_parse("t.yaml", y, n, &app, &d), OP_EINVAL);
	op_app_free(app);
	T_EQ_INT(op_diags_count(&d), 2003);
	T_EQ_INT(d.dropped, 0);
	expect(&d, 11, 1, "u0", "unknown field");
	expect(&d, 2010, 1, "u1999", "unknown field");
	size_t dups = 0;
	for (size_t i = 0; i < d.n; i++)
		if (!strcmp(d.v[i].path, "kind")) {
			dups++;
			T_CHECK(strstr(d.v[i].msg, "duplicate key (first at line 2)") != NULL);
			T_EQ_INT(d.v[i].line, (long long)(2010 + dups));
		}
	T_EQ_INT(dups, 3);
	op_diags_clear(&d);
	free(y);
}

/* Writes n components c0..c<n-1> into buf. */
static size_t many_components(char *buf, size_t cap, int n)
{
	size_t len = (size_t)snprintf(buf, cap, HDR);
	for (int i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len,
			"    - name: c%d\n      type: process\n      properties: {command: /c}\n",
			i);
	return len;
}

static void test_too_many_components(void)
{
	char y[16384];
	size_t len = many_components(y, sizeof y, OP_MAX_COMPONENTS + 1);
	T_REQUIRE(len < sizeof y);
	op_diags d = {0};
	op_app *app;
	T_EQ_INT(op_manifest_parse("t.yaml", y, len, &app, &d), OP_EINVAL);
	op_app_free(app);
	T_EQ_INT(op_diags_count(&d), 1);
	T_REQUIRE(d.n == 1);
	T_EQ_INT(d.v[0].line, 7);
	T_EQ_INT(d.v[0].col, 5);
	T_EQ_STR(d.v[0].path, "spec.components");
	T_CHECK(strstr(d.v[0].msg, "expected 1 to 64 components, got 65") != NULL);
	op_diags_clear(&d);

	len = many_components(y, sizeof y, OP_MAX_COMPONENTS);
	T_EQ_INT(op_manifest_parse("t.yaml", y, len, &app, &d), 0);
	T_REQUIRE(app);
	T_EQ_INT(app->ncomps, OP_MAX_COMPONENTS);
	T_EQ_STR(app->comps[63].name, "c63");
	op_app_free(app);
	op_diags_clear(&d);
}

static void test_name_rules(void)
{
	T_CHECK(op_name_valid("a"));
	T_CHECK(op_name_valid("plant-7"));
	T_CHECK(op_name_valid("0"));
	T_CHECK(op_name_valid(A63));
	T_CHECK(!op_name_valid(A64));
	T_CHECK(!op_name_valid(""));
	T_CHECK(!op_name_valid("A"));
	T_CHECK(!op_name_valid("a_b"));
	T_CHECK(!op_name_valid("a.b"));
	T_CHECK(!op_name_valid("a b"));
	T_CHECK(!op_name_valid("caf\xc3\xa9"));
}

/* --- valid manifests ------------------------------------------------------------------ */

static op_app *parse_ok(const char *yaml)
{
	op_diags d = {0};
	op_app *app = NULL;
	int rc = op_manifest_parse("ok.yaml", yaml, strlen(yaml), &app, &d);
	T_CHECK_MSG(rc == 0 && app, "parse failed: rc %d", rc);
	if (rc)
		print_diags(&d);
	op_diags_clear(&d);
	return app;
}

static void test_examples(void)
{
	static const char *const files[] = {
		"examples/apps/thermo.yaml", "examples/apps/gateway.yaml"};
	for (size_t i = 0; i < 2; i++) {
		op_diags d = {0};
		op_app *app;
		int rc = op_manifest_load(files[i], files[i], &app, &d);
		T_CHECK_MSG(rc == 0, "%s: rc %d", files[i], rc);
		print_diags(&d);
		op_diags_clear(&d);
		if (rc)
			continue;
		if (i == 0) {
			T_EQ_STR(app->name, "thermo");
			T_EQ_STR(op_kvs_get(&app->annotations, "version"), "v3");
			T_CHECK(app->has_placement && app->placement.has_sites);
			T_EQ_INT(app->placement.sites.n, 2);
			T_EQ_STR(app->placement.sites.v[1], "plant-9");
			T_EQ_STR(op_kvs_get(&app->placement.requirements, "region"), "eu");
			T_EQ_INT(app->ncomps, 1);
			const op_component *c = &app->comps[0];
			T_EQ_STR(c->command, "/opt/thermo/reader");
			T_EQ_INT(c->args.n, 2);
			T_EQ_STR(op_kvs_get(&c->env, "RETRIES"), "3");
			T_EQ_STR(c->workdir, "/var/lib/thermo");
			T_CHECK(c->has_artifact && !c->artifact.sha256);
			T_EQ_INT(c->artifact.sha256_arch.n, 2);
			T_EQ_STR(c->artifact.sha256_arch.v[0].key, "amd64"); /* sorted */
			T_EQ_INT(c->scaler.type, OP_SCALER_SPREAD);
			T_EQ_INT(c->scaler.instances, 4);
			T_EQ_INT(c->scaler.nspread, 2);
			T_EQ_INT(c->scaler.spread[0].weight, 80);
			T_EQ_STR(c->scaler.spread[1].name, "any");
		} else {
			T_EQ_STR(app->name, "gateway");
			T_CHECK(!app->has_placement);
			T_EQ_INT(app->comps[0].rollout, OP_ROLLOUT_STOP_FIRST);
			T_EQ_INT(app->comps[0].scaler.type, OP_SCALER_DAEMON);
			T_EQ_STR(app->comps[0].scaler.spread[0].name, "spread-0");
			T_EQ_INT(app->comps[0].scaler.spread[0].weight, 100);
		}
		T_EQ_INT(app->name_line, 4);
		T_EQ_INT(app->name_col, 9);
		op_app_free(app);
	}
}

static void test_defaults(void)
{
	op_app *app = parse_ok(HDR COMP "    - name: d\n      type: process\n      properties:\n"
					"        command: /bin/d\n" TRAIT "            spread:\n"
					"              - requirements: {arch: arm64}\n"
					"              - name: named\n"
					"              - weight: 7\n");
	T_REQUIRE(app);
	T_EQ_STR(app->name, "app");
	T_EQ_INT(app->annotations.n, 0);
	T_CHECK(!app->has_placement);
	T_EQ_INT(app->ncomps, 2);
	const op_component *c = &app->comps[0];
	T_EQ_INT(c->restart, OP_RESTART_ALWAYS);
	T_EQ_INT(c->rollout, OP_ROLLOUT_START_FIRST);
	T_EQ_INT(c->args.n, 0);
	T_EQ_INT(c->env.n, 0);
	T_CHECK(c->workdir == NULL);
	T_CHECK(!c->has_artifact);
	/* No traits: one spreadscaler instance, no spread. */
	T_EQ_INT(c->scaler.type, OP_SCALER_SPREAD);
	T_EQ_INT(c->scaler.instances, 1);
	T_EQ_INT(c->scaler.nspread, 0);
	const op_trait *t = &app->comps[1].scaler;
	T_EQ_INT(t->nspread, 3);
	T_EQ_STR(t->spread[0].name, "spread-0");
	T_EQ_INT(t->spread[0].weight, 100);
	T_EQ_STR(t->spread[1].name, "named");
	T_EQ_STR(t->spread[2].name, "spread-2");
	T_EQ_INT(t->spread[2].weight, 7);
	T_EQ_INT(t->spread[1].requirements.n, 0);
	op_app_free(app);
}

/* Env values are strings; a plain scalar is taken as its text, exactly as written. */
static void test_env_scalars_as_text(void)
{
	op_app *app = parse_ok(HDR COMP "        env:\n"
					"          RETRIES: 3\n"
					"          DEBUG: true\n"
					"          RATIO: 1.50\n"
					"          MASK: 0x1F\n"
					"          PADDED: \"007\"\n"
					"          WORD: no\n"
					"          EMPTY: \"\"\n"
					"          QUOTED_NULL: 'null'\n"
					"          _UNDER: x\n"
					"          lower_9: y\n");
	T_REQUIRE(app);
	const op_kvs *e = &app->comps[0].env;
	T_EQ_INT(e->n, 10);
	T_EQ_STR(op_kvs_get(e, "RETRIES"), "3");
	T_EQ_STR(op_kvs_get(e, "DEBUG"), "true");
	T_EQ_STR(op_kvs_get(e, "RATIO"), "1.50");
	T_EQ_STR(op_kvs_get(e, "MASK"), "0x1F");
	T_EQ_STR(op_kvs_get(e, "PADDED"), "007");
	T_EQ_STR(op_kvs_get(e, "WORD"), "no");
	T_EQ_STR(op_kvs_get(e, "EMPTY"), "");
	T_EQ_STR(op_kvs_get(e, "QUOTED_NULL"), "null");
	T_CHECK(op_kvs_get(e, "MISSING") == NULL);
	/* Sorted bytewise: uppercase before '_' before lowercase. */
	for (size_t i = 1; i < e->n; i++)
		T_CHECK(strcmp(e->v[i - 1].key, e->v[i].key) < 0);
	T_EQ_STR(e->v[e->n - 1].key, "lower_9");
	op_app_free(app);
}

/* Anchors and aliases used the way people do: shared env, shared requirements. */
static const char anchors_yaml[] = TOP NAME
	"  annotations: {owner: &who ops-team, team: *who}\n"
	"spec:\n"
	"  components:\n"
	"    - name: a\n"
	"      type: process\n"
	"      properties:\n"
	"        command: &cmd /opt/app/run\n"
	"        env: &env {LOG_LEVEL: info, MODE: edge}\n"
	"      traits:\n"
	"        - type: spreadscaler\n"
	"          properties:\n"
	"            instances: 2\n"
	"            spread: &spread\n"
	"              - name: arm\n"
	"                requirements: &arm {arch: arm64}\n"
	"                weight: 3\n"
	"              - requirements: {arch: amd64}\n"
	"    - name: b\n"
	"      type: process\n"
	"      properties:\n"
	"        command: *cmd\n"
	"        args: [*cmd, --b]\n"
	"        env: *env\n"
	"      traits:\n"
	"        - type: daemonscaler\n"
	"          properties: {instances: 1, spread: *spread}\n"
	"    - name: c\n"
	"      type: process\n"
	"      properties: {command: *cmd, env: *env}\n"
	"      traits:\n"
	"        - type: spreadscaler\n"
	"          properties:\n"
	"            instances: 1\n"
	"            spread: [{requirements: *arm}]\n";

static void test_anchors(void)
{
	op_app *app = parse_ok(anchors_yaml);
	T_REQUIRE(app);
	T_EQ_STR(op_kvs_get(&app->annotations, "team"), "ops-team");
	T_EQ_INT(app->ncomps, 3);
	const op_component *b = &app->comps[1];
	T_EQ_STR(b->command, "/opt/app/run");
	T_EQ_STR(b->args.v[0], "/opt/app/run");
	T_EQ_STR(op_kvs_get(&b->env, "MODE"), "edge");
	T_EQ_INT(b->scaler.type, OP_SCALER_DAEMON);
	T_EQ_INT(b->scaler.nspread, 2);
	T_EQ_STR(b->scaler.spread[0].name, "arm");
	T_EQ_INT(b->scaler.spread[0].weight, 3);
	T_EQ_STR(b->scaler.spread[1].name, "spread-1");
	T_EQ_STR(op_kvs_get(&app->comps[2].scaler.spread[0].requirements, "arch"), "arm64");
	op_app_free(app);

	/* An error inside an aliased node is reported where the alias is used, under the
	 * path it is used at. */
	static const char y[] = HDR COMP "        env: &e {A: x}\n"
					 "    - name: d\n" /* 12 */
					 "      type: process\n" /* 13 */
					 "      properties: {command: /d, args: *e}\n"; /* 14 */
	op_diags d = {0};
	op_app *bad;
	T_EQ_INT(op_manifest_parse("t.yaml", y, sizeof y - 1, &bad, &d), OP_EINVAL);
	op_app_free(bad);
	T_EQ_INT(op_diags_count(&d), 1);
	expect(&d, 11, 14, "spec.components[1].properties.args", "expected a list of strings");
	op_diags_clear(&d);
}

/* YAML merge keys: properties shared between components with <<: *base (one mapping or
 * a list of them); the component's own keys win, the first merged mapping wins over the
 * later ones. The result is the app written out in full, to the byte of its JSON. */
static void test_merge_keys(void)
{
	static const char merged[] = TOP NAME SPEC
		"    - name: a\n"
		"      type: process\n"
		"      properties: &base\n"
		"        command: /opt/app/run\n"
		"        env: &env {MODE: edge, LOG: info}\n"
		"        restart: on-failure\n"
		"    - name: b\n"
		"      type: process\n"
		"      properties:\n"
		"        <<: *base\n"
		"        restart: always\n"
		"    - name: c\n"
		"      type: process\n"
		"      properties:\n"
		"        <<: [{workdir: /var/lib/c}, *base, {workdir: /nope}]\n"
		"        env:\n"
		"          <<: *env\n"
		"          LOG: debug\n";
	static const char full[] = TOP NAME SPEC "    - name: a\n"
						 "      type: process\n"
						 "      properties:\n"
						 "        command: /opt/app/run\n"
						 "        env: {MODE: edge, LOG: info}\n"
						 "        restart: on-failure\n"
						 "    - name: b\n"
						 "      type: process\n"
						 "      properties:\n"
						 "        command: /opt/app/run\n"
						 "        env: {MODE: edge, LOG: info}\n"
						 "        restart: always\n"
						 "    - name: c\n"
						 "      type: process\n"
						 "      properties:\n"
						 "        workdir: /var/lib/c\n"
						 "        command: /opt/app/run\n"
						 "        env: {MODE: edge, LOG: debug}\n"
						 "        restart: on-failure\n";
	op_app *a = parse_ok(merged), *b = parse_ok(full);
	T_REQUIRE(a && b);
	char *ja = NULL, *jb = NULL;
	size_t la = 0, lb = 0;
	T_EQ_INT(op_manifest_to_json(a, &ja, &la), 0);
	T_EQ_INT(op_manifest_to_json(b, &jb, &lb), 0);
	T_CHECK_MSG(ja && jb && la == lb && !memcmp(ja, jb, la), "%s\nvs\n%s", ja, jb);
	free(ja), free(jb);
	op_app_free(a);
	op_app_free(b);
	/* What a merge key cannot take; a quoted "<<" is an ordinary (unknown) key. */
	static const char *const bad[] = {
		HDR COMPH "        <<: 3\n        command: /c\n",
		HDR COMPH "        <<: [{a: b}, x]\n        command: /c\n",
		HDR COMPH "        \"<<\": {command: /c}\n",
	};
	static const char *const why[] = {"a merge key (<<) takes a mapping",
		"a merge key (<<) takes a mapping", "unknown field"};
	for (size_t i = 0; i < 3; i++) {
		op_diags d = {0};
		op_app *x = NULL;
		T_EQ_INT(op_manifest_parse("m.yaml", bad[i], strlen(bad[i]), &x, &d), OP_EINVAL);
		T_CHECK_MSG(d.n && strstr(d.v[0].msg, why[i]), "case %zu: %s", i,
			d.n ? d.v[0].msg : "(none)");
		op_app_free(x);
		op_diags_clear(&d);
	}
}

/* --- deep equality of two models ---------------------------------------------------- */

static char why[512];

#define DIFF(cond, ...) \
	do { \
		if (!(cond)) { \
			snprintf(why, sizeof why, __VA_ARGS__); \
			return false; \
		} \
	} while (0)

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool kvs_eq(const op_kvs *a, const op_kvs *b, const char *what)
{
	DIFF(a->n == b->n, "%s: %zu entries vs %zu", what, a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		DIFF(str_eq(a->v[i].key, b->v[i].key), "%s[%zu] key", what, i);
		DIFF(str_eq(a->v[i].val, b->v[i].val), "%s.%s value", what, a->v[i].key);
	}
	return true;
}

static bool strs_eq(const op_strs *a, const op_strs *b, const char *what)
{
	DIFF(a->n == b->n, "%s: %zu items vs %zu", what, a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		DIFF(str_eq(a->v[i], b->v[i]), "%s[%zu]", what, i);
	return true;
}

static bool comp_eq(const op_component *a, const op_component *b)
{
	DIFF(str_eq(a->name, b->name), "component name");
	DIFF(str_eq(a->command, b->command), "%s: command", a->name);
	if (!strs_eq(&a->args, &b->args, "args") || !kvs_eq(&a->env, &b->env, "env"))
		return false;
	DIFF(str_eq(a->workdir, b->workdir), "%s: workdir", a->name);
	DIFF(a->restart == b->restart, "%s: restart", a->name);
	DIFF(a->rollout == b->rollout, "%s: rollout", a->name);
	DIFF(a->has_artifact == b->has_artifact, "%s: has_artifact", a->name);
	DIFF(str_eq(a->artifact.path, b->artifact.path), "%s: artifact.path", a->name);
	DIFF(str_eq(a->artifact.sha256, b->artifact.sha256), "%s: artifact.sha256", a->name);
	if (!kvs_eq(&a->artifact.sha256_arch, &b->artifact.sha256_arch, "sha256_arch"))
		return false;
	DIFF(a->artifact.mode == b->artifact.mode, "%s: artifact.mode", a->name);
	DIFF(a->artifact.unpack == b->artifact.unpack, "%s: artifact.unpack", a->name);
	DIFF(a->min_ready_ms == b->min_ready_ms, "%s: min_ready", a->name);
	DIFF(a->has_health == b->has_health, "%s: has_health", a->name);
	const op_health_check *h = &a->health, *k = &b->health;
	DIFF(h->probe == k->probe, "%s: health probe", a->name);
	DIFF(str_eq(h->command, k->command), "%s: health command", a->name);
	if (!strs_eq(&h->args, &k->args, "health args"))
		return false;
	DIFF(h->port == k->port, "%s: health port", a->name);
	DIFF(str_eq(h->path, k->path), "%s: health path", a->name);
	DIFF(h->interval_ms == k->interval_ms, "%s: health interval", a->name);
	DIFF(h->timeout_ms == k->timeout_ms, "%s: health timeout", a->name);
	DIFF(h->start_period_ms == k->start_period_ms, "%s: health start_period", a->name);
	DIFF(h->failures == k->failures, "%s: health failures", a->name);
	const op_trait *s = &a->scaler, *t = &b->scaler;
	DIFF(s->type == t->type, "%s: scaler type", a->name);
	DIFF(s->instances == t->instances, "%s: instances", a->name);
	DIFF(s->nspread == t->nspread, "%s: spread count", a->name);
	for (size_t i = 0; i < s->nspread; i++) {
		DIFF(str_eq(s->spread[i].name, t->spread[i].name), "%s: spread[%zu].name", a->name,
			i);
		DIFF(s->spread[i].weight == t->spread[i].weight, "%s: spread[%zu].weight", a->name,
			i);
		if (!kvs_eq(&s->spread[i].requirements, &t->spread[i].requirements, "requirements"))
			return false;
	}
	return true;
}

/* Every field but the source position of the name (JSON has none). */
static bool app_eq(const op_app *a, const op_app *b)
{
	DIFF(str_eq(a->name, b->name), "name");
	if (!kvs_eq(&a->annotations, &b->annotations, "annotations"))
		return false;
	DIFF(a->has_placement == b->has_placement, "has_placement");
	const op_placement *p = &a->placement, *q = &b->placement;
	DIFF(str_eq(p->name, q->name), "placement name");
	DIFF(p->has_sites == q->has_sites, "placement has_sites");
	if (!strs_eq(&p->sites, &q->sites, "sites") ||
		!kvs_eq(&p->requirements, &q->requirements, "placement requirements"))
		return false;
	DIFF(a->ncomps == b->ncomps, "%zu components vs %zu", a->ncomps, b->ncomps);
	for (size_t i = 0; i < a->ncomps; i++)
		if (!comp_eq(&a->comps[i], &b->comps[i]))
			return false;
	return true;
}

/* The helper must see a difference in each field it compares. */
static void test_deep_equal_helper(void)
{
	op_app *a = parse_ok(anchors_yaml), *b = parse_ok(anchors_yaml);
	T_REQUIRE(a && b);
	T_CHECK(app_eq(a, b));
	b->comps[1].scaler.spread[1].weight = 99;
	T_CHECK(!app_eq(a, b) && strstr(why, "spread[1].weight"));
	b->comps[1].scaler.spread[1].weight = 100;
	b->comps[2].env.v[0].val[0] = 'X';
	T_CHECK(!app_eq(a, b) && strstr(why, "env.LOG_LEVEL"));
	b->comps[2].env.v[0].val[0] = 'i';
	b->comps[0].rollout = OP_ROLLOUT_STOP_FIRST;
	T_CHECK(!app_eq(a, b) && strstr(why, "rollout"));
	b->comps[0].rollout = OP_ROLLOUT_START_FIRST;
	b->has_placement = true;
	T_CHECK(!app_eq(a, b) && strstr(why, "has_placement"));
	b->has_placement = false;
	T_CHECK(app_eq(a, b));
	op_app_free(a);
	op_app_free(b);
}

/* --- round trips -------------------------------------------------------------------- */

static const char *const round_trips[] = {
	/* minimal */
	HDR COMP,
	/* everything set */
	TOP
	"  name: full\n"
	"  annotations:\n"
	"    version: v1.2.3\n"
	"    owner: \"Zoë Ølsen <zoe@example.org>\"\n"
	"    example.org/note: |\n"
	"      two lines,\n"
	"      with \"quotes\" and \\ backslash\n"
	"spec:\n"
	"  policies:\n"
	"    - name: eu-plants\n"
	"      type: placement\n"
	"      properties:\n"
	"        sites: [plant-9, plant-7, a]\n"
	"        requirements: {region: eu, tier: gold, zone.x/y: A_1}\n"
	"  components:\n"
	"    - name: reader\n"
	"      type: process\n"
	"      properties:\n"
	"        command: /opt/reader/bin/reader\n"
	"        args: [\"\", \"--x=1\", \"a b\", \"tab\\there\", \"\\u00e9\\u4e2d\", '\"q\"']\n"
	"        env: {Z: last, A: first, PATH: /usr/bin, EMPTY: \"\"}\n"
	"        workdir: /var/lib/reader\n"
	"        restart: on-failure\n"
	"        rollout: stop-first\n"
	"        artifact:\n"
	"          path: /opt/reader/bin/reader\n"
	"          sha256: " HEX "\n"
	"      traits:\n"
	"        - type: daemonscaler\n"
	"          properties:\n"
	"            instances: 100\n"
	"            spread:\n"
	"              - name: gw\n"
	"                requirements: {role: gw, arch: arm64}\n"
	"                weight: 1000000\n"
	"              - weight: 1\n"
	"    - name: writer\n"
	"      type: process\n"
	"      properties:\n"
	"        command: /opt/writer\n"
	"        restart: never\n"
	"        artifact:\n"
	"          path: /opt/writer\n"
	"          sha256: {riscv64: " HEX ", armhf: " HEX "}\n"
	"          mode: \"0750\"\n"
	"    - name: bundle\n"
	"      type: process\n"
	"      properties:\n"
	"        command: /opt/bundle/run\n"
	"        artifact: {path: /opt/bundle, sha256: " HEX ", unpack: tar, mode: '04711'}\n",
	/* placement by requirements only; spreadscaler at its bounds */
	TOP NAME "spec:\n  policies:\n    - name: any-eu\n      type: placement\n"
		 "      properties: {requirements: {region: eu}}\n"
		 "  components:\n" COMP TRAITH "            instances: 10000\n"
		 "    - name: idle\n      type: process\n      properties: {command: /bin/true}\n"
		 "      traits: [{type: spreadscaler, properties: {instances: 0}}]\n",
	/* placement by sites only; an empty placement */
	TOP NAME "spec:\n  policies:\n    - name: two\n      type: placement\n"
		 "      properties: {sites: [s-1, s-2]}\n"
		 "  components:\n" COMP,
	TOP NAME "spec:\n  policies:\n    - name: everywhere\n      type: placement\n"
		 "      properties: {}\n"
		 "  components:\n" COMP,
	/* flow style throughout */
	"{apiVersion: core.oam.dev/v1beta1, kind: Application, metadata: {name: flow},"
	" spec: {components: [{name: a, type: process, properties: {command: /a, args: [x, y]},"
	" traits: [{type: spreadscaler, properties: {instances: 3, spread: [{name: s, weight: 2},"
	" {requirements: {k: v}}]}}]}]}}\n",
	/* tags, quoting and names at their longest */
	TOP "  name: " A63 "\n"
	    "  annotations: {n: !!str 12, \"q\": 'it''s'}\n" SPEC "    - name: \"" A63 "\"\n"
	    "      type: !!str process\n"
	    "      properties: !!map\n"
	    "        command: '/bin/sh'\n"
	    "        args: !!seq [-c, 'exit 0']\n",
	/* health checks of each kind, every field set or defaulted; min_ready */
	HDR COMP
	"        min_ready: 0s\n        health:\n"
	"          exec: {command: /bin/check, args: [--quick, \"a b\"]}\n"
	"          interval: 90s\n          timeout: 1500ms\n          failures: 1\n"
	"          start_period: 2m\n"
	"    - name: web\n      type: process\n      properties:\n"
	"        command: /bin/web\n        min_ready: 1h\n"
	"        health: {http: {port: 8080, path: \"/healthz?full=1\"}, interval: 500ms}\n"
	"    - name: db\n      type: process\n      properties:\n"
	"        command: /bin/db\n        health: {tcp: {port: 5432}}\n"
	"    - name: plain\n      type: process\n      properties:\n"
	"        command: /bin/p\n        health: {http: {port: 1}}\n",
	/* anchors */
	anchors_yaml,
};

static void round_trip(const char *what, op_app *a)
{
	char *j1 = NULL, *j2 = NULL;
	size_t n1 = 0, n2 = 0;
	op_app *b = NULL;
	op_diags d = {0};
	T_EQ_INT(op_manifest_to_json(a, &j1, &n1), 0);
	if (!j1)
		return;
	T_EQ_INT(n1, strlen(j1));
	T_CHECK_MSG(strstr(j1, "\"format\":1") != NULL, "%s: no format", what);
	T_CHECK_MSG(strchr(j1, '\n') == NULL && strstr(j1, ": ") == NULL, "%s: not compact", what);
	int rc = op_manifest_from_json("kv", j1, n1, &b, &d);
	T_CHECK_MSG(rc == 0 && b, "%s: JSON refused: %s", what, d.n ? d.v[0].msg : "");
	if (b) {
		T_CHECK_MSG(app_eq(a, b), "%s: models differ: %s", what, why);
		T_EQ_INT(op_manifest_to_json(b, &j2, &n2), 0);
		T_CHECK_MSG(j2 && n1 == n2 && memcmp(j1, j2, n1) == 0, "%s: bytes differ:\n%s\n%s",
			what, j1, j2 ? j2 : "");
		char d1[OP_DIGEST_LEN + 1], d2[OP_DIGEST_LEN + 1];
		op_digest(j1, n1, d1);
		op_digest(j2 ? j2 : "", n2, d2);
		T_EQ_STR(d1, d2);
	}
	free(j1);
	free(j2);
	op_app_free(b);
	op_diags_clear(&d);
}

static void test_round_trips(void)
{
	T_CHECK(sizeof round_trips / sizeof round_trips[0] >= 8);
	for (size_t i = 0; i < sizeof round_trips / sizeof round_trips[0]; i++) {
		char what[32];
		snprintf(what, sizeof what, "round_trips[%zu]", i);
		op_app *a = parse_ok(round_trips[i]);
		T_CHECK_MSG(a != NULL, "%s", what);
		if (a)
			round_trip(what, a);
		op_app_free(a);
	}
	static const char *const files[] = {
		"examples/apps/thermo.yaml", "examples/apps/gateway.yaml"};
	for (size_t i = 0; i < 2; i++) {
		op_diags d = {0};
		op_app *a;
		T_EQ_INT(op_manifest_load(files[i], files[i], &a, &d), 0);
		if (a)
			round_trip(files[i], a);
		op_app_free(a);
		op_diags_clear(&d);
	}
	char y[16384];
	size_t len = many_components(y, sizeof y, OP_MAX_COMPONENTS);
	op_diags d = {0};
	op_app *a;
	T_EQ_INT(op_manifest_parse("t.yaml", y, len, &a, &d), 0);
	if (a)
		round_trip("64 components", a);
	op_app_free(a);
	op_diags_clear(&d);
}

/* What the canonical JSON of HDR COMP is, to the byte (sha256sum of these bytes below). */
static const char minimal_json[] =
	"{\"apiVersion\":\"core.oam.dev/v1beta1\",\"format\":1,\"kind\":\"Application\","
	"\"metadata\":{\"annotations\":{},\"name\":\"app\"},\"spec\":{\"components\":[{\"name\":"
	"\"c\",\"properties\":{\"args\":[],\"command\":\"/bin/c\",\"env\":{},\"restart\":"
	"\"always\",\"rollout\":\"start-first\"},\"traits\":[{\"properties\":{\"instances\":1,"
	"\"spread\":[]},\"type\":\"spreadscaler\"}],\"type\":\"process\"}],\"policies\":[]}}";
#define MINIMAL_DIGEST "sha256:d24ceaeea1831cba6d2a928b81e47274fe4c14d5c023b53a6cda1c7ff4f18a32"

static char *json_of(const char *yaml, size_t *len)
{
	op_app *a = parse_ok(yaml);
	char *j = NULL;
	if (a)
		T_EQ_INT(op_manifest_to_json(a, &j, len), 0);
	op_app_free(a);
	return j;
}

static void test_canonical_bytes(void)
{
	size_t n;
	char *j = json_of(HDR COMP, &n);
	T_REQUIRE(j);
	T_EQ_STR(j, minimal_json);
	char dg[OP_DIGEST_LEN + 1];
	op_digest(j, n, dg);
	T_EQ_INT(strlen(dg), OP_DIGEST_LEN);
	T_CHECK(strncmp(dg, "sha256:", 7) == 0);
	T_EQ_INT(strspn(dg + 7, "0123456789abcdef"), 64);
	T_EQ_STR(dg, MINIMAL_DIGEST);
	free(j);

	/* The example's canonical JSON, digest computed with sha256sum over its bytes. */
	op_diags d = {0};
	op_app *a;
	T_EQ_INT(op_manifest_load("examples/apps/thermo.yaml", "thermo.yaml", &a, &d), 0);
	T_REQUIRE(a);
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	op_digest(j, n, dg);
	T_EQ_STR(dg, "sha256:8922738874b60836b954003616ab0abac6372e5b55c0aac26f31af6d72c4ed73");
	free(j);
	op_app_free(a);
	op_diags_clear(&d);

	/* sha256("") is well known. */
	op_digest("", 0, dg);
	T_EQ_STR(dg, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* mode and unpack are left out of the canonical JSON at their defaults (the thermo
 * digest above has an artifact and did not move when they came); set, they are
 * written as the strings the YAML gave and read back; a number for mode is refused in
 * JSON as in YAML. */
static void test_artifact_mode_unpack(void)
{
	size_t n;
	char *j = json_of(ART "          sha256: " HEX "\n", &n);
	T_REQUIRE(j);
	T_CHECK(strstr(j, "\"artifact\":{\"path\":\"/bin/c\",\"sha256\":\"" HEX "\"}"));
	free(j);
	op_app *a = parse_ok(ART "          sha256: " HEX "\n          mode: \"0755\"\n");
	T_REQUIRE(a);
	T_EQ_INT(a->comps[0].artifact.mode, 0755);
	T_EQ_INT(a->comps[0].artifact.unpack, OP_UNPACK_NONE);
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_CHECK(!strstr(j, "mode") && !strstr(j, "unpack")); /* "0755" is the default */
	free(j);
	op_app_free(a);

	a = parse_ok(
		ART "          sha256: " HEX "\n          mode: '0644'\n          unpack: tar\n");
	T_REQUIRE(a);
	T_EQ_INT(a->comps[0].artifact.mode, 0644);
	T_EQ_INT(a->comps[0].artifact.unpack, OP_UNPACK_TAR);
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_CHECK(strstr(j, "\"mode\":\"0644\"") && strstr(j, "\"unpack\":\"tar\""));
	op_diags d = {0};
	op_app *b = NULL;
	T_EQ_INT(op_manifest_from_json("kv/app", j, n, &b, &d), 0);
	T_REQUIRE(b);
	T_EQ_INT(b->comps[0].artifact.mode, 0644);
	T_EQ_INT(b->comps[0].artifact.unpack, OP_UNPACK_TAR);
	op_app_free(b);

	char *num = strstr(j, "\"0644\"");
	T_REQUIRE(num);
	memcpy(num, " 420  ", 6); /* "mode": 420 */
	b = (op_app *)1;
	T_EQ_INT(op_manifest_from_json("kv/app", j, n, &b, &d), OP_EINVAL);
	T_CHECK(b == NULL);
	const op_diag *g = find_path(&d, CP ".artifact.mode");
	T_CHECK(g && strstr(g->msg, "quoted octal string"));
	op_diags_clear(&d);
	free(j);
	op_app_free(a);
}

/* The fence: absent, nothing of it is in the canonical JSON (the minimal digest did not
 * move when it came) and the umask is the default; given, each part is read, written in
 * one form (sizes in bytes, the umask as 4 octal digits) and read back the same. */
static void test_fence(void)
{
	op_app *a = parse_ok(HDR COMP);
	T_REQUIRE(a);
	const op_fence *f = &a->comps[0].fence;
	T_CHECK(!f->user && !f->group && !f->has_umask);
	T_EQ_INT(f->umask, OP_UMASK_DEFAULT);
	T_EQ_INT(f->memory, 0);
	T_EQ_INT(f->open_files, 0);
	T_EQ_INT(f->processes, 0);
	op_app_free(a);

	const char *full = HDR COMP
		"        user: nobody\n        group: 65534\n"
		"        umask: \"0027\"\n"
		"        limits: {memory: 64Mi, open_files: 256, processes: 32}\n";
	a = parse_ok(full);
	T_REQUIRE(a);
	f = &a->comps[0].fence;
	T_EQ_STR(f->user, "nobody");
	T_EQ_STR(f->group, "65534");
	T_CHECK(f->has_umask);
	T_EQ_INT(f->umask, 027);
	T_EQ_INT(f->memory, 64LL << 20);
	T_EQ_INT(f->open_files, 256);
	T_EQ_INT(f->processes, 32);
	char *j = NULL;
	size_t n = 0;
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_CHECK_MSG(strstr(j,
			    "\"limits\":{\"memory\":67108864,\"open_files\":256,"
			    "\"processes\":32}"),
		"%s", j);
	T_CHECK(strstr(j, "\"umask\":\"0027\"") && strstr(j, "\"user\":\"nobody\"") &&
		strstr(j, "\"group\":\"65534\""));
	op_diags d = {0};
	op_app *b = NULL;
	T_EQ_INT(op_manifest_from_json("kv/app", j, n, &b, &d), 0);
	T_REQUIRE(b);
	char *j2 = NULL;
	size_t n2 = 0;
	T_EQ_INT(op_manifest_to_json(b, &j2, &n2), 0);
	T_EQ_STR(j2, j);
	op_app_free(b);
	free(j2);
	free(j);
	op_app_free(a);

	/* Units: decimal and binary, and plain bytes; a umask of 3 digits. */
	static const struct {
		const char *mem;
		long long want;
	} sizes[] = {{"1Mi", 1LL << 20}, {"2M", 2000000}, {"1G", 1000000000}, {"3Gi", 3LL << 30},
		{"1Ti", 1LL << 40}, {"5000000", 5000000}, {"1024Ki", 1LL << 20}};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		char y[1024];
		snprintf(y, sizeof y,
			HDR COMP "        umask: \"077\"\n        limits: {memory: %s}\n",
			sizes[i].mem);
		a = parse_ok(y);
		T_REQUIRE(a);
		T_EQ_INT(a->comps[0].fence.memory, sizes[i].want);
		T_EQ_INT(a->comps[0].fence.umask, 077);
		op_app_free(a);
	}
}

/* type wasm: module and path are the component's artifact (one digest for every arch,
 * mode 0644), dirs in order; the canonical JSON writes module, path and dirs back (not
 * an artifact, not a command) and reads the same model back. */
static void test_wasm(void)
{
	op_app *a = parse_ok(
		HDR WASM "        args: [--n, \"3\"]\n"
			 "        dirs: [{guest: /data, host: /var/lib/t}, {guest: /etc/t, "
			 "host: /etc/t, readonly: true}]\n"
			 "        limits: {memory: 16Mi, cpu_time: 30s}\n");
	T_REQUIRE(a);
	const op_component *c = &a->comps[0];
	T_EQ_INT(c->type, OP_COMP_WASM);
	T_CHECK(c->command == NULL && c->workdir == NULL);
	T_CHECK(c->has_artifact);
	T_EQ_STR(c->artifact.path, "/m.wasm");
	T_EQ_STR(c->artifact.sha256, HEX);
	T_EQ_INT(c->artifact.mode, 0644);
	T_EQ_INT(c->ndirs, 2);
	T_EQ_STR(c->dirs[0].guest, "/data");
	T_EQ_STR(c->dirs[0].host, "/var/lib/t");
	T_CHECK(!c->dirs[0].readonly && c->dirs[1].readonly);
	T_EQ_INT(c->fence.memory, 16 << 20);
	T_EQ_INT(c->fence.cpu_time_ms, 30000);
	T_EQ_STR(op_comp_type_name(c->type), "wasm");
	char *j = NULL;
	size_t n = 0;
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_CHECK_MSG(strstr(j, "\"module\":\"sha256:" HEX "\",\"path\":\"/m.wasm\"") &&
			strstr(j, "\"type\":\"wasm\"") &&
			strstr(j,
				"\"dirs\":[{\"guest\":\"/data\",\"host\":\"/var/lib/t\"},"
				"{\"guest\":\"/etc/t\",\"host\":\"/etc/t\",\"readonly\":true}]") &&
			strstr(j, "\"limits\":{\"cpu_time\":\"30s\",\"memory\":16777216}") &&
			!strstr(j, "artifact") && !strstr(j, "command"),
		"%s", j);
	op_diags d = {0};
	op_app *b = NULL;
	T_EQ_INT(op_manifest_from_json("kv/app", j, n, &b, &d), 0);
	T_REQUIRE(b);
	char *j2 = NULL;
	T_EQ_INT(op_manifest_to_json(b, &j2, &n), 0);
	T_EQ_STR(j2, j);
	T_EQ_INT(b->comps[0].type, OP_COMP_WASM);
	op_app_free(b);
	free(j2);
	free(j);
	op_app_free(a);
}

/* health and min_ready: defaults filled in the model; in the canonical JSON the whole
 * check is written once it is there, min_ready only off its default (the minimal digest
 * above did not move when they came); a timeout left out is the interval when that is
 * shorter than 1s. */
static void test_health_defaults(void)
{
	op_app *a = parse_ok(HEALTH "          tcp: {port: 80}\n");
	T_REQUIRE(a);
	const op_component *c = &a->comps[0];
	T_CHECK(c->has_health);
	T_EQ_INT(c->health.probe, OP_PROBE_TCP);
	T_EQ_INT(c->health.port, 80);
	T_EQ_INT(c->health.interval_ms, 10000);
	T_EQ_INT(c->health.timeout_ms, 1000);
	T_EQ_INT(c->health.failures, 3);
	T_EQ_INT(c->health.start_period_ms, 0);
	T_EQ_INT(c->min_ready_ms, 5000);
	char *j;
	size_t n;
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_CHECK(strstr(j,
		",\"health\":{\"failures\":3,\"interval\":\"10s\",\"start_period\":"
		"\"0s\",\"tcp\":{\"port\":80},\"timeout\":\"1s\"},\"restart\""));
	T_CHECK(!strstr(j, "min_ready"));
	free(j);
	op_app_free(a);

	a = parse_ok(HEALTH "          http: {port: 8080}\n          interval: 300ms\n"
			    "        min_ready: 5000ms\n");
	T_REQUIRE(a);
	c = &a->comps[0];
	T_EQ_STR(c->health.path, "/");
	T_EQ_INT(c->health.interval_ms, 300);
	T_EQ_INT(c->health.timeout_ms, 300);
	T_EQ_INT(c->min_ready_ms, 5000);
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_CHECK(strstr(j, "\"http\":{\"path\":\"/\",\"port\":8080}"));
	T_CHECK(strstr(j, "\"interval\":\"300ms\"") && strstr(j, "\"timeout\":\"300ms\""));
	T_CHECK(!strstr(j, "min_ready")); /* 5000ms is the default */
	free(j);
	op_app_free(a);

	a = parse_ok(HDR COMP "        min_ready: 120s\n");
	T_REQUIRE(a);
	T_CHECK(!a->comps[0].has_health);
	T_EQ_INT(a->comps[0].min_ready_ms, 120000);
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_CHECK(strstr(j, "\"min_ready\":\"2m\"") && !strstr(j, "health"));
	free(j);

	/* The deep-equality helper sees the health fields. */
	op_app *b = parse_ok(HDR COMP "        min_ready: 2m\n");
	T_REQUIRE(b);
	T_CHECK(app_eq(a, b));
	b->comps[0].min_ready_ms = 1;
	T_CHECK(!app_eq(a, b) && strstr(why, "min_ready"));
	b->comps[0].min_ready_ms = a->comps[0].min_ready_ms;
	b->comps[0].has_health = true;
	T_CHECK(!app_eq(a, b) && strstr(why, "has_health"));
	op_app_free(b);
	op_app_free(a);
}

/* Key order and layout in YAML do not change the bytes, so not the digest either. */
static void test_key_order_irrelevant(void)
{
	static const char reordered[] = "spec:\n"
					"  components:\n"
					"    - traits: []\n"
					"      properties:\n"
					"        env: {B: '2', A: \"1\"}\n"
					"        rollout: start-first\n"
					"        command: /bin/c\n"
					"      type: process\n"
					"      name: c\n"
					"metadata: {name: app}\n"
					"kind: Application\n"
					"# a comment\n"
					"apiVersion: \"core.oam.dev/v1beta1\"\n";
	static const char ordered[] = HDR COMP "        env: {A: 1, B: 2}\n";
	size_t n1, n2;
	char *j1 = json_of(reordered, &n1), *j2 = json_of(ordered, &n2);
	T_REQUIRE(j1 && j2);
	T_EQ_STR(j1, j2);
	char d1[OP_DIGEST_LEN + 1], d2[OP_DIGEST_LEN + 1];
	op_digest(j1, n1, d1);
	op_digest(j2, n2, d2);
	T_EQ_STR(d1, d2);
	free(j1);
	free(j2);

	/* And a different spec gives different bytes. */
	j1 = json_of(HDR COMP "        env: {A: 1, B: 3}\n", &n1);
	T_REQUIRE(j1);
	op_digest(j1, n1, d1);
	T_CHECK(strcmp(d1, d2) != 0);
	free(j1);
}

/* JSON that is not canonical in layout but equivalent reads back to the same bytes. */
static void test_json_equivalent_layout(void)
{
	static const char pretty[] =
		"{\n  \"spec\": {\"policies\": [], \"components\": [{\"type\": \"process\",\n"
		"  \"traits\": [{\"type\": \"spreadscaler\", \"properties\": {\"spread\": [],\n"
		"  \"instances\": 1}}], \"properties\": {\"rollout\": \"start-first\", "
		"\"restart\":\n"
		"  \"always\", \"env\": {}, \"command\": \"/bin/c\", \"args\": []}, \"name\": "
		"\"c\"}]},\n"
		"  \"metadata\": {\"name\": \"app\", \"annotations\": {}},\n"
		"  \"kind\": \"Application\", \"format\": 1, \"apiVersion\": "
		"\"core.oam.dev/v1beta1\"\n}\n";
	op_diags d = {0};
	op_app *a;
	T_EQ_INT(op_manifest_from_json("kv", pretty, sizeof pretty - 1, &a, &d), 0);
	print_diags(&d);
	T_REQUIRE(a);
	char *j;
	size_t n;
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_EQ_STR(j, minimal_json);
	free(j);
	op_app_free(a);
	op_diags_clear(&d);

	/* Defaults may be left out of JSON as of YAML. */
	static const char sparse[] =
		"{\"format\":1,\"apiVersion\":\"core.oam.dev/v1beta1\",\"kind\":\"Application\","
		"\"metadata\":{\"name\":\"app\"},\"spec\":{\"components\":[{\"name\":\"c\","
		"\"type\":\"process\",\"properties\":{\"command\":\"/bin/c\"}}]}}";
	T_EQ_INT(op_manifest_from_json("kv", sparse, sizeof sparse - 1, &a, &d), 0);
	T_REQUIRE(a);
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	T_EQ_STR(j, minimal_json);
	free(j);
	op_app_free(a);
	op_diags_clear(&d);
}

/* minimal_json with the first `from` replaced by `to`. */
static char *json_edit(const char *from, const char *to)
{
	const char *at = strstr(minimal_json, from);
	if (!at)
		return NULL;
	size_t n = strlen(minimal_json) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%.*s%s%s", (int)(at - minimal_json), minimal_json, to,
			at + strlen(from));
	return s;
}

struct bad_json {
	const char *from, *to;
	const char *path, *msg;
};

static void test_json_refused(void)
{
	static const struct bad_json bj[] = {
		{"\"format\":1", "\"format\":2", "format",
			"unknown format 2 (this outpost reads format 1)"},
		{"\"format\":1", "\"format\":0", "format", "unknown format 0"},
		{"\"format\":1", "\"format\":\"1\"", "format", "unknown format 1"},
		{"\"format\":1", "\"format\":1.0", "format", "unknown format 1.0"},
		{"\"format\":1,", "", "format", "missing required field"},
		{"\"format\":1", "\"format\":1,\"extra\":true", "extra", "unknown field"},
		{"\"env\":{}", "\"env\":{},\"owner\":\"root\"", CP ".owner", "unknown field"},
		{"\"instances\":1", "\"instances\":\"1\"", TP ".instances", "got the string \"1\""},
		{"\"instances\":1", "\"instances\":1.0", TP ".instances", "got a float"},
		{"\"instances\":1", "\"instances\":1e3", TP ".instances", "got a float"},
		{"\"instances\":1", "\"instances\":null", TP ".instances", "got null"},
		{"\"instances\":1", "\"instances\":true", TP ".instances", "got a boolean"},
		{"\"args\":[]", "\"args\":{}", CP ".args", "expected a list of strings"},
		{"\"command\":\"/bin/c\"", "\"command\":\"bin/c\"", CP ".command", "absolute path"},
		{"\"name\":\"app\"", "\"name\":\"App\"", "metadata.name", "expected an app name"},
		{"\"format\":1", "\"format\":1,\"format\":1", "(document)",
			"JSON syntax error: duplicate object key"},
		{"}}", "}", "(document)", "JSON syntax error"},
	};
	for (size_t i = 0; i < sizeof bj / sizeof bj[0]; i++) {
		char *s = json_edit(bj[i].from, bj[i].to);
		T_REQUIRE(s);
		op_diags d = {0};
		op_app *a = (op_app *)1;
		int rc = op_manifest_from_json("kv/app", s, strlen(s), &a, &d);
		const op_diag *g = find_path(&d, bj[i].path);
		bool ok = rc == OP_EINVAL && a == NULL && g && strstr(g->msg, bj[i].msg) &&
			!strcmp(g->file, "kv/app");
		T_CHECK_MSG(
			ok, "json row %zu: want %s: ...%s...; rc %d", i, bj[i].path, bj[i].msg, rc);
		if (!ok)
			print_diags(&d);
		op_app_free(rc == 0 ? a : NULL);
		op_diags_clear(&d);
		free(s);
	}
	/* Canonical JSON with its format read back is fine; YAML may not carry a format. */
	op_diags d = {0};
	op_app *a;
	T_EQ_INT(op_manifest_from_json("kv", minimal_json, strlen(minimal_json), &a, &d), 0);
	op_app_free(a);
	T_EQ_INT(op_manifest_parse(
			 "y", HDR COMP "format: 1\n", sizeof(HDR COMP "format: 1\n") - 1, &a, &d),
		OP_EINVAL);
	op_app_free(a);
	T_CHECK(find_path(&d, "format") != NULL);
	op_diags_clear(&d);
}

static void test_load_errors(void)
{
	op_diags d = {0};
	op_app *a = (op_app *)1;
	T_EQ_INT(op_manifest_load("tests/data/manifests/does-not-exist.yaml", "shown.yaml", &a, &d),
		OP_EIO);
	T_CHECK(a == NULL);
	T_REQUIRE(d.n == 1);
	T_EQ_STR(d.v[0].file, "shown.yaml");
	T_CHECK(strstr(d.v[0].msg, "cannot open") != NULL);
	op_diags_clear(&d);
}

static void test_kind_helpers(void)
{
	T_EQ_STR(op_restart_name(OP_RESTART_ON_FAILURE), "on-failure");
	T_EQ_STR(op_rollout_name(OP_ROLLOUT_STOP_FIRST), "stop-first");
	T_EQ_STR(op_scaler_name(OP_SCALER_DAEMON), "daemonscaler");
	op_kvs empty = {0};
	T_CHECK(op_kvs_get(&empty, "x") == NULL);
	op_app_free(NULL);
}

/* A UTF-8 byte order mark is skipped: the same file without it gives the same app and
 * the same positions. */
static void test_bom(void)
{
	const char y[] =
		"\xEF\xBB\xBF"
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		"  name: Bad_Name\nspec:\n  components:\n    - name: a\n      type: process\n"
		"      properties: {command: /bin/true}\n";
	op_app *app = NULL;
	op_diags d = {0};
	T_EQ_INT(op_manifest_parse("bom.yaml", y, sizeof y - 1, &app, &d), OP_EINVAL);
	T_REQUIRE(d.n == 1);
	T_EQ_INT(d.v[0].line, 4);
	T_EQ_INT(d.v[0].col, 9);
	T_EQ_STR(d.v[0].path, "metadata.name");
	op_diags_clear(&d);
}

int main(void)
{
	T_RUN(test_invalid_table);
	T_RUN(test_bom);
	T_RUN(test_all_errors_in_one_run);
	T_RUN(test_diag_cap);
	T_RUN(test_duplicates_behind_unknown_keys);
	T_RUN(test_too_many_components);
	T_RUN(test_name_rules);
	T_RUN(test_examples);
	T_RUN(test_defaults);
	T_RUN(test_env_scalars_as_text);
	T_RUN(test_anchors);
	T_RUN(test_merge_keys);
	T_RUN(test_deep_equal_helper);
	T_RUN(test_round_trips);
	T_RUN(test_canonical_bytes);
	T_RUN(test_artifact_mode_unpack);
	T_RUN(test_health_defaults);
	T_RUN(test_fence);
	T_RUN(test_wasm);
	T_RUN(test_key_order_irrelevant);
	T_RUN(test_json_equivalent_layout);
	T_RUN(test_json_refused);
	T_RUN(test_load_errors);
	T_RUN(test_kind_helpers);
	return t_done();
}
