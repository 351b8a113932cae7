/* util.h: small helpers shared inside libmof (not part of the SDK). */
#ifndef MOF_UTIL_H
#define MOF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mof/common.h>

/* Marks libmof's internal functions: visible inside the library only. */
#define MOF_INTERNAL __attribute__((visibility("hidden")))

/* An internal invariant; failing it reports an internal error and aborts. Never used
 * for bad input. */
#define MOF_ASSERT(cond)                                                                   \
    ((cond) ? (void)0 : mof_internal_error(__FILE__, __LINE__, #cond))
MOF_INTERNAL _Noreturn void mof_internal_error(const char *file, int line, const char *what);

/* malloc-family wrappers; they return NULL on failure like the originals, and check
 * multiplication overflow. */
MOF_INTERNAL void *mof_malloc(size_t size);
MOF_INTERNAL void *mof_calloc(size_t n, size_t size);
MOF_INTERNAL void *mof_reallocarray(void *p, size_t n, size_t size);
MOF_INTERNAL char *mof_strdup(const char *s);       /* NULL in, NULL out */
MOF_INTERNAL char *mof_strndup(const char *s, size_t n);
/* printf into a new string; NULL when out of memory. */
MOF_INTERNAL char *mof_asprintf(const char *fmt, ...) MOF_PRINTF(1, 2);
MOF_INTERNAL char *mof_vasprintf(const char *fmt, va_list ap);
/* Both NULL, or equal strings. */
MOF_INTERNAL bool mof_str_eq(const char *a, const char *b);

/* Grows an array (*items, with *cap slots) to hold at least `need` items of `size`
 * bytes. Returns false when out of memory (the array is unchanged). */
MOF_INTERNAL bool mof_grow(void **items, size_t *cap, size_t need, size_t size);
#define MOF_GROW(items, cap, need) mof_grow((void **)&(items), &(cap), (need), sizeof(*(items)))

/* A growable string. */
typedef struct mof_strbuf {
    char *data;
    size_t len, cap;
    bool failed;   /* an allocation failed; data holds what fitted */
} mof_strbuf;
MOF_INTERNAL void mof_strbuf_init(mof_strbuf *sb);
MOF_INTERNAL void mof_strbuf_append(mof_strbuf *sb, const char *s, size_t n);
MOF_INTERNAL void mof_strbuf_puts(mof_strbuf *sb, const char *s);
MOF_INTERNAL void mof_strbuf_printf(mof_strbuf *sb, const char *fmt, ...) MOF_PRINTF(2, 3);
/* Returns the string (owned by the caller) or NULL if an allocation failed. */
MOF_INTERNAL char *mof_strbuf_take(mof_strbuf *sb);
MOF_INTERNAL void mof_strbuf_free(mof_strbuf *sb);

/* A string -> pointer hash map for name lookup. Never iterated (output order must not
 * depend on hashing); keys are borrowed and must outlive their entries. */
typedef struct mof_map {
    struct mof_map_slot *slots;
    size_t cap, count, tombs;
} mof_map;
MOF_INTERNAL void mof_map_init(mof_map *m);
MOF_INTERNAL void mof_map_free(mof_map *m);
MOF_INTERNAL void *mof_map_get(const mof_map *m, const char *key);
/* Inserts or replaces. Returns false when out of memory. */
MOF_INTERNAL bool mof_map_put(mof_map *m, const char *key, void *value);
MOF_INTERNAL void mof_map_remove(mof_map *m, const char *key);

/* Levenshtein distance, capped at `cap` (returns cap when the distance is larger). */
MOF_INTERNAL size_t mof_edit_distance(const char *a, const char *b, size_t cap);

#endif
