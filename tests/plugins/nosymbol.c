/* A shared object that is not a collector: it lacks the `ioc_collector` descriptor. */
__attribute__((visibility("default"))) int not_a_collector = 1;
