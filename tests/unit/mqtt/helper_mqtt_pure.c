/* The mqtt plugin's pure parts (topics, payloads, config), compiled into the tests: the plugin
 * itself is a shared object that exports only its descriptor. */
#include "../../../collectors/mqtt/mqtt_topic.c"
#include "../../../collectors/mqtt/mqtt_payload.c"
#include "../../../collectors/mqtt/mqtt_config.c"
