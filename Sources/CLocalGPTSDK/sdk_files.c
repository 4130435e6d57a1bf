/*
 * sdk_files.c -- the contents of the files `localgpt plugin sdk` writes (lgpt_sdk_files.h).
 *
 * Each file is embedded from the repository with #embed (C23; the Swift toolchain's clang has it), so
 * the exported headers are always the ones this binary was built against. Paths are relative to this file.
 */
#include "lgpt_sdk_files.h"

#ifndef __has_embed
#error "sdk_files.c needs a C compiler with #embed (the Swift toolchain's clang)"
#endif

#pragma clang diagnostic ignored "-Wc23-extensions"

static const unsigned char plugin_h[] = {
#embed "../CLocalGPTPlugin/include/lgpt_plugin.h"
};

static const unsigned char host_files_h[] = {
#embed "../CLocalGPTPlugin/include/lgpt_host_files.h"
};

static const unsigned char module_map[] = {
#embed "../CLocalGPTPlugin/include/module.modulemap"
};

static const unsigned char package_swift[] = {
#embed "template/Package.swift"
};

static const unsigned char hello_plugin_swift[] = {
#embed "template/Sources/HelloPlugin/HelloPlugin.swift"
};

static const lgpt_sdk_file files[] = {
    {"include/lgpt_plugin.h", plugin_h, sizeof plugin_h, 0},
    {"include/lgpt_host_files.h", host_files_h, sizeof host_files_h, 0},
    {"include/module.modulemap", module_map, sizeof module_map, 0},
    {"Package.swift", package_swift, sizeof package_swift, 1},
    {"Sources/HelloPlugin/HelloPlugin.swift", hello_plugin_swift, sizeof hello_plugin_swift, 1},
};

size_t lgpt_sdk_file_count(void) { return sizeof files / sizeof files[0]; }

const lgpt_sdk_file *lgpt_sdk_file_at(size_t index) { return index < lgpt_sdk_file_count() ? &files[index] : NULL; }
