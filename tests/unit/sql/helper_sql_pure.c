/* The sql plugin's pure parts (cell parsing), compiled into the tests: the plugin itself is a
 * shared object that exports only its descriptor. */
#include "../../../collectors/sql/sql_value.c"
