/* The probe plugin's pure parts (targets, config), compiled into the tests: the plugin itself is
 * a shared object that exports only its descriptor. */
#include "../../../collectors/probe/probe_target.c"
#include "../../../collectors/common/plugin_config.c"
#include "../../../collectors/probe/probe_config.c"
