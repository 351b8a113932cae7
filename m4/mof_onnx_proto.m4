# MOF_WITH_ONNX_PROTO
# -------------------
# Find the ONNX protobuf schema that Debian's libonnx-dev installs, or take the
# one named by --with-onnx-proto=PATH, and substitute ONNX_PROTO with its path.
AC_DEFUN([MOF_WITH_ONNX_PROTO], [
  AC_ARG_WITH([onnx-proto],
    [AS_HELP_STRING([--with-onnx-proto=PATH],
      [the ONNX schema (onnx.proto) to generate the loader from @<:@default: /usr/include/onnx/onnx.proto@:>@])],
    [ONNX_PROTO="$withval"], [ONNX_PROTO=""])
  AC_MSG_CHECKING([for the ONNX schema])
  AS_IF([test -z "$ONNX_PROTO"], [
    for mof_p in /usr/include/onnx/onnx.proto /usr/local/include/onnx/onnx.proto; do
      AS_IF([test -f "$mof_p"], [ONNX_PROTO="$mof_p"; break])
    done
  ])
  AS_IF([test -n "$ONNX_PROTO" && test -f "$ONNX_PROTO"],
    [AC_MSG_RESULT([$ONNX_PROTO])],
    [AC_MSG_RESULT([no])
     AC_MSG_ERROR([the ONNX schema onnx.proto was not found: install the Debian package libonnx-dev, or pass --with-onnx-proto=PATH])])
  AS_IF([grep -q 'message ModelProto' "$ONNX_PROTO"], [],
    [AC_MSG_ERROR([$ONNX_PROTO does not look like the ONNX schema (no ModelProto)])])
  AC_SUBST([ONNX_PROTO])
])
