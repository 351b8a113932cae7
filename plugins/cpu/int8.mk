# int8 fragment of the cpu backend (see plugins/cpu/DESIGN.md): the QDQ lowering
# (qdq.c), the int8 provider (emit_int8.c) and the integer runtime kernels copied
# into artifacts (runtime/mofrt_int8.{h,c}).
plugins_cpu_cpu_la_SOURCES += plugins/cpu/qdq.h plugins/cpu/qdq.c plugins/cpu/emit_int8.c
CPU_RUNTIME_FILES += \
	plugins/cpu/runtime/mofrt_int8.h plugins/cpu/runtime/mofrt_int8.c
