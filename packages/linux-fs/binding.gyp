{
  "targets": [
    {
      "target_name": "linux_fs",
      "sources": ["native/addon.cc", "native/xattrs.cc", "native/errors.cc", "native/dirstats.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
