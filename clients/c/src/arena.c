/* arena.c: a list of allocations freed together, used while building a request. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *mc_alloc(mc_arena *arena, size_t size)
{
    if (arena->failed)
        return NULL;
    if (arena->n == arena->cap) {
        size_t cap = arena->cap ? arena->cap * 2 : 16;
        void **blocks = realloc(arena->blocks, cap * sizeof *blocks);
        if (!blocks) {
            arena->failed = 1;
            return NULL;
        }
        arena->blocks = blocks;
        arena->cap = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        arena->failed = 1;
        return NULL;
    }
    arena->blocks[arena->n++] = p;
    return p;
}

char *mc_str(mc_arena *arena, const char *text)
{
    if (!text || !*text)
        return (char *)protobuf_c_empty_string;
    size_t len = strlen(text);
    char *copy = mc_alloc(arena, len + 1);
    if (!copy)
        return (char *)protobuf_c_empty_string;
    memcpy(copy, text, len + 1);
    return copy;
}

void mc_arena_free(mc_arena *arena)
{
    for (size_t i = 0; i < arena->n; i++)
        free(arena->blocks[i]);
    free(arena->blocks);
    arena->blocks = NULL;
    arena->n = arena->cap = 0;
    arena->failed = 0;
}

char *mc_strdup(const char *text)
{
    if (!text)
        text = "";
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy)
        memcpy(copy, text, len + 1);
    return copy;
}
