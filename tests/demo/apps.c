/* The demo's two apps, as a person would write them. Each runs /bin/sleep with one
 * argument, <tag><app digit><version digit>: a number of seconds (years) that is unique
 * to the run, so procs.c finds exactly these processes and tells app and version apart. */
#include "demo.h"
#include "harness.h"

const char *demo_thermo_yaml(int instances, int ver)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\n"
		     "kind: Application\n"
		     "metadata:\n"
		     "  name: thermo\n"
		     "  annotations:\n"
		     "    version: v%d\n"
		     "    owner: process-engineering\n"
		     "spec:\n"
		     "  policies:\n"
		     "    - name: eu-plants\n"
		     "      type: placement\n"
		     "      properties:\n"
		     "        requirements: {region: eu}    # site labels\n"
		     "  components:\n"
		     "    - name: reader\n"
		     "      type: process\n"
		     "      properties:\n"
		     "        command: /bin/sleep           # stands in for /opt/thermo/reader\n"
		     "        args: [\"%s%d%d\"]             # the demo finds its processes by it\n"
		     "        env: {SENSOR_BUS: i2c-1, LOG_LEVEL: info}\n"
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
		ver, demo_tag, THERMO, ver, instances);
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
		     "              - requirements: {role: gateway}\n",
		GW_VER, demo_tag, GATEWAY, GW_VER);
}
