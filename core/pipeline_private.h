/* pipeline_private.h: the parsed form of a pipeline, shared by the parser
 * (pipeline.c) and the pass manager (passmgr.c). Internal to libmof.
 *
 * A pipeline is a list of steps, each a pass, a <repeat> holding more steps, or a
 * backend (backends are kept apart and always run after the passes), plus the input
 * shape pins. Every step remembers where it was written (file:line, and the column for
 * the one-line form) so that run-time messages can point back at it. Names and
 * descriptors are resolved at load time; a pipeline that loaded is valid. */
#ifndef MOF_PIPELINE_PRIVATE_H
#define MOF_PIPELINE_PRIVATE_H

#include <mof/pipeline.h>
#include <mof/plugin.h>

#include "params.h"
#include "sha256.h"
#include "util.h"

/* 16 iterations when <repeat> gives no max. */
#define MOF_REPEAT_DEFAULT_MAX 16u

typedef enum mof_step_kind {
    MOF_STEP_PASS = 1,
    MOF_STEP_REPEAT = 2,
    MOF_STEP_BACKEND = 3,
} mof_step_kind;

/* One parameter as written; the strings are owned by the step. */
typedef struct mof_step_param {
    char *name;
    char *value;
    unsigned line, column;
} mof_step_param;

typedef struct mof_step {
    mof_step_kind kind;
    unsigned line, column;          /* where the element (or list item) starts */
    char *name;                     /* pass or backend name; NULL for repeat */
    /* Resolved at load (borrowed from the context's plugins): */
    const mof_pass_desc *pass;
    const mof_backend_desc *backend;
    size_t plugin_index;            /* mof_context_plugin() index of its plugin */
    mof_step_param *params;
    size_t n_params, cap_params;
    char *output;                   /* backend: the output attribute, NULL: default */
    unsigned max_iterations;        /* repeat */
    struct mof_step *body;          /* repeat: the steps inside */
    size_t n_body, cap_body;
} mof_step;

/* A pinned input shape: every dim a number (rank 0 is a scalar). */
typedef struct mof_input_pin {
    char *name;
    size_t rank;
    int64_t *dims;
    unsigned line;                  /* 0 when it came from mof_pipeline_set_input_shape */
} mof_input_pin;

struct mof_pipeline {
    mof_context *ctx;
    char *file;                     /* the file name used in messages */
    char *name;
    char hash[MOF_SHA256_HEX_SIZE];
    bool record_metadata;           /* record-metadata="false" turns it off */
    mof_step *steps;                /* passes and repeats, in order */
    size_t n_steps, cap_steps;
    mof_step *backends;
    size_t n_backends, cap_backends;
    mof_input_pin *inputs;
    size_t n_inputs, cap_inputs;
};

/* The file name the pipeline's messages use ("<passes>" for a one-line list). */
MOF_INTERNAL const char *mof_pipeline_file(const mof_pipeline *p);

/* The input shape pins, in the order written (borrowed; valid until the pipeline is
 * changed or destroyed). */
MOF_INTERNAL size_t mof_pipeline_n_input_shapes(const mof_pipeline *p);
MOF_INTERNAL const mof_input_pin *mof_pipeline_input_shape(const mof_pipeline *p, size_t i);

/* Applies the pins to the model's graph inputs: each pin must name a graph input whose
 * rank, when known, matches and whose numeric dims agree; symbolic and unknown dims
 * are replaced. Reports every mismatch; returns MOF_OK or MOF_ERR_INVALID_ARG. */
MOF_INTERNAL mof_status mof_pipeline_apply_input_shapes(const mof_pipeline *p,
                                                        mof_model *model);

/* The step's parameters as arguments for params.c (loc.file is the pipeline's file).
 * Returns a malloc'ed array (NULL when out of memory or when there are none: check
 * n_params). */
MOF_INTERNAL mof_param_arg *mof_step_param_args(const mof_pipeline *p, const mof_step *s);

/* Who owns a step's parameters, for messages: "pass 'x'" at the step's location. */
MOF_INTERNAL mof_param_owner mof_step_owner(const mof_pipeline *p, const mof_step *s);

#endif
