# Backend plugins, one module per target.
pkgplugin_LTLIBRARIES += plugins/onnx/onnx.la
plugins_onnx_onnx_la_SOURCES = plugins/onnx/onnx_backend.c
plugins_onnx_onnx_la_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS)
plugins_onnx_onnx_la_LIBADD = libmof.la
MOF_UNINSTALLED_PLUGIN_DIRS += $(abs_top_builddir)/plugins/onnx/.libs

include plugins/cpu/local.mk
