# oneDNN provider fragment (kernels=onednn): the provider compiled into the cpu plugin,
# and the runtime files it copies into artifacts (which link -ldnnl -lgomp; the plugin
# itself does not link oneDNN).
plugins_cpu_cpu_la_SOURCES += plugins/cpu/provider_onednn.c
CPU_RUNTIME_FILES += \
	plugins/cpu/runtime/mofrt_onednn.h plugins/cpu/runtime/mofrt_onednn.c
