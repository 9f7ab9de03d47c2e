# iocd_collector(NAME sources...): builds collectors/<NAME> as <NAME>.so exporting only `ioc_collector`.
function(iocd_collector name)
  # collectors/common/: helpers every plugin compiles in (a plugin links no daemon code).
  add_library(collector_${name} MODULE ${ARGN} ${CMAKE_SOURCE_DIR}/collectors/common/plugin_config.c)
  set_target_properties(collector_${name} PROPERTIES
    PREFIX "" OUTPUT_NAME ${name}
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${IOCD_PLUGIN_BUILD_DIR})
  target_include_directories(collector_${name} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_link_libraries(collector_${name} PRIVATE PkgConfig::UV PkgConfig::CJSON)
  install(TARGETS collector_${name} LIBRARY DESTINATION ${IOCD_INSTALL_PLUGIN_DIR})
endfunction()
