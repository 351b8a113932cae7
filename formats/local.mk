# Model formats, compiled into libmof: ONNX through protobuf-c code generated at build
# time from the schema configure found (never committed).
libmof_la_SOURCES += \
	formats/onnx/onnx_load.c formats/onnx/onnx_save.c formats/onnx/onnx_private.h \
	formats/tensor_file.c
nodist_libmof_la_SOURCES += formats/onnx/onnx.pb-c.c formats/onnx/onnx.pb-c.h

# protoc-c names its output after the .proto file, so copy the schema under that name
# first (the configured one may be called otherwise). One rule makes both files: the
# .c is the target, the .h follows it (a rule with two targets runs twice under -j,
# and one run read the schema while the other was copying it).
formats/onnx/onnx.pb-c.c: $(ONNX_PROTO)
	$(AM_V_GEN)$(MKDIR_P) formats/onnx/proto && \
	cp $(ONNX_PROTO) formats/onnx/proto/onnx.proto.tmp && \
	mv formats/onnx/proto/onnx.proto.tmp formats/onnx/proto/onnx.proto && \
	$(PROTOC_C) --proto_path=formats/onnx/proto --c_out=formats/onnx \
	  formats/onnx/proto/onnx.proto
formats/onnx/onnx.pb-c.h: formats/onnx/onnx.pb-c.c
	@if test ! -f $@; then \
	  rm -f formats/onnx/onnx.pb-c.c; \
	  $(MAKE) $(AM_MAKEFLAGS) formats/onnx/onnx.pb-c.c; \
	else :; fi
BUILT_SOURCES += formats/onnx/onnx.pb-c.c formats/onnx/onnx.pb-c.h
CLEANFILES += formats/onnx/onnx.pb-c.c formats/onnx/onnx.pb-c.h formats/onnx/proto/onnx.proto \
	formats/onnx/proto/onnx.proto.tmp

# The ONNX textual syntax (onnx.parser / onnx.printer): printer, parser and .onnxtxt
# files; the SDK header is core/include/mof/text.h.
libmof_la_SOURCES += \
	formats/text/onnx_text.c formats/text/onnx_text.h formats/text/load_text.c
