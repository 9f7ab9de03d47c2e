/* The fake collector host of the sql tests, shared: one copy of the code for both plugins. */
#include "../sql/helper_fakehost.c"
