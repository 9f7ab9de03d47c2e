/* Compiles the http_json plugin's pure sources (mapping, pointers, times, config) into the tests:
 * the plugin itself is a .so that exports only its descriptor. */
#include "../../../collectors/common/plugin_config.c"
#include "../../../collectors/http_json/hj_config.c"
#include "../../../collectors/http_json/hj_emit.c"
#include "../../../collectors/http_json/hj_map.c"
#include "../../../collectors/http_json/hj_map_config.c"
#include "../../../collectors/http_json/hj_ngsi.c"
#include "../../../collectors/http_json/hj_pointer.c"
#include "../../../collectors/http_json/hj_time.c"
