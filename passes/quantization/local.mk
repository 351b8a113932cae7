# The quantization plugin: quantize-static, quantize-dynamic, quantize-weights.
pkgplugin_LTLIBRARIES += passes/quantization/quantization.la
passes_quantization_quantization_la_SOURCES = passes/quantization/plugin.c \
	passes/quantization/quant.h passes/quantization/qmath.h passes/quantization/qmath.c \
	passes/quantization/qutil.h passes/quantization/qutil.c \
	passes/quantization/calib.h passes/quantization/calib.c \
	passes/quantization/static.c passes/quantization/dynamic.c passes/quantization/weights.c
passes_quantization_quantization_la_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS)
passes_quantization_quantization_la_LIBADD = libmof.la -lm
MOF_UNINSTALLED_PLUGIN_DIRS += $(abs_top_builddir)/passes/quantization/.libs
