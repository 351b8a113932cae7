# MOF_APPEND_CFLAGS(VARIABLE, FLAGS...)
# -------------------------------------
# Append to VARIABLE each flag of FLAGS that the C compiler accepts without a
# warning (checked with -Werror so that unknown flags are not taken silently).
AC_DEFUN([MOF_APPEND_CFLAGS], [
  for mof_flag in $2; do
    AS_VAR_PUSHDEF([mof_cache], [mof_cv_cflag_$mof_flag])
    AC_CACHE_CHECK([whether $CC accepts $mof_flag], [mof_cache], [
      mof_save_CFLAGS="$CFLAGS"
      CFLAGS="$CFLAGS -Werror $mof_flag"
      AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
        [AS_VAR_SET([mof_cache], [yes])], [AS_VAR_SET([mof_cache], [no])])
      CFLAGS="$mof_save_CFLAGS"
    ])
    AS_VAR_IF([mof_cache], [yes], [$1="${$1} $mof_flag"])
    AS_VAR_POPDEF([mof_cache])
  done
])
