/* ir_match.c: the chain matcher passes use to find patterns such as
 * Conv -> BatchNormalization -> Relu, with the single-use checks that make a fusion
 * legal, and a reason when a match fails (for --explain). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ir_private.h"

/* Records why the match stopped (when asked) and fails. */
#define FAIL(matched_, at_, ...)                                                           \
    do {                                                                                   \
        if (why) {                                                                         \
            why->matched = (matched_);                                                     \
            why->at = (at_);                                                               \
            snprintf(why->reason, sizeof(why->reason), __VA_ARGS__);                       \
        }                                                                                  \
        return false;                                                                      \
    } while (0)

static bool is_op(const mof_node *n, const char *op)
{
    return strcmp(mof_node_op_type(n), op) == 0 && !*mof_node_domain(n);
}

bool mof_match_chain(const mof_node *last, size_t n_ops, const char *const *ops,
                     mof_node **nodes, mof_match_failure *why)
{
    if (!n_ops)
        FAIL(0, last, "empty pattern");
    const mof_node *cur = last;
    for (size_t k = n_ops; k-- > 0;) {
        size_t matched = n_ops - 1 - k;
        if (!is_op(cur, ops[k]))
            FAIL(matched, cur, "expected %s, found %s", ops[k], mof_node_op_type(cur));
        nodes[k] = (mof_node *)cur;
        if (k == 0)
            break;
        const mof_value *in = mof_node_input(cur, 0);
        if (!in)
            FAIL(matched + 1, cur, "%s has no input 0", ops[k]);
        const mof_node *prev = mof_value_producer(in, NULL);
        if (!prev || mof_node_graph(prev) != mof_node_graph(cur))
            FAIL(matched + 1, cur, "input '%s' of %s is not produced by a node",
                 mof_value_name(in), ops[k]);
        if (mof_value_is_graph_output(in))
            FAIL(matched + 1, prev, "%s output '%s' is a graph output", ops[k - 1],
                 mof_value_name(in));
        if (mof_value_n_uses(in) != 1)
            FAIL(matched + 1, prev, "%s output '%s' has %zu uses", ops[k - 1],
                 mof_value_name(in), mof_value_n_uses(in));
        cur = prev;
    }
    return true;
}
